"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/) from real and
test-made files: MNIST's IDX headers plus a few images, tiny CIFAR-10 batches and archives,
the image fixtures of shift-data, small safetensors state dicts and checkpoints, packed
weights, ConfigSpace spaces and CLI command lines.

Run from the repository root: python3 fuzz/make_seeds.py (then `cargo fuzz cmin` keeps only
the seeds that add coverage). Standard library only.
"""
import gzip
import hashlib
import io
import json
import os
import struct
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gz(data):
    # mtime 0: the same seed bytes on every run.
    return gzip.compress(data, mtime=0)


def idx_seeds():
    mnist = os.path.join(ROOT, "data", "mnist")
    images = os.path.join(mnist, "t10k-images-idx3-ubyte")
    labels = os.path.join(mnist, "t10k-labels-idx1-ubyte")
    n = 2
    if os.path.exists(images):
        with open(images, "rb") as f:
            head = f.read(16)
            pix = f.read(n * 784)
        with open(labels, "rb") as f:
            lhead = f.read(8)
            lab = f.read(n)
    else:
        head, pix = struct.pack(">IIII", 0x803, 10000, 28, 28), bytes(range(256)) * 7
        pix = pix[: n * 784]
        lhead, lab = struct.pack(">II", 0x801, 10000), bytes([7, 2])
    # The real headers with the item count cut to what follows.
    img = struct.pack(">IIII", 0x803, n, 28, 28) + pix
    lbl = struct.pack(">II", 0x801, n) + lab
    put("idx", "mnist-images-2", img)
    put("idx", "mnist-labels-2", lbl)
    put("idx", "mnist-images-2.gz", gz(img))
    put("idx", "mnist-labels-2.gz", gz(lbl))
    put("idx", "mnist-header", head)
    put("idx", "mnist-labels-header", lhead)
    put("idx", "tiny-images", struct.pack(">IIII", 0x803, 1, 2, 3) + bytes(6))
    put("idx", "empty-images.gz", gz(struct.pack(">IIII", 0x803, 0, 28, 28)))


def cifar_record(label, seed):
    return bytes([label]) + bytes((seed * 7 + i * 13) & 0xFF for i in range(3072))


def cifar_seeds():
    batch = cifar_record(3, 1) + cifar_record(9, 2)
    put("cifar_batch", "two-records", batch)
    put("cifar_batch", "one-record", cifar_record(0, 5))
    # The archive as the CIFAR page ships it (members in a folder), only the test batch.
    for name, members in [
        ("test-batch.tar.gz", [("cifar-10-batches-bin/test_batch.bin", cifar_record(1, 3))]),
        (
            "with-other-members.tar.gz",
            [
                ("cifar-10-batches-bin/batches.meta.txt", b"airplane\nautomobile\n"),
                ("cifar-10-batches-bin/test_batch.bin", cifar_record(4, 4)),
            ],
        ),
    ]:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for member, data in members:
                info = tarfile.TarInfo(member)
                info.size = len(data)
                info.mtime = 0
                tar.addfile(info, io.BytesIO(data))
        put("cifar_targz", name, gz(buf.getvalue()))
        # Plain tar too: the target compresses input without the gzip magic itself, so the
        # fuzzer mutates the tar headers directly.
        put("cifar_targz", name[: -len(".gz")], buf.getvalue())
    # Regression input: a member header claiming 2^40 bytes (GNU base-256 size) with 100 bytes
    # behind it. The reader allocated the claim (capacity overflow or out of memory).
    info = tarfile.TarInfo("cifar-10-batches-bin/test_batch.bin")
    info.size = 1 << 40
    info.mtime = 0
    lying = info.tobuf(format=tarfile.GNU_FORMAT) + bytes(100)
    lying += bytes(-len(lying) % 512 + 1024)
    put("cifar_targz", "regression-claims-2-pow-40.tar", lying)


def image_seeds():
    fixtures = os.path.join(ROOT, "shift-data", "tests", "fixtures")
    for name in sorted(os.listdir(fixtures)):
        if name.endswith((".png", ".jpg")):
            path = os.path.join(fixtures, name)
            if os.path.getsize(path) <= 4096:
                with open(path, "rb") as f:
                    put("image", name, f.read())


def safetensors_blob(tensors, metadata=None):
    """A safetensors file as safetensors' own writer lays it out (header padded to 8)."""
    header, data = {}, b""
    for name, (dtype, shape, raw) in sorted(tensors.items()):
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata is not None:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def f32s(values):
    return struct.pack("<%df" % len(values), *values)


def checkpoint_digest(tensors):
    """content_digest of shift-train's checkpoint.rs: name length, name, shape, f32 bits."""
    h = hashlib.sha256()
    for name, (shape, values) in sorted(tensors.items()):
        h.update(struct.pack("<Q", len(name)))
        h.update(name.encode())
        for d in shape:
            h.update(struct.pack("<Q", d))
        h.update(f32s(values))
    return h.hexdigest()


def safetensors_seeds():
    w = [0.5, -0.25, 0.0, 1.0, 0.125, -1.0]
    put("safetensors", "state-dict", safetensors_blob({
        "fc.weight": ("F32", [2, 3], f32s(w)),
        "fc.bias": ("F32", [2], f32s([0.0, 1.0])),
        "bn.num_batches_tracked": ("I64", [], struct.pack("<q", 3)),
        "bn.running_mean": ("F64", [1], struct.pack("<d", 0.5)),
        "s.shift": ("I32", [2], struct.pack("<2i", -3, 0)),
    }, {"format": "pt"}))
    put("safetensors", "empty", safetensors_blob({}))
    put("safetensors", "bf16", safetensors_blob({"x": ("BF16", [1], b"\x80\x3f")}))
    model = {"model.fc.weight": ([2, 2], [0.5, -0.5, 0.25, 1.0])}
    opt = {"optimizer.0.momentum": ([4], [0.0, 0.1, 0.2, 0.3])}
    tensors = dict(model, **opt)
    records = [{"epoch": 1, "train_loss": 2.0, "test_loss": 1.5, "test_accuracy": 0.5,
                "test_top5": 0.9, "train_seconds": 1.0, "eval_seconds": 0.5}]
    meta = {
        "format": "deepshift-rs checkpoint v1",
        "sha256": checkpoint_digest(tensors),
        "epochs_done": "1",
        "records": json.dumps(records, separators=(",", ":")),
    }
    put("safetensors", "checkpoint", safetensors_blob(
        {n: ("F32", shape, f32s(v)) for n, (shape, v) in tensors.items()}, meta))


def packed_bytes(encoding, code_bits, rows, cols, words):
    """shift-core's PackedShiftWeights::to_bytes."""
    out = b"DSPW" + bytes([1, encoding, code_bits, 0]) + struct.pack("<QQ", rows, cols)
    return out + b"".join(struct.pack("<Q", w) for w in words)


def packed_seeds():
    # 2x2 ternary 3-bit codes, one word a row (as the round-trip test of packed.rs packs
    # 0.5, -0.25, 0, 1), and single-weight files of other encodings and widths.
    put("packed", "ternary-3bit", packed_bytes(0, 3, 2, 2, [0, 0]))
    put("packed", "binary-5bit", packed_bytes(1, 5, 1, 3, [0]))
    put("packed", "ternary-2bit", packed_bytes(0, 2, 1, 40, [0, 0]))
    put("packed", "zero-rows", packed_bytes(0, 8, 0, 7, []))
    # Regression inputs (shift-core/tests/packed_bytes.rs): a nonzero reserved byte, and a
    # word count whose byte size overflows once the header is added.
    reserved = bytearray(packed_bytes(0, 3, 2, 2, [0, 0]))
    reserved[7] = 1
    put("packed", "regression-reserved-byte", bytes(reserved))
    put("packed", "regression-size-overflow", packed_bytes(0, 8, (2**64 - 1) // 8, 1, []))


def space_seeds():
    src = os.path.join(ROOT, "shift-automl", "tests", "data", "dsnn_space.json")
    with open(src, "rb") as f:
        put("space_json", "dsnn_space.json", f.read())
    small = {
        "name": "small",
        "hyperparameters": [
            {"type": "uniform_float", "name": "lr", "lower": 1e-4, "upper": 1.0, "log": True, "default_value": 0.01},
            {"type": "uniform_int", "name": "bits", "lower": 2, "upper": 8, "q": None},
            {"type": "categorical", "name": "opt", "choices": ["SGD", "Adam"], "weights": [0.5, 0.5]},
            {"type": "ordinal", "name": "batch", "sequence": [32, 64]},
            {"type": "constant", "name": "ds", "value": "mnist"},
            {"type": "uniform_float", "name": "beta", "lower": 0.5, "upper": 0.99},
        ],
        "conditions": [
            {"type": "EQ", "child": "beta", "parent": "opt", "value": "Adam"},
            {"type": "AND", "child": "bits", "conditions": [
                {"type": "GT", "child": "bits", "parent": "lr", "value": 0.001},
                {"type": "IN", "child": "bits", "parent": "batch", "values": [32, 64]}]},
        ],
        "forbiddens": [
            {"type": "AND", "clauses": [
                {"type": "EQUALS", "name": "opt", "value": "SGD"},
                {"type": "IN", "name": "batch", "values": [64]}]},
            {"type": "RELATION_LT", "left": "lr", "right": "beta"},
        ],
    }
    put("space_json", "small.json", json.dumps(small).encode())
    put("space_json", "empty.json", b'{"hyperparameters": []}')


def study_seeds():
    """Study databases written by `deepshift hpo run` (three methods), cut to two trials and
    three events and vacuumed to 512-byte pages. Needs the sqlite3 tool and the databases;
    skipped without them."""
    import shutil
    import sqlite3
    import tempfile

    sources = {"random": "/tmp/readme/p.db", "mf-gp": "/tmp/mfgp/s.db", "hb-gp": "/tmp/zt/study.db"}
    with tempfile.TemporaryDirectory() as tmp:
        for method, src in sources.items():
            if not os.path.exists(src):
                continue
            dst = os.path.join(tmp, method + ".db")
            shutil.copy(src, dst)
            con = sqlite3.connect(dst)
            con.executescript(
                "PRAGMA journal_mode=DELETE; DELETE FROM hpo_trials WHERE number >= 2;"
                " DELETE FROM hpo_events WHERE seq > 3; PRAGMA page_size=512; VACUUM;"
            )
            con.close()
            with open(dst, "rb") as f:
                put("study", method + ".db", f.read())


CLI_LINES = [
    # The README's commands, one argument per NUL-separated field.
    "mnist",
    "mnist --type conv --shift-depth 1000 --shift-type PS --opt radam",
    "mnist --shift-depth 1000 --shift-type PS --weights FILE -e",
    "mnist -e --use-kernel True --weights W -wb 5 -ab 16 16 -r stochastic",
    "mnist --resume c.safetensors --epochs 3 --lr 0.1 --lr-step-size 2 --batch-size 0",
    "cifar10 --arch resnet20 --shift-depth 1000 --shift-type PS --opt radam",
    "imagenet /data/imagenet --arch resnet18 --shift-depth 1000 --shift-type Q --lr 0.01",
    "export --packed --weights IN --out OUT --dataset mnist --type conv --shift-depth 3 --shift-type PS -wb 5",
    "bench kernels --reps 7 --json",
    "energy --country DE -- python train.py",
    "hpo run --study zdt1 --space space.json --storage sqlite://zdt1.db --n-trials 5",
    "hpo run --study fm --dataset fashion-mnist --arch conv --time-budget 30m --seed 1",
    "hpo status --study zdt1 --storage sqlite://zdt1.db --watch 30",
    "hpo export --study zdt1 --storage sqlite://zdt1.db --format csv --out zdt1.csv",
    "hpo report --study zdt1 --storage sqlite://zdt1.db --out zdt1-report",
    "hpo methods",
    "hpo bench --seeds 10",
]


def cli_seeds():
    for i, line in enumerate(CLI_LINES):
        put("cli_args", "line-%02d" % i, "\0".join(line.split(" ")).encode())


def packed_file_seeds():
    """`export --packed` files: one packed PS layer and one Q layer plus a float bias."""
    ps = packed_bytes(0, 3, 2, 2, [0, 0])
    q = packed_bytes(1, 5, 1, 3, [0])
    meta = {
        "packed_format": "DSPW1",
        "fc1.packed_shape": "[2,2]",
        "fc1.shift_type": "PS",
        "fc2.packed_shape": "[1,3]",
        "fc2.shift_type": "Q",
    }
    put("packed_file", "ps-and-q", safetensors_blob({
        "fc1.packed": ("U8", [len(ps)], ps),
        "fc2.packed": ("U8", [len(q)], q),
        "fc1.bias": ("F32", [2], f32s([0.5, -1.0])),
        "bn.num_batches_tracked": ("I64", [], struct.pack("<q", 1)),
    }, meta))
    put("packed_file", "plain-safetensors", safetensors_blob({"w": ("F32", [1], f32s([1.0]))}))


def pth_seeds():
    """The PyTorch-written fixtures of shift-nn (zip and legacy: state dicts of every dtype,
    checkpoints, a whole pickled model, a pickle that calls os.system)."""
    fixtures = os.path.join(ROOT, "shift-nn", "tests", "fixtures", "pth")
    if not os.path.isdir(fixtures):
        return
    for name in sorted(os.listdir(fixtures)):
        if name.endswith((".pth", ".tar")):
            with open(os.path.join(fixtures, name), "rb") as f:
                put("pth", name, f.read())
    # The pickles inside the zip files too, so that the pickle machine is fuzzed directly.
    import zipfile
    for name in sorted(os.listdir(fixtures)):
        path = os.path.join(fixtures, name)
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                for member in z.namelist():
                    if member.endswith("data.pkl"):
                        put("pth", name + ".data.pkl", z.read(member))


def main():
    idx_seeds()
    cifar_seeds()
    image_seeds()
    safetensors_seeds()
    packed_seeds()
    space_seeds()
    study_seeds()
    cli_seeds()
    packed_file_seeds()
    pth_seeds()


if __name__ == "__main__":
    main()
