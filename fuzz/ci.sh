#!/usr/bin/env bash
# CI for the fuzz targets: builds them (cargo-fuzz, libFuzzer built from source by
# libfuzzer-sys, the stable toolchain with RUSTC_BOOTSTRAP=1 for the sanitizer flags), replays
# every committed corpus (each input once: a reader that crashes, hangs or runs out of memory
# on a committed input fails CI), then fuzzes each target for a short smoke time.
#
#   fuzz/ci.sh [SMOKE_SECONDS]     (default 10)
set -euo pipefail
cd "$(dirname "$0")"
smoke="${1:-10}"
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
cargo fuzz build -a
bin_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/x86_64-unknown-linux-gnu/release"
# The same limits as the long runs of the README: 10 s an input, 2 GiB.
limits=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048)
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for t in $(cargo fuzz list); do
  art="$scratch/artifacts/$t"
  mkdir -p "$scratch/$t" "$art"
  echo "-- $t: replaying $(ls "corpus/$t" | wc -l) corpus inputs"
  "$bin_dir/$t" "${limits[@]}" -runs=0 -artifact_prefix="$art/" "corpus/$t" 2>&1 | tail -n 3
  echo "-- $t: fuzzing for ${smoke} s"
  # New inputs go to the scratch folder: the committed corpus is not changed by CI.
  "$bin_dir/$t" "${limits[@]}" -max_len=16384 -max_total_time="$smoke" -print_final_stats=1 \
    -artifact_prefix="$art/" "$scratch/$t" "corpus/$t" 2>&1 | grep -E "stat::number_of_executed_units|Done|ERROR|SUMMARY" || true
  # The pipe hides libFuzzer's exit status: a crash leaves an artifact, which fails CI here.
  if compgen -G "$art/*" >/dev/null; then
    mkdir -p "artifacts/$t" && cp "$art"/* "artifacts/$t/"
    echo "fuzz target $t found a failing input, kept in fuzz/artifacts/$t/" >&2
    exit 1
  fi
done
