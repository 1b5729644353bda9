#!/usr/bin/env bash
# Hardware counters of the decode step's layer products at one batch size: cuBLASLt's kernels and our three
# fastest (wgmma / mma.sync) for each of q/k/v, o, gate|up and down, each run once from a flushed cache
# (bench_generate --breakdown --profile marks them with cudaProfilerStart/Stop).
#   bench/cuda/ncu_products.sh [bundle dir, default build/gpu-bundle] [batch, default 256]
set -uo pipefail
b=${1:-build/gpu-bundle}
B=${2:-256}
out=${OUT:-/tmp/r1_ncu}
mkdir -p "$out"
[[ -d "$b/lib" ]] || tar -C "$b" -xJf "$b/lib.tar.xz"
export LD_LIBRARY_PATH="$b/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/bin/ncu 2>/dev/null | head -1)
timeout 400 "$ncu" --profile-from-start off --clock-control none --cache-control all \
  --section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats --section Occupancy \
  --section LaunchStats --section SourceCounters \
  --metrics "sm__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_elapsed,sm__inst_executed_pipe_tensor_op_gmma.sum,smsp__warp_issue_stalled_barrier_per_warp_active.pct,smsp__warp_issue_stalled_long_scoreboard_per_warp_active.pct,smsp__warp_issue_stalled_wait_per_warp_active.pct,smsp__warp_issue_stalled_math_pipe_throttle_per_warp_active.pct,smsp__warp_issue_stalled_sleeping_per_warp_active.pct,smsp__warp_issue_stalled_membar_per_warp_active.pct,smsp__warp_issue_stalled_short_scoreboard_per_warp_active.pct,smsp__warp_issue_stalled_mio_throttle_per_warp_active.pct,smsp__warp_issue_stalled_lg_throttle_per_warp_active.pct,smsp__warp_issue_stalled_selected_per_warp_active.pct,smsp__warp_issue_stalled_misc_per_warp_active.pct,smsp__warp_issue_stalled_dispatch_stall_per_warp_active.pct,smsp__warp_issue_stalled_no_instruction_per_warp_active.pct,smsp__warp_issue_stalled_branch_resolving_per_warp_active.pct" \
  "$b/bench_generate" --breakdown --profile "$B" > "$out/ncu-products-$B.txt" 2>&1
echo "== products B=$B: exit $?"
grep -E "^  [a-zA-Z_].*\(|^    [a-z|]+ B=|Duration|DRAM Throughput|L2 Cache Throughput|Compute \(SM\) Throughput|Grid Size|gmma|stalled|Warp Cycles Per Issued" \
  "$out/ncu-products-$B.txt" | head -${LINES_PER:-400}
