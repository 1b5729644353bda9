#!/usr/bin/env bash
# The decode path on the GPU machine in one call: parity (tests/gpu/parity_decode.cu), our rollout throughput
# (tests/gpu/bench_generate.cu) and transformers' model.generate on the same shapes
# (bench/cuda/generate_reference.py). Builds nothing: carry the folder holding parity_decode, bench_generate
# and their lib/ (bench/cuda/collect_libs.sh <binary> fills it).
#   bench/cuda/generate_run.sh [folder, default build/cuda] [batch ...]
# Exit status: parity_decode's (0 when every check passes), unless a later step fails.
set -uo pipefail
dir=build/cuda
if [[ $# -gt 0 && -d $1 ]]; then dir=$1; shift; fi
for bin in parity_decode bench_generate; do
  if [[ ! -x $dir/$bin ]]; then
    echo "generate_run.sh: no executable $dir/$bin (build it, then bench/cuda/collect_libs.sh $dir/$bin)" >&2
    exit 2
  fi
done
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
export LD_LIBRARY_PATH="$dir/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
"$dir/parity_decode"
status=$?
"$dir/bench_generate" "$@" || status=1
PYTHONUNBUFFERED=1 python3 "$(dirname "$0")/generate_reference.py" "$@" 2>&1 | grep -v -i warning || status=1
exit $status
