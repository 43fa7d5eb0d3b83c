"""Ours against PyTorch in one run: the table of issue 15.

For each thread count and model, runs `cargo bench -p shift-nn --bench zoo` (every variant of
the model) and right after it `bench/torch_reference.py` for the same model, variants, thread
count and iterations, then prints one markdown table per thread count: ms per call, ours /
PyTorch, for the wall-clock median and for the process CPU time (all threads, user + system).
Below 1 is faster. Both sides run on random inputs with the same shapes and batch sizes.

usage: python3 bench/zoo_vs_torch.py --python /path/to/python-with-torch
           [--threads 1,2] [--models mnist_conv,resnet20,mobilenetv2,resnet18]
           [--variants float,Q,PS] [--iters mnist_conv=20,resnet20=5,...] [--json out.jsonl]
Run it from the workspace root on a machine with nothing else running (or under a lock that
keeps other benchmarks away); it builds the bench first.
"""
import argparse
import json
import os
import subprocess
import sys

DEFAULT_ITERS = {"mnist_linear": 20, "mnist_conv": 20, "resnet20": 5, "mobilenetv2": 2, "resnet18": 2}
STEPS = ("train_step", "infer")


def json_lines(text):
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                pass


def run(cmd, env):
    out = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed with {out.returncode}:\n{out.stdout[-4000:]}")
    return out.stdout


def ours(model, variants, threads, iters):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), ZOO_MODELS=model,
               ZOO_VARIANTS=",".join(variants), ZOO_ITERS=str(iters))
    rows = {}
    for r in json_lines(run(["cargo", "bench", "-q", "-p", "shift-nn", "--bench", "zoo"], env)):
        name = r.get("bench", "")
        parts = name.split("/")
        if len(parts) != 3:
            continue
        _, variant, step = parts
        step = step.rsplit("_b", 1)[0]
        rows[(variant, step)] = (r["ms"], r["cpu_ms"])
    return rows


def torch(python, model, variants, threads, iters):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    here = os.path.dirname(os.path.abspath(__file__))
    cmd = [python, os.path.join(here, "torch_reference.py"), "--models", model, "--variants",
           ",".join(variants), "--iters", str(iters), "--warmup", "1", "--threads", str(threads)]
    rows = {}
    for r in json_lines(run(cmd, env)):
        for step in STEPS:
            rows[(r["variant"], step)] = (r[f"{step}_ms"], r[f"{step}_cpu_ms"])
    return rows


def ratio(a, b):
    return f"{a:.4g} / {b:.4g} = **{a / b:.2f}**"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", required=True, help="a Python with torch installed")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--models", default="mnist_conv,resnet20,mobilenetv2,resnet18")
    ap.add_argument("--variants", default="float,Q,PS")
    ap.add_argument("--iters", default="", help="per-model iterations, e.g. resnet20=5")
    ap.add_argument("--json", help="also write every measurement to this file (JSON lines)")
    args = ap.parse_args()
    iters = dict(DEFAULT_ITERS)
    for item in filter(None, args.iters.split(",")):
        k, v = item.split("=")
        iters[k] = int(v)
    variants = args.variants.split(",")
    subprocess.run(["cargo", "bench", "-q", "-p", "shift-nn", "--bench", "zoo", "--no-run"], check=True)
    log = open(args.json, "w") if args.json else None
    for threads in map(int, args.threads.split(",")):
        table = []
        for model in args.models.split(","):
            n = iters.get(model, 3)
            a = ours(model, variants, threads, n)
            b = torch(args.python, model, variants, threads, n)
            for step in STEPS:
                cells_cpu, cells_wall = [], []
                for v in variants:
                    if (v, step) not in a or (v, step) not in b:
                        cells_cpu.append("-")
                        cells_wall.append("-")
                        continue
                    (aw, ac), (bw, bc) = a[(v, step)], b[(v, step)]
                    cells_cpu.append(ratio(ac, bc))
                    cells_wall.append(ratio(aw, bw))
                    if log:
                        log.write(json.dumps({"model": model, "variant": v, "step": step,
                                              "threads": threads, "ours_ms": aw, "ours_cpu_ms": ac,
                                              "torch_ms": bw, "torch_cpu_ms": bc}) + "\n")
                table.append((f"{model}, {step}", cells_cpu, cells_wall))
            print(f"# {model} at {threads} thread(s) done", file=sys.stderr, flush=True)
        for kind, idx in (("CPU time", 1), ("wall-clock median", 2)):
            print(f"\n{threads} thread(s), {kind}, ms, ours / PyTorch:\n")
            print("| model, step | " + " | ".join(variants) + " |")
            print("|---|" + "---|" * len(variants))
            for row in table:
                print(f"| {row[0]} | " + " | ".join(row[idx]) + " |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
