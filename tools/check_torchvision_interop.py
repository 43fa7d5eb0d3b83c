#!/usr/bin/env python3
"""Checks deepshift's PyTorch interop against real torch and torchvision, where installed.

    python3 tools/check_torchvision_interop.py --deepshift target/release/deepshift [--work DIR]

For each ImageNet model of both zoos (resnet18, googlenet, densenet121, efficientnet_b0,
mobilenet_v2) it builds torchvision's model with random batch-norm statistics (so that a wrong
name, layout or op shows in the logits), saves its state dict with `torch.save` under
torchvision's hub file name (resnet18 in the legacy pickle format, the others in the zip
format) in a temporary `$TORCH_HOME`, and evaluates four 256x256 images (exactly 224x224 after
the reference's Resize(256) + CenterCrop(224), so no resampling differs):
1. `deepshift imagenet DIR -a NAME --pretrained True -e` must print torchvision's loss to
   within 1e-5 relative;
2. `deepshift export --format pth` of that file must be opened by
   `torch.load(weights_only=True)` and accepted by torchvision's `load_state_dict(strict=True)`
   (googlenet without its aux heads, as deepshift's zoo builds it).

Exits 0 when every check passes, 1 when one fails, 2 when torch or torchvision is missing.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

FILES = {
    "resnet18": "resnet18-f37072fd.pth",
    "googlenet": "googlenet-1378be20.pth",
    "densenet121": "densenet121-a639ec97.pth",
    "efficientnet_b0": "efficientnet_b0_rwightman-7f5810bc.pth",
    "mobilenet_v2": "mobilenet_v2-b0353104.pth",
}


def randomise(torch, tvm, model, seed):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)
        if isinstance(m, torch.nn.Linear):
            # Random-init googlenet/efficientnet logits are nearly constant; scale them apart.
            m.weight.data.mul_(3000 if isinstance(model, (tvm.GoogLeNet, tvm.EfficientNet)) else 10)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--deepshift", required=True, help="the deepshift binary")
    ap.add_argument("--work", help="folder for the files (default: a temporary one)")
    args = ap.parse_args()
    try:
        import numpy as np
        import torch
        import torchvision.models as tvm
        import torchvision.transforms as T
        from PIL import Image
        from torchvision.datasets import ImageFolder
    except ImportError as e:
        print(f"torch/torchvision/numpy/pillow not installed ({e}): nothing checked", file=sys.stderr)
        return 2
    work = args.work or tempfile.mkdtemp(prefix="tv-interop-")
    hub = os.path.join(work, "torchhome", "hub", "checkpoints")
    os.makedirs(hub, exist_ok=True)
    rng = np.random.default_rng(0)
    for split in ["train", "val"]:
        for c in ["n01", "n02"]:
            d = os.path.join(work, "data", split, c)
            os.makedirs(d, exist_ok=True)
            for i in range(2):
                pixels = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(os.path.join(d, f"img{i}.png"))
    tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                    T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    ds = ImageFolder(os.path.join(work, "data", "val"), tf)
    x = torch.stack([ds[i][0] for i in range(len(ds))])
    y = torch.tensor([ds[i][1] for i in range(len(ds))])
    env = dict(os.environ, TORCH_HOME=os.path.join(work, "torchhome"))
    failures = 0
    for seed, (name, file) in enumerate(FILES.items()):
        kw = {"init_weights": True} if name == "googlenet" else {}
        model = getattr(tvm, name)(**kw)
        if name == "googlenet":
            # torchvision's googlenet(pretrained=True) as deepshift builds it.
            model.transform_input = True
            model.aux_logits = False
        model.eval()
        with torch.no_grad():
            randomise(torch, tvm, model, seed)
        path = os.path.join(hub, file)
        torch.save(model.state_dict(), path, _use_new_zipfile_serialization=(name != "resnet18"))
        with torch.no_grad():
            out = model(x)
            expected = torch.nn.functional.cross_entropy(out, y).item()
        run = subprocess.run(
            [args.deepshift, "imagenet", os.path.join(work, "data"), "-a", name, "--pretrained",
             "True", "-e", "--test-batch-size", "4", "--workers", "1",
             "--model-dir", os.path.join(work, "models")],
            env=env, capture_output=True, text=True)
        found = re.search(r"test: loss ([0-9.eE+-]+)", run.stdout + run.stderr)
        if not found:
            print(f"FAIL {name}: deepshift printed no test loss:\n{run.stderr[-2000:]}")
            failures += 1
            continue
        got = float(found.group(1))
        ok = abs(got - expected) <= 1e-5 * max(1.0, abs(expected))
        print(f"{'ok  ' if ok else 'FAIL'} {name}: torchvision loss {expected:.6f}, deepshift {got:.6f}")
        failures += not ok
        out_pth = os.path.join(work, f"export_{name}.pth")
        exp = subprocess.run(
            [args.deepshift, "export", "--format", "pth", "--dataset", "imagenet", "--arch", name,
             "--weights", path, "--out", out_pth], capture_output=True, text=True)
        if exp.returncode != 0:
            print(f"FAIL {name}: export --format pth: {exp.stderr[-1000:]}")
            failures += 1
            continue
        sd = torch.load(out_pth, map_location="cpu", weights_only=True)
        fresh = getattr(tvm, name)(**({"aux_logits": False, "init_weights": False} if name == "googlenet" else {}))
        try:
            fresh.load_state_dict(sd, strict=True)
            print(f"ok   {name}: export opened by torch.load(weights_only=True), load_state_dict(strict=True) accepted")
        except RuntimeError as e:
            print(f"FAIL {name}: load_state_dict: {e}")
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
