#!/usr/bin/env bash
# configs/r1-qwen2.5-0.5b-gpu.yaml end to end on one GPU, shrunk: every stage of the R1 pipeline (cold-start SFT,
# reasoning RL, rejection sampling, rejection-sampling SFT, final RL, and the per-stage GSM8K evaluation) runs
# with `device: cuda` on a Qwen2.5-0.5B-shaped model. No checkpoint can be downloaded there, so the base model
# has random weights (r1 convert) and the cold-start data is GSM8K's own reference solutions written as
# <think>…</think> <answer>…</answer>; a random model earns no rewards, so rejection sampling keeps samples by
# format score >= 0 (the real config keeps correct, well-formatted ones). What this shows is that the config and
# every stage job run on the GPU and hand their models on, and how long each stage takes — not accuracy.
#   bench/cuda/pipeline_smoke.sh <folder with r1 and lib/> <tokenizer dir> <GSM8K dir (train.jsonl, test.jsonl)>
set -euo pipefail
build=${1:?usage: pipeline_smoke.sh <folder with r1> <tokenizer dir> <gsm8k dir>}
tok=${2:?usage: pipeline_smoke.sh <folder with r1> <tokenizer dir> <gsm8k dir>}
gsm=${3:?usage: pipeline_smoke.sh <folder with r1> <tokenizer dir> <gsm8k dir>}
export LD_LIBRARY_PATH="$build/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
work=$(mktemp -d)
mkdir -p "$work/data/gsm8k" && cp "$gsm/train.jsonl" "$gsm/test.jsonl" "$work/data/gsm8k/"
export R1_DATA_DIR="$work/data"
"$build/r1" convert --model qwen2.5-0.5b --tokenizer "$tok" -o "$work/model" --dtype bf16 >/dev/null
python3 - "$gsm/train.jsonl" "$work/cold.jsonl" <<'PY'
import json, sys
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as out:
    for i, line in enumerate(f):
        if i == 256: break
        row = json.loads(line)
        reasoning, answer = row["answer"].split("####")
        out.write(json.dumps({"prompt": row["question"],
                              "response": "<think>%s</think> <answer>%s</answer>" % (reasoning.strip(), answer.strip())}) + "\n")
PY
train="$work/data/gsm8k/train.jsonl" test="$work/data/gsm8k/test.jsonl"
rl() {  # the shrunk settings of an RL stage
  echo "--set $1.task.path=$train --set $1.task.held_out_path=$test --set $1.grpo.steps=3"
  echo "--set $1.grpo.prompts_per_step=16 --set $1.grpo.group_size=8 --set $1.grpo.minibatches=2"
  echo "--set $1.rollout.max_new_tokens=128 --set $1.eval.every=1000 --set $1.eval.problems=32"
  echo "--set $1.eval.samples=1 --set $1.checkpoint.every=1"
}
start=$(date +%s)
# shellcheck disable=SC2046
"$build/r1" pipeline --config configs/r1-qwen2.5-0.5b-gpu.yaml --run "$work/run" \
  --set base_model="$work/model" \
  --set cold_start.data.path="$work/cold.jsonl" --set cold_start.train.epochs=1 \
  $(rl reasoning_rl) \
  --set rejection.problems.path="$train" --set rejection.problems.count=32 --set rejection.sampling.n=4 \
  --set rejection.sampling.max_new_tokens=128 --set 'rejection.rewards=[{name: format, min: 0.0}]' \
  --set rejection.filter.drop_truncated=false \
  --set rejection_sft.train.epochs=1 \
  $(rl final_rl) \
  --set eval.limit=64 --set eval.sampling.samples=2 --set eval.sampling.max_new_tokens=128 \
  --set 'eval.metrics.pass_k=[1, 2]' --set 'eval.metrics.cons_k=[2]' 2>&1 | grep -v -E "^\S+ +[0-9]+/[0-9]+ " | tail -40
echo "pipeline wall time: $(( $(date +%s) - start )) s"
cat "$work/run/stages.md" 2>/dev/null || ls -R "$work/run" | head -40
