#!/usr/bin/env bash
# The paper's distillation-vs-RL finding (DeepSeek-R1 §4.1) at the tiny scale, per seed:
#   teacher:  the main job — `r1 pretrain` (tiny shape) + R1-Zero GRPO (configs/r1-zero-tiny.yaml);
#   student:  a SMALLER base pretrained on the same corpus (hidden 32, MLP 64, 2 heads: ~1/3 of the teacher);
#   (a) RL:   the same GRPO config and budget as the teacher's RL, run on the student;
#   (b) distillation: `r1 distill` — the teacher's correct traces on TRAIN problems, SFT of the student on them;
# and one table per seed (runs/distill-vs-rl/seed<N>/distill/stages.md): teacher, student base, student after
# RL, student distilled, all evaluated by the same `r1 eval` section (256 held-out problems, pass@1 over 4
# samples at temperature 0.6, top-p 0.95, 95% intervals). Re-running skips whatever is already there.
#   SEEDS="0 1 2" bash scripts/experiments/distill-vs-rl.sh        (R1=path/to/r1 to pick the binary)
set -euo pipefail
cd "$(dirname "$0")/../.."
R1="${R1:-./build/cpu/r1}"
SEEDS="${SEEDS:-0 1 2}"
OUT="${OUT:-runs/distill-vs-rl}"
STUDENT_SHAPE=(--hidden-size 32 --intermediate-size 64 --heads 2 --kv-heads 1)

for seed in $SEEDS; do
  d="$OUT/seed$seed"
  mkdir -p "$d"
  [ -f "$d/teacher-base/model/model.safetensors" ] ||
    "$R1" pretrain --output "$d/teacher-base" --overwrite --seed "$seed"
  [ -f "$d/teacher-rl/summary.json" ] || { rm -rf "$d/teacher-rl";
    "$R1" grpo --config configs/r1-zero-tiny.yaml --run "$d/teacher-rl" --set seed="$seed" \
      --set model.path="$d/teacher-base/model"; }
  [ -f "$d/student-base/model/model.safetensors" ] ||
    "$R1" pretrain --output "$d/student-base" --overwrite --seed "$seed" "${STUDENT_SHAPE[@]}"
  # (a) the teacher's RL recipe and budget, on the student
  [ -f "$d/student-rl/summary.json" ] || { rm -rf "$d/student-rl";
    "$R1" grpo --config configs/r1-zero-tiny.yaml --run "$d/student-rl" --set seed="$seed" \
      --set model.path="$d/student-base/model"; }
  # (b) distillation, with (a) evaluated alongside by the same eval section
  "$R1" distill --config configs/distill-tiny.yaml --run "$d/distill" \
    --set teacher_model="$d/teacher-rl" --set student_model="$d/student-base/model" \
    --set traces.seed="$seed" --set sft.seed="$seed" \
    --set "compare=[{name: student_rl, model: $d/student-rl}]"
done

echo
for seed in $SEEDS; do
  echo "seed $seed:"
  cat "$OUT/seed$seed/distill/stages.md"
done
