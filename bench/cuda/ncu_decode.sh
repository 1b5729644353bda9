#!/usr/bin/env bash
# Hardware counters of the decode step's kernels at batch 256 (bench_generate --breakdown: each op alone, as in a
# step), through Nsight Compute on the GPU machine. Writes one report per kernel family to $OUT.
#   bench/cuda/ncu_decode.sh [bundle dir, default build/gpu-bundle] [batch, default 256]
set -uo pipefail
source "$(dirname "$0")/ncu_setup.sh"
full=(--section SpeedOfLight --section Occupancy --section LaunchStats --section MemoryWorkloadAnalysis
      --section WarpStateStats --section SchedulerStats)
prof() {  # prof <name> <regex> <skip> <count> <sections...>
  local name=$1 re=$2 skip=$3 count=$4
  shift 4
  timeout 240 "$ncu" --clock-control none --cache-control all -k "regex:$re" --launch-skip "$skip" \
    --launch-count "$count" "$@" "$b/bench_generate" --breakdown "$B" > "$out/ncu-$name.txt" 2>&1
  echo "== $name: exit $?"
  grep -E "^  [a-zA-Z_].*\(|Duration|DRAM Throughput|Memory Throughput|Achieved Occupancy|Theoretical Occupancy|Registers Per|Grid Size|Block Size|Dynamic Shared|Waves Per SM|Compute \(SM\) Throughput|One or More Eligible|Issued Warp|Block Limit" "$out/ncu-$name.txt" | head -${LINES_PER:-60}
}
prof sample sample_kernel 0 1 "${full[@]}"
prof attention paged_decode 0 1 "${full[@]}"
LINES_PER=400 prof products "decode_matmul|gemm|sm90|cutlass|xmma" 0 120 --section SpeedOfLight --section LaunchStats --section Occupancy
