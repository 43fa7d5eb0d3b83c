"""PIL + torchvision baseline for the `imagenet_per_core` group of data_bench.rs.

Runs, on one core, over the same JPEGs as the Rust bench (keep them with
SHIFT_DATA_BENCH_JPEGS=<dir> cargo bench -p shift-data --bench data_bench -- imagenet):
  decode_only             Image.open(f).convert("RGB")  (torchvision's pil_loader)
  decode_train_transform  + RandomResizedCrop(224) + RandomHorizontalFlip + ToTensor + Normalize
  decode_eval_transform   + Resize(256) + CenterCrop(224) + ToTensor + Normalize
and prints images per second (best of --repeats passes).

Without torchvision (`--pil-only`, or when it is not installed) the transforms are done with
PIL and numpy as torchvision does them on PIL images: img.crop(box).resize((224, 224),
BILINEAR), a left-right transpose, then (array / 255 - mean) / std in float32.

Usage: python pil_reference.py DIR [--repeats 5] [--pil-only]
"""
import argparse
import glob
import math
import os
import random
import time

from PIL import Image

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def load(path):
    with open(path, "rb") as f:
        return Image.open(f).convert("RGB")


def torchvision_transforms():
    import torch
    import torchvision.transforms as T

    torch.set_num_threads(1)
    norm = T.Normalize(MEAN, STD)
    train = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(), norm])
    evalt = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), norm])
    return train, evalt, f"torchvision {__import__('torchvision').__version__}"


def pil_transforms():
    import numpy as np

    mean = np.array(MEAN, dtype=np.float32)
    std = np.array(STD, dtype=np.float32)

    def to_tensor(img):
        a = np.asarray(img, dtype=np.float32) / np.float32(255)
        return ((a - mean) / std).transpose(2, 0, 1).copy()

    def rrc_box(w, h):
        area = w * h
        lo, hi = math.log(3 / 4), math.log(4 / 3)
        for _ in range(10):
            ta = area * random.uniform(0.08, 1.0)
            ar = math.exp(random.uniform(lo, hi))
            cw, ch = int(round(math.sqrt(ta * ar))), int(round(math.sqrt(ta / ar)))
            if 0 < cw <= w and 0 < ch <= h:
                i, j = random.randint(0, h - ch), random.randint(0, w - cw)
                return j, i, j + cw, i + ch
        return 0, 0, w, h

    def train(img):
        img = img.crop(rrc_box(*img.size)).resize((224, 224), Image.BILINEAR)
        if random.random() < 0.5:
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
        return to_tensor(img)

    def evalt(img):
        w, h = img.size
        if w <= h:
            nw, nh = 256, int(256 * h / w)
        else:
            nw, nh = int(256 * w / h), 256
        img = img.resize((nw, nh), Image.BILINEAR)
        top, left = int(round((nh - 224) / 2.0)), int(round((nw - 224) / 2.0))
        return to_tensor(img.crop((left, top, left + 224, top + 224)))

    return train, evalt, "PIL + numpy"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--pil-only", action="store_true")
    args = ap.parse_args()
    files = sorted(glob.glob(os.path.join(args.dir, "*.JPEG")))
    assert files, f"no .JPEG in {args.dir}"
    try:
        if args.pil_only:
            raise ImportError
        train, evalt, what = torchvision_transforms()
    except ImportError:
        train, evalt, what = pil_transforms()
    print(f"{len(files)} files, Pillow {Image.__version__}, transforms: {what}")
    cases = [
        ("decode_only", lambda img: img),
        ("decode_train_transform", train),
        ("decode_eval_transform", evalt),
    ]
    for name, t in cases:
        best = math.inf
        for _ in range(args.repeats):
            start = time.perf_counter()
            for f in files:
                t(load(f))
            best = min(best, time.perf_counter() - start)
        print(f"{name}: {len(files) / best:.1f} images/s")


if __name__ == "__main__":
    main()
