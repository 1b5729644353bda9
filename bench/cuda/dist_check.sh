#!/usr/bin/env bash
# Data-parallel check on a 2-GPU machine (nvidia-h200-x2): SFT of a randomly initialised Qwen2.5-0.5B-shaped
# model with the same global batch on 1 rank and on 2 ranks (r1 launch, NCCL, ZeRO-1), then prints the loss
# curves side by side, tokens/s of each and the scaling efficiency (2-rank tokens/s / (2 x 1-rank tokens/s)).
# Builds nothing: pass the folder holding a CUDA build's r1 (with lib/ from bench/cuda/collect_libs.sh).
#   bench/cuda/dist_check.sh [build dir, default build/cuda] [steps, default 30] [batch tokens, default 16384]
# Exit status 0 when every step's 2-rank loss is within 2e-2 of the 1-rank loss (bf16 noise) and both runs end.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/cuda}
steps=${2:-30}
tokens=${3:-16384}
r1=$build/r1
[[ -x $r1 ]] || { echo "dist_check.sh: no executable $r1" >&2; exit 2; }
export LD_LIBRARY_PATH="$build/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1  # never NVLink multicast
export R1_DIST_TIMEOUT=${R1_DIST_TIMEOUT:-300}
out=${OUT:-/tmp}/dist_check
rm -rf "$out" && mkdir -p "$out"
nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader 2>/dev/null
tok=${TOKENIZER:-$root/../shared/data/tokenizers/qwen2.5/tokenizer.json}  # carry it: ../shared does not travel
"$r1" convert --model qwen2.5-0.5b -o "$out/model" --tokenizer "$tok" \
  --dtype bf16 || exit 2
cat > "$out/sft.yaml" <<YAML
device: cuda
model: {path: $out/model}
data: {source: addition, count: 20000, eval_count: 64, min_digits: 3, max_digits: 6}
train: {max_steps: $steps, batch_tokens: $tokens, shuffle: true}
optim: {lr: 3.0e-4, warmup_steps: 3}
eval: {every: 1000}
checkpoint: {every: 1000}
YAML
run() {  # $1 = name, $2.. = launcher prefix
  local name=$1; shift
  local t0=$(date +%s.%N)
  "$@" sft --config "$out/sft.yaml" --run "$out/$name" > "$out/$name.log" 2>&1
  local rc=$?
  echo "$name: exit $rc, $(echo "$(date +%s.%N) - $t0" | bc) s"
  return $rc
}
run one "$r1" || { tail -20 "$out/one.log"; exit 1; }
run two "$r1" launch --nproc 2 -- || { tail -20 "$out/two.log"; exit 1; }
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
def read(name):
    rows = {}
    for line in open(f"{out}/{name}/metrics.jsonl"):
        r = json.loads(line)
        if "train/loss" in r: rows[r["step"]] = r
    return rows
one, two = read("one"), read("two")
worst = 0.0
print(f"{'step':>5} {'loss 1 rank':>12} {'loss 2 ranks':>13} {'diff':>9} {'tok/s 1':>10} {'tok/s 2':>10}")
for s in sorted(one):
    d = abs(one[s]["train/loss"] - two[s]["train/loss"]); worst = max(worst, d)
    print(f"{s:>5} {one[s]['train/loss']:>12.5f} {two[s]['train/loss']:>13.5f} {d:>9.2e} "
          f"{one[s]['perf/tokens_per_s']:>10.0f} {two[s]['perf/tokens_per_s']:>10.0f}")
skip = sorted(one)[3:]  # warm-up steps excluded from throughput
t1 = sum(one[s]["perf/tokens_per_s"] for s in skip) / len(skip)
t2 = sum(two[s]["perf/tokens_per_s"] for s in skip) / len(skip)
print(f"tokens/s: 1 rank {t1:.0f}, 2 ranks {t2:.0f}; scaling efficiency {t2 / (2 * t1):.1%}; max loss diff {worst:.2e}")
sys.exit(0 if worst < 2e-2 else 1)
PY
