#!/usr/bin/env python3
"""Checks a `deepshift export --format pth` file with PyTorch, where PyTorch is installed.

    python3 tools/check_pth_with_torch.py weights.pth
    python3 tools/check_pth_with_torch.py weights.pth --arch resnet20 --reference-dir DeepShift/pytorch
    python3 tools/check_pth_with_torch.py weights.pth --torchvision resnet18

1. `torch.load(path, weights_only=True)` opens the file (only the globals of a state dict);
   every entry is a CPU tensor, float32 (int64 for `num_batches_tracked`), contiguous.
2. With `--torchvision NAME` (float models, `--shift-depth 0`): torchvision's model accepts
   it with `load_state_dict(strict=True)`.
3. With `--arch NAME --reference-dir DIR` (DIR: the reference's `pytorch/` folder, holding
   `cifar10_models` and `deepshift`): the reference's CIFAR-10 model, converted with the
   reference's `convert_to_shift` as the export's flags say (`--shift-depth`, `--shift-type`),
   accepts it with `load_state_dict(strict=True)`.

Exits 0 when every check passes, 1 when one fails, 2 when PyTorch is not installed.
"""

import argparse
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file")
    ap.add_argument("--torchvision", help="a torchvision model name (float weights)")
    ap.add_argument("--arch", help="a model of the reference's cifar10_models")
    ap.add_argument("--reference-dir", help="the reference's pytorch/ folder")
    ap.add_argument("--shift-depth", type=int, default=0)
    ap.add_argument("--shift-type", default="PS", choices=["Q", "PS"])
    ap.add_argument("--weight-bits", type=int, default=5)
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: nothing checked", file=sys.stderr)
        return 2

    sd = torch.load(args.file, map_location="cpu", weights_only=True)
    problems = []
    if not isinstance(sd, dict):
        problems.append(f"the file holds a {type(sd).__name__}, not a dict")
        sd = {}
    for name, t in sd.items():
        want = torch.int64 if name.endswith("num_batches_tracked") else torch.float32
        if not isinstance(t, torch.Tensor):
            problems.append(f"{name}: a {type(t).__name__}, not a tensor")
        elif t.dtype != want or not t.is_contiguous() or t.device.type != "cpu":
            problems.append(f"{name}: {t.dtype}, contiguous={t.is_contiguous()}, {t.device}")
    print(f"torch.load(weights_only=True): {len(sd)} tensors")

    model = None
    if args.torchvision:
        import torchvision

        model = getattr(torchvision.models, args.torchvision)()
    elif args.arch:
        if not args.reference_dir:
            ap.error("--arch needs --reference-dir")
        sys.path.insert(0, args.reference_dir)
        import cifar10_models

        model = cifar10_models.__dict__[args.arch]()
        if args.shift_depth > 0:
            from deepshift.convert import convert_to_shift

            model, _ = convert_to_shift(
                model,
                args.shift_depth,
                args.shift_type,
                convert_weights=True,
                use_kernel=False,
                use_cuda=False,
                rounding="deterministic",
                weight_bits=args.weight_bits,
            )
    if model is not None:
        try:
            model.load_state_dict(sd, strict=True)
            print(f"{type(model).__name__}.load_state_dict(strict=True): accepted")
        except RuntimeError as e:
            problems.append(f"load_state_dict: {e}")

    for p in problems:
        print("FAIL:", p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
