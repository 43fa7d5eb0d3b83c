#!/usr/bin/env bash
# Builds, on a machine without a GPU, everything gpu/run-on-gpu.sh needs on the GPU machine,
# into shift-kernels-cuda/gpu/bin/ (git-ignored; 26 MB): the release GPU test binary,
# the release `deepshift`, both stripped, the MNIST test set and the two MNIST checkpoints.
# Then run, with the device tool: carry ["shift-kernels-cuda/gpu/bin"], command
# `bash shift-kernels-cuda/gpu/run-on-gpu.sh`, timeout 600.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=shift-kernels-cuda/gpu/bin
TARGET=${CARGO_TARGET_DIR:-target}
rm -rf "$BIN"
mkdir -p "$BIN/data/mnist"
exe=$(cargo test --release -p shift-kernels-cuda --test gpu --no-run --message-format=json |
  python3 -c 'import sys, json
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "gpu":
        print(m["executable"])')
cp "$exe" "$BIN/gpu-tests"
cargo build --release -p shift-cli
cp "$TARGET/release/deepshift" "$BIN/deepshift"
strip "$BIN/gpu-tests" "$BIN/deepshift"
if [ ! -f data/mnist/t10k-images-idx3-ubyte ]; then
  cargo xtask data mnist
fi
cp data/mnist/t10k-images-idx3-ubyte data/mnist/t10k-labels-idx1-ubyte "$BIN/data/mnist/"
python3 shift-kernels-cuda/gpu/strip_safetensors.py ../shared/golden/mnist_conv_float_logits.safetensors \
  "$BIN/mnist_conv_float.safetensors" input log_probs
cp shift-cli/tests/fixtures/mnist_linear_ps_pytorch.safetensors "$BIN/"
du -sh "$BIN"
ls -la "$BIN"
echo 'next, on the GPU: carry ["shift-kernels-cuda/gpu/bin"], run `bash shift-kernels-cuda/gpu/run-on-gpu.sh`'
