#!/usr/bin/env bash
# Runs the CUDA parity + timing program on the GPU machine. Builds nothing: carry the build folder that holds
# parity_ops and its lib/ (bench/cuda/collect_libs.sh fills it) and point this script at it.
#   bench/cuda/run_parity.sh [folder holding parity_ops, default build/cuda] [parity_ops flags...]
# parity_ops flags: --check-only | --bench-only, --iters N. Exit status is parity_ops's (0: all checks pass).
set -uo pipefail
dir=build/cuda
if [[ $# -gt 0 && $1 != --* ]]; then dir=$1; shift; fi
bin=$dir/parity_ops
if [[ ! -x $bin ]]; then
  echo "run_parity.sh: no executable $bin (build target parity_ops, then bench/cuda/collect_libs.sh $bin)" >&2
  exit 2
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
export LD_LIBRARY_PATH="$dir/lib:/usr/local/cuda/lib64:/usr/local/cuda/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}
exec "$bin" "$@"
