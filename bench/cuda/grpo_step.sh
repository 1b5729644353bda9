#!/usr/bin/env bash
# One GRPO step end to end on the GPU, the shape of issue 7: a Qwen2.5-0.5B-shaped model with random bf16 weights
# and the real Qwen2.5 tokenizer, 64 prompts x 8 samples, up to 512 new tokens (a random model rarely samples
# EOS, so nearly every completion runs to 512), KL to a reference model (beta 0.04), micro-batches of 16k tokens.
# Step 1 warms up (graph capture, cuBLASLt heuristics); step 2 is the one reported, split as the trainer logs it:
# rollout (prefill + decode + sampling), rewards, old + reference log-probs, and the rest of the update (policy
# forward + backward + AdamW). The PyTorch + transformers version of the same step: bench/reference/torch_grpo_step.py.
#   bench/cuda/grpo_step.sh <cuda build dir holding r1 and lib/> <tokenizer dir>
set -euo pipefail
build=${1:?usage: grpo_step.sh <cuda build dir> <tokenizer dir>}
tok=${2:?usage: grpo_step.sh <cuda build dir> <tokenizer dir>}
export LD_LIBRARY_PATH="$build/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
work=$(mktemp -d)
"$build/r1" convert --model qwen2.5-0.5b --tokenizer "$tok" -o "$work/model" --dtype bf16 >/dev/null
cat > "$work/grpo.yaml" <<YAML
model: {path: $work/model, template: qwen2.5}
device: cuda
task: {name: addition, min_digits: 3, max_digits: 5}
grpo: {steps: 2, prompts_per_step: 64, group_size: 8, beta: 0.04, micro_batch_tokens: 16384}
rollout: {max_new_tokens: 512, max_slots: 512, stop: []}
optim: {lr: 1.0e-6}
eval: {every: 100, problems: 8, samples: 1}
checkpoint: {every: 100, keep: 1}
log: {samples_per_step: 0}
YAML
"$build/r1" grpo --config "$work/grpo.yaml" --run "$work/run" 2>&1 | grep -v "^grpo " | tail -5
python3 - "$work/run/metrics.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
step = [r for r in rows if r.get("step") == 2 and "time/rollout_s" in r]
if not step:
    step = [r for r in rows if "time/rollout_s" in r][-1:]
r = step[-1]
lp = r.get("time/old_ref_logprobs_s", 0.0)
rows_out = [("rollout (prefill + decode + sampling)", r["time/rollout_s"]), ("rewards", r["time/reward_s"]),
            ("old + reference log-probs", lp), ("policy forward + backward + AdamW", r["time/train_s"] - lp),
            ("total step", r["perf/step_s"])]
print("| phase (step %d) | seconds |\n|---|---|" % r["step"])
for k, v in rows_out: print("| %s | %.2f |" % (k, v))
print("generated tokens/s: %.0f" % r.get("perf/generated_tokens_per_s", 0))
PY
