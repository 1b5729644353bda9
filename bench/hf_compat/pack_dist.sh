#!/usr/bin/env bash
# Gathers what the GPU machine needs to run r1's side of the Hugging Face checks — the r1 binary, test_hfcompat
# and their non-system shared libraries (bench/cuda/collect_libs.sh) — into one folder to carry there.
#   bench/hf_compat/pack_dist.sh [build dir, default build/cpu] [dist dir, default <build dir>/hf_dist]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/cpu}
dist=${2:-$build/hf_dist}
cmake --build "$build" --target r1_cli test_hfcompat -j2
mkdir -p "$dist"
cp "$build/r1" "$build/test_hfcompat" "$dist/"
"$root/bench/cuda/collect_libs.sh" "$dist/r1" >/dev/null
"$root/bench/cuda/collect_libs.sh" "$dist/test_hfcompat" >/dev/null
du -sh "$dist"
