#!/usr/bin/env bash
# On the GPU machine, from the repository root, with shift-kernels-cuda/gpu/bin carried (built
# by gpu/prepare.sh): (a) every kernel against the CPU scalar reference bit for bit
# (tests/gpu.rs), (b) GEMV 8192x8192 and GEMM 4096x4096 batch 256 against cuBLAS SGEMM,
# (c) `-e --use-kernel` on the CPU and with `--device cuda` on two MNIST models, compared.
# Writes $OUT/gpu-report.md (and the raw outputs beside it); exits non-zero if any part fails.
# Time limits (200 + 180 + 4 x 45 s) keep it inside one 600 s device call.
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=shift-kernels-cuda/gpu/bin
OUT=${OUT:-/tmp/shift-gpu-out}
mkdir -p "$OUT"
REPORT=$OUT/gpu-report.md
status=0
[ -x "$BIN/gpu-tests" ] && [ -x "$BIN/deepshift" ] || { echo "run gpu/prepare.sh first and carry $BIN"; exit 2; }

# cuBLAS for the baseline: the system's CUDA, or a Python package's copy.
for d in /usr/local/cuda/lib64 /usr/local/cuda-*/lib64 /usr/lib/x86_64-linux-gnu \
         $(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null); do
  lib=$(find "$d" -maxdepth 4 -name 'libcublas.so.12*' 2>/dev/null | head -1)
  if [ -n "$lib" ]; then
    export LD_LIBRARY_PATH="$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    break
  fi
done

{
  echo "# shift-kernels-cuda on a GPU"
  echo
  echo '```'
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1
  echo "cuBLAS: ${lib:-not found}"
  echo '```'
} > "$REPORT"

echo "== (a) bit-exactness on the GPU"
SHIFT_KERNELS_REQUIRE_GPU=1 timeout 200 "$BIN/gpu-tests" --test-threads 1 > "$OUT/a-tests.txt" 2>&1
a=$?
cat "$OUT/a-tests.txt"
[ $a -eq 0 ] || status=1
{
  echo
  echo "## (a) every kernel against the CPU scalar reference (tests/gpu.rs), exit $a"
  echo '```'
  grep -E -A1 "^test |test result|GPU:|panicked" "$OUT/a-tests.txt" | grep -v "^--$"
  echo '```'
} >> "$REPORT"

echo "== (b) timings against cuBLAS SGEMM"
timeout 180 "$BIN/deepshift" bench kernels --device cuda --reps 50 > "$OUT/b-bench.md" 2>&1
b=$?
cat "$OUT/b-bench.md"
[ $b -eq 0 ] || status=1
{
  echo
  echo "## (b) timings (deepshift bench kernels --device cuda --reps 50), exit $b"
  echo
  cat "$OUT/b-bench.md"
} >> "$REPORT"

echo "== (c) MNIST, -e --use-kernel on the CPU and on the GPU"
D=$(mktemp -d)
evaluate() { # name device args...
  local name=$1 dev=$2
  shift 2
  timeout 45 "$BIN/deepshift" mnist "$@" -e --use-kernel --device "$dev" --data-dir "$BIN/data" \
    --model-dir "$D/$name-$dev" > "$OUT/c-$name-$dev.txt" 2>&1 || return 1
  find "$D/$name-$dev" -name test_log.csv -exec tail -n 1 {} \;
}
{
  echo
  echo "## (c) MNIST test set, -e --use-kernel: CPU vs --device cuda (test_log.csv: loss, accuracy)"
  echo
  echo "| model | CPU | GPU | equal |"
  echo "|---|---|---|---|"
} >> "$REPORT"
for spec in \
  "conv_q_wb4|--type conv --shift-depth 2 --shift-type Q -wb 4 -ab 8 8 --weights $BIN/mnist_conv_float.safetensors" \
  "linear_ps_pytorch|--shift-depth 1000 --shift-type PS --weights $BIN/mnist_linear_ps_pytorch.safetensors"; do
  name=${spec%%|*}
  read -r -a args <<< "${spec#*|}"
  cpu=$(evaluate "$name" cpu "${args[@]}") || cpu="failed: $(tail -3 "$OUT/c-$name-cpu.txt")"
  gpu=$(evaluate "$name" cuda "${args[@]}") || gpu="failed: $(tail -3 "$OUT/c-$name-cuda.txt")"
  same=no
  [ -n "$cpu" ] && [ "$cpu" = "$gpu" ] && same=yes
  [ "$same" = yes ] || status=1
  echo "$name: cpu [$cpu] gpu [$gpu] equal $same"
  echo "| $name | $cpu | $gpu | $same |" >> "$REPORT"
done
rm -rf "$D"
echo >> "$REPORT"
echo "overall: $([ $status -eq 0 ] && echo pass || echo FAIL)" >> "$REPORT"
cat "$REPORT"
exit $status
