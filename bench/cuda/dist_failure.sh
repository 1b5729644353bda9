#!/usr/bin/env bash
# Launchers and failure behaviour of a 2-GPU NCCL job (nvidia-h200-x2), on SFT of a random Qwen2.5-0.5B-shaped model:
#   1. torchrun --nproc-per-node 2 --no-python r1 sft ...  the launch users type; 8 steps (STEPS), checkpoints every 4
#   2. dead rank:  2 ranks started by hand with torchrun's variables; rank 1 is killed (SIGKILL) once step 5 is
#                  logged. Rank 0 must exit non-zero, naming the failure, within R1_DIST_TIMEOUT + 30 s.
#   3. resume:     that run goes on from its step-4 checkpoint on ONE rank (another world size) to step 8; its
#                  last loss must match run 1's within bf16 noise (2e-2) when run 1 ran (torchrun present).
#   4. hung rank:  as 2, but rank 1 is stopped (SIGSTOP) instead: rank 0 must fail with a timeout error.
# Builds nothing: pass the folder holding a CUDA build's r1 (bundle.sh's folder with lib/ and qwen2.5/ unpacked,
# as run_all.sh does).   bench/cuda/dist_failure.sh [build dir, default build/cuda]
# Prints a table of the four checks; exit status 0 when all pass. DEVICE=cpu MODEL=runs/base-tiny (a model directory
# with its tokenizer) tries the script's logic on the CPU (Gloo), where no GPU is.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/cuda}
source "$root/bench/cuda/dist_setup.sh"
export R1_DIST_TIMEOUT=${R1_DIST_TIMEOUT:-20}
out=${OUT:-/tmp}/dist_failure
steps=${STEPS:-8} half=$(( ${STEPS:-8} / 2 ))  # checkpoints every half; a rank goes once step half + 1 is logged
rm -rf "$out" && mkdir -p "$out"
tok_arg=(--tokenizer "$tok")
[[ -d ${MODEL:-} ]] && tok_arg=()  # a model directory brings its own tokenizer
"$r1" convert --model "${MODEL:-qwen2.5-0.5b}" -o "$out/model" "${tok_arg[@]}" --dtype bf16 > "$out/convert.log" 2>&1 || exit 2
cat > "$out/sft.yaml" <<YAML
device: ${DEVICE:-cuda}
model: {path: $out/model}
data: {source: addition, count: 4000, eval_count: 32, min_digits: 3, max_digits: 6}
train: {max_steps: $steps, batch_tokens: 8192, shuffle: true}
optim: {lr: 3.0e-4, warmup_steps: 2}
eval: {every: 1000}
checkpoint: {every: $half}
YAML

declare -A verdict
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$2"; }
last_step() {  # the largest step in a run's metrics.jsonl with a training loss (0 if none yet)
  python3 - "$1/metrics.jsonl" <<'PY' 2>/dev/null || echo 0
import json, sys
print(max([r["step"] for r in map(json.loads, open(sys.argv[1])) if "train/loss" in r] or [0]))
PY
}
loss_at() {
  python3 - "$1/metrics.jsonl" "$2" <<'PY'
import json, sys
print([r["train/loss"] for r in map(json.loads, open(sys.argv[1])) if r["step"] == int(sys.argv[2]) and "train/loss" in r][-1])
PY
}

# 1. torchrun
if command -v torchrun > /dev/null; then
  torchrun --nproc-per-node 2 --master-port 29611 --no-python "$r1" sft --config "$out/sft.yaml" --run-dir "$out/torchrun" \
    > "$out/torchrun.log" 2>&1
  rc=$?
  done=$(last_step "$out/torchrun")
  verdict[1-torchrun]="exit $rc, $done steps"
  [[ $rc == 0 && $done == $steps ]] && verdict[1-torchrun]+=" PASS" || verdict[1-torchrun]+=" FAIL"
  [[ ${verdict[1-torchrun]} == *FAIL* ]] && grep -v "^sft " "$out/torchrun.log" | grep -i -m5 -E "error|fail"
else
  verdict[1-torchrun]="no torchrun on this machine SKIP"
fi

# 2 and 4: two ranks by hand; $1 = name, $2 = signal for rank 1, $3 = port
broken_pair() {
  local name=$1 sig=$2 port=$3 dir=$out/$1
  local common=(WORLD_SIZE=2 LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port)
  env "${common[@]}" RANK=0 LOCAL_RANK=0 "$r1" sft --config "$out/sft.yaml" --run "$dir" > "$out/$name-rank0.log" 2>&1 &
  local p0=$!
  env "${common[@]}" RANK=1 LOCAL_RANK=1 "$r1" sft --config "$out/sft.yaml" --run "$dir" > "$out/$name-rank1.log" 2>&1 &
  local p1=$!
  local waited=0
  while (( $(last_step "$dir") <= half )) && kill -0 $p0 2> /dev/null && (( waited < 600 )); do sleep 0.2; waited=$((waited + 1)); done
  # Rank 0 must still be training when rank 1 goes: an earlier exit is not the behaviour under test.
  local training=no
  kill -0 $p0 2> /dev/null && (( $(last_step "$dir") > half )) && training=yes
  kill -"$sig" $p1
  local t0=$(now)
  wait $p0
  local rc=$? secs=$(elapsed "$t0" "$(now)")
  kill -KILL $p1 2> /dev/null; wait $p1 2> /dev/null
  local why=$(grep -m1 -i -E "error|fail|timeout" "$out/$name-rank0.log" | cut -c1-300)
  echo "$name: rank 0 training when rank 1 went: $training; exit $rc after $secs s: $why"
  verdict[$name]="rank 0 exit $rc after $secs s"
  local limit=$(python3 -c "print($R1_DIST_TIMEOUT + 30)")
  if [[ $training == yes && $rc != 0 && -n $why ]] && python3 -c "import sys; sys.exit(0 if $secs <= $limit else 1)"; then
    verdict[$name]+=" PASS"
  else
    verdict[$name]+=" FAIL"
  fi
}
broken_pair 2-dead-rank KILL 29621

# 3. resume the dead-rank run on one rank
if [[ -d $out/2-dead-rank/checkpoints ]]; then
  "$r1" sft --config "$out/sft.yaml" --run "$out/2-dead-rank" --resume > "$out/3-resume.log" 2>&1
  rc=$?
  done=$(last_step "$out/2-dead-rank")
  verdict[3-resume]="exit $rc, $done steps"
  if [[ $rc == 0 && $done == $steps && -f $out/torchrun/metrics.jsonl ]]; then
    a=$(loss_at "$out/torchrun" $steps) b=$(loss_at "$out/2-dead-rank" $steps)
    verdict[3-resume]+=", last loss $b vs torchrun's $a"
    python3 -c "import sys; sys.exit(0 if abs($a - $b) < 2e-2 else 1)" && verdict[3-resume]+=" PASS" || verdict[3-resume]+=" FAIL"
  elif [[ $rc == 0 && $done == $steps ]]; then
    verdict[3-resume]+=" (no torchrun run to compare losses with) PASS"
  else
    verdict[3-resume]+=" FAIL"
  fi
else
  verdict[3-resume]="no checkpoint to resume FAIL"
fi

broken_pair 4-hung-rank STOP 29631

echo "| check | result |"
echo "|---|---|"
failed=0
for k in $(printf '%s\n' "${!verdict[@]}" | sort); do
  echo "| $k | ${verdict[$k]} |"
  [[ ${verdict[$k]} == *FAIL* ]] && failed=1
done
exit $failed
