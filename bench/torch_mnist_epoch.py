"""One MNIST epoch (train + test) in PyTorch, for `cargo xtask reproduce --torch-python PY`.

An equivalent of the original DeepShift `mnist.py` loop for timing, measured on the same machine
in the same run as ours: the models and DeepShift layers of `torch_reference.py` (written from
the published equations), batch 64, test batch 1000, SGD lr 0.01 (RAdam lr 0.01 for PS, as the
reference commands), 2 threads, and the reference's data path: a `torch.utils.data.DataLoader`
over a dataset that converts and normalises each image when it is fetched (torchvision's
`MNIST` with `ToTensor()` and `Normalize((0.1307,), (0.3081,))`, without the PIL round trip).
`--loader tensor` instead slices pre-normalised tensors: the model's cost without data loading.

usage: python torch_mnist_epoch.py --type linear|conv --variant float|Q|PS --data DIR
prints one JSON object: type, variant, train_s, test_s, seconds_per_epoch, test_accuracy
"""
import argparse
import gzip
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from torch_reference import MnistConv, MnistLinear, to_shift


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(data_dir, prefix):
    def find(name):
        for candidate in (name, name + ".gz"):
            p = os.path.join(data_dir, candidate)
            if os.path.exists(p):
                return p
        raise FileNotFoundError(os.path.join(data_dir, name))

    x = torch.from_numpy(read_idx(find(f"{prefix}-images-idx3-ubyte")).copy())
    y = torch.from_numpy(read_idx(find(f"{prefix}-labels-idx1-ubyte")).astype(np.int64))
    return x, y


class Mnist(torch.utils.data.Dataset):
    """Per-sample conversion and normalisation, as torchvision's MNIST + transforms."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        img = self.x[i].unsqueeze(0).float().div(255.0)
        return (img - 0.1307) / 0.3081, int(self.y[i])


def batches(x, y, batch, shuffle, loader):
    if loader == "reference":
        yield from torch.utils.data.DataLoader(Mnist(x, y), batch_size=batch, shuffle=shuffle)
        return
    xs = (x.unsqueeze(1).float() / 255.0 - 0.1307) / 0.3081
    order = torch.randperm(len(y)) if shuffle else torch.arange(len(y))
    for i in range(0, len(order), batch):
        idx = order[i : i + batch]
        yield xs[idx], y[idx]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--type", choices=["linear", "conv"], required=True)
    ap.add_argument("--variant", choices=["float", "Q", "PS"], required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--loader", choices=["reference", "tensor"], default="reference")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    x_train, y_train = load(args.data, "train")
    x_test, y_test = load(args.data, "t10k")
    model = MnistLinear() if args.type == "linear" else MnistConv()
    if args.variant != "float":
        to_shift(model, args.variant)
    if args.variant == "PS":
        opt = torch.optim.RAdam(model.parameters(), lr=0.01)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
    started = time.perf_counter()
    model.train()
    for xb, yb in batches(x_train, y_train, 64, True, args.loader):
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
    train_s = time.perf_counter() - started
    started = time.perf_counter()
    model.eval()
    correct = 0
    with torch.no_grad():
        for xb, yb in batches(x_test, y_test, 1000, False, args.loader):
            correct += (model(xb).argmax(1) == yb).sum().item()
    test_s = time.perf_counter() - started
    print(json.dumps({
        "type": args.type, "variant": args.variant, "train_s": round(train_s, 3),
        "test_s": round(test_s, 3), "seconds_per_epoch": round(train_s + test_s, 3),
        "test_accuracy": correct / len(y_test), "loader": args.loader, "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
