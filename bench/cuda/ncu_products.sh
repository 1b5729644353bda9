#!/usr/bin/env bash
# Hardware counters of the decode step's layer products at one batch size: cuBLASLt's kernels and our three
# fastest (wgmma / mma.sync) for each of q/k/v, o, gate|up and down, each run once from a flushed cache
# (bench_generate --breakdown --profile marks them with cudaProfilerStart/Stop).
#   bench/cuda/ncu_products.sh [bundle dir, default build/gpu-bundle] [batch, default 256]
set -uo pipefail
source "$(dirname "$0")/ncu_setup.sh"
stalls=(barrier long_scoreboard wait math_pipe_throttle sleeping membar short_scoreboard mio_throttle lg_throttle
        selected misc dispatch_stall no_instruction branch_resolving)
metrics=sm__inst_executed_pipe_tensor_op_gmma.sum
for s in "${stalls[@]}"; do metrics+=",smsp__warp_issue_stalled_${s}_per_warp_active.pct"; done
timeout 400 "$ncu" --profile-from-start off --clock-control none --cache-control all \
  --section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats --section Occupancy \
  --section LaunchStats --section SourceCounters \
  --metrics "$metrics" \
  "$b/bench_generate" --breakdown --profile "$B" > "$out/ncu-products-$B.txt" 2>&1
echo "== products B=$B: exit $?"
grep -E "^  [a-zA-Z_].*\(|^    [a-z|]+ B=|Duration|DRAM Throughput|L2 Cache Throughput|Compute \(SM\) Throughput|Grid Size|gmma|stalled|Warp Cycles Per Issued" \
  "$out/ncu-products-$B.txt" | head -${LINES_PER:-400}
