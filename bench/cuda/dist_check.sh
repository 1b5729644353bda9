#!/usr/bin/env bash
# Data-parallel check on a 2-GPU machine (nvidia-h200-x2): SFT of a randomly initialised Qwen2.5-0.5B-shaped
# model (r1 launch, NCCL, ZeRO-1) in three runs:
#   one   1 rank,  global batch B tokens       the reference loss curve and tokens/s
#   two   2 ranks, global batch B (B/2 each)   the same loss curve; strong scaling = tok/s two / (2 x one)
#   wide  2 ranks, global batch 2B (B each)    weak scaling (the usual data-parallel figure) = tok/s wide / (2 x one)
# and prints the loss curves side by side, the scaling efficiencies and each run's memory per GPU (AdamW moments,
# device memory in use: metrics memory/optimizer_gib and memory/device_gib, the largest over the ranks).
# Builds nothing: pass the folder holding a CUDA build's r1 (with lib/ from bench/cuda/collect_libs.sh, or
# bundle.sh's folder with lib/ and qwen2.5/ unpacked, as run_all.sh does).
#   bench/cuda/dist_check.sh [build dir, default build/cuda] [steps, default 30] [batch tokens B, default 16384]
# Exit status 0 when every step's 2-rank loss is within 2e-2 of the 1-rank loss (bf16 noise), every run ends
# and 2 ranks hold at most 51% of the one rank's AdamW moments.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/cuda}
steps=${2:-30}
tokens=${3:-16384}
source "$root/bench/cuda/dist_setup.sh"
export R1_DIST_TIMEOUT=${R1_DIST_TIMEOUT:-300}
out=${OUT:-/tmp}/dist_check
rm -rf "$out" && mkdir -p "$out"
nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader 2>/dev/null
"$r1" convert --model qwen2.5-0.5b -o "$out/model" --tokenizer "$tok" \
  --dtype bf16 || exit 2
write_config() {  # $1 = file, $2 = global batch tokens
  cat > "$1" <<YAML
device: cuda
model: {path: $out/model}
data: {source: addition, count: 40000, eval_count: 64, min_digits: 3, max_digits: 6}
train: {max_steps: $steps, batch_tokens: $2, shuffle: true}
optim: {lr: 3.0e-4, warmup_steps: 3}
eval: {every: 1000}
checkpoint: {every: 1000}
YAML
}
write_config "$out/sft.yaml" "$tokens"
write_config "$out/sft-wide.yaml" "$((2 * tokens))"
run() {  # $1 = name, $2 = config, $3.. = launcher prefix
  local name=$1 config=$2; shift 2
  local t0=$(date +%s.%N)
  "$@" sft --config "$config" --run "$out/$name" > "$out/$name.log" 2>&1
  local rc=$?
  echo "$name: exit $rc, $(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$t0" "$(date +%s.%N)") s"
  return $rc
}
run one "$out/sft.yaml" "$r1" || { tail -20 "$out/one.log"; exit 1; }
run two "$out/sft.yaml" "$r1" launch --nproc 2 -- || { tail -20 "$out/two.log"; exit 1; }
run wide "$out/sft-wide.yaml" "$r1" launch --nproc 2 -- || { tail -20 "$out/wide.log"; exit 1; }
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
def read(name):
    rows = {}
    for line in open(f"{out}/{name}/metrics.jsonl"):
        r = json.loads(line)
        if "train/loss" in r: rows[r["step"]] = r
    return rows
one, two, wide = read("one"), read("two"), read("wide")
worst = 0.0
print(f"{'step':>5} {'loss 1 rank':>12} {'loss 2 ranks':>13} {'diff':>9} {'tok/s 1':>10} {'tok/s 2':>10} {'tok/s 2 wide':>13}")
for s in sorted(one):
    d = abs(one[s]["train/loss"] - two[s]["train/loss"]); worst = max(worst, d)
    print(f"{s:>5} {one[s]['train/loss']:>12.5f} {two[s]['train/loss']:>13.5f} {d:>9.2e} "
          f"{one[s]['perf/tokens_per_s']:>10.0f} {two[s]['perf/tokens_per_s']:>10.0f} {wide[s]['perf/tokens_per_s']:>13.0f}")
def rate(rows):  # mean tokens/s, warm-up steps excluded
    skip = sorted(rows)[3:]
    return sum(rows[s]["perf/tokens_per_s"] for s in skip) / len(skip)
t1, t2, tw = rate(one), rate(two), rate(wide)
print(f"tokens/s: 1 rank {t1:.0f}; 2 ranks, same global batch {t2:.0f} (strong scaling {t2 / (2 * t1):.1%}); "
      f"2 ranks, each the 1-rank batch {tw:.0f} (weak scaling {tw / (2 * t1):.1%}); max loss diff {worst:.2e}")
def memory(rows, key):
    return max(r.get(key, 0.0) for r in rows.values())
print("| run | ranks | AdamW moments per GPU (GiB) | device memory in use per GPU (GiB) |")
print("|---|---|---|---|")
for name, ranks, rows in (("one", 1, one), ("two", 2, two), ("wide", 2, wide)):
    print(f"| {name} | {ranks} | {memory(rows, 'memory/optimizer_gib'):.3f} | {memory(rows, 'memory/device_gib'):.2f} |")
ratio = memory(two, "memory/optimizer_gib") / memory(one, "memory/optimizer_gib")
print(f"AdamW moments per GPU, 2 ranks / 1 rank: {ratio:.3f}")
sys.exit(0 if worst < 2e-2 and ratio <= 0.51 else 1)
PY
