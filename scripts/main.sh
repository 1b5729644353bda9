#!/usr/bin/env bash
# The main job on the built-in tiny model, end to end on a CPU:
#   1. build;
#   2. `r1 pretrain`: a tokenizer and a tiny base model from the built-in corpus of mixed-format, partly wrong
#      addition solutions (some ability, unreliable, untidy — what R1-Zero starts from);
#   3. `r1 grpo`: R1-Zero RL with rule-based rewards (answer accuracy + <think>/<answer> format), printing the
#      held-out accuracy and format rate before and after, and writing runs/r1-zero-tiny/report.html.
set -euo pipefail
cd "$(dirname "$0")/.."
SEED="${SEED:-0}"
cmake --preset cpu >/dev/null
cmake --build --preset cpu -j "$(nproc)" --target r1_cli
./build/cpu/r1 info tiny
./build/cpu/r1 pretrain --output runs/base-tiny --overwrite --seed "$SEED"
rm -rf runs/r1-zero-tiny
./build/cpu/r1 grpo --config configs/r1-zero-tiny.yaml --run runs/r1-zero-tiny --set seed="$SEED"
