#!/usr/bin/env bash
# Every GPU check and benchmark of the CUDA backend in ONE device call (run from the repo root on the GPU
# machine, with the folder bench/cuda/bundle.sh made carried):
#   1. parity_ops --check-only        every op vs the CPU reference
#   2. parity_model                   the whole model vs the CPU model (qwen2, llama, llama with all biases), then
#                                     the training step table (LM-head chunks 1024 and 4096)
#   3. generate_run.sh                decode parity, our rollout throughput, transformers' generate
#   4. run_bf16.sh                    bf16 CUDA model + engine vs transformers bf16
#   5. grpo_step.sh                   one end-to-end GRPO step (64 x 8, 512 new tokens) with its time split
#   6. pipeline_smoke.sh              configs/r1-qwen2.5-0.5b-gpu.yaml's five stages + evaluations, shrunk
#   7. dist_check.sh                  1 rank vs 2 ranks (NCCL, ZeRO-1): loss curves, scaling, memory per GPU
#   8. dist_failure.sh                torchrun launch, a dead and a hung rank, resume on another world size
#                                     7 and 8 need 2 GPUs (nvidia-h200-x2) and are not in the default list
# Each step's log goes to $OUT; a summary table of exit codes is printed last.
#   bench/cuda/run_all.sh [bundle dir, default build/gpu-bundle] [steps to run, default "1 2 3 4 5 6"]
set -uo pipefail
bundle=${1:-build/gpu-bundle}
steps=${2:-1 2 3 4 5 6}
out=${OUT:-/tmp/r1_gpu_out}
mkdir -p "$out"
tar -C "$bundle" -xJf "$bundle/lib.tar.xz"
tar -C "$bundle" -xJf "$bundle/qwen2.5-tokenizer.tar.xz"
tar -C "$bundle" -xJf "$bundle/gsm8k.tar.xz"
export LD_LIBRARY_PATH="$bundle/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | tee "$out/device.txt"
declare -A status
run() {  # run <n> <name> <command...>
  local n=$1 name=$2
  shift 2
  [[ " $steps " == *" $n "* ]] || return 0
  echo "=== $n. $name"
  timeout 300 "$@" > "$out/$n-$name.log" 2>&1
  status[$n-$name]=$?
  tail -n 25 "$out/$n-$name.log"
}
run 1 parity_ops "$bundle/parity_ops" --check-only
run 2 parity_model "$bundle/parity_model" --steps 10
run 3 generate bash bench/cuda/generate_run.sh "$bundle"
run 4 hf_bf16 env OUT="$out/hf_bf16" bash bench/hf_compat/run_bf16.sh "$bundle"
run 5 grpo_step bash bench/cuda/grpo_step.sh "$bundle" "$bundle/qwen2.5"
run 6 pipeline_smoke bash bench/cuda/pipeline_smoke.sh "$bundle" "$bundle/qwen2.5" "$bundle/gsm8k"
run 7 dist_check bash bench/cuda/dist_check.sh "$bundle"
run 8 dist_failure bash bench/cuda/dist_failure.sh "$bundle"
echo "| step | exit |"
echo "|---|---|"
for k in $(printf '%s\n' "${!status[@]}" | sort); do echo "| $k | ${status[$k]} |"; done
