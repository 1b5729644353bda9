#!/usr/bin/env bash
# ONE call on the GPU machine (run from the repo root): transformers bf16 references (bf16_check.py, on the GPU),
# then the C++ check of the CUDA model + rollout engine against them (tests/gpu/hf_bf16_check.cu). Builds nothing:
# carry the folder holding hf_bf16_check and its lib/ (bench/cuda/collect_libs.sh fills it).
#   here:  cmake --build build/hfbf16 --target hf_bf16_check && bench/cuda/collect_libs.sh build/hfbf16/hf_bf16_check
#   there: bench/hf_compat/run_bf16.sh [folder, default build/hfbf16]
# Results under $OUT: bf16_check.log (transformers' own bf16-vs-f32 gaps), hf_bf16_check.log (the table),
# manifest_bf16.json. Exit status: 0 when both steps passed.
set -uo pipefail
dir=${1:-build/hfbf16}
out=${OUT:-/tmp/hf_bf16_out}
refs=$(mktemp -d /tmp/hf_bf16_refs.XXXXXX)
mkdir -p "$out"
export PYTHONUNBUFFERED=1
status=0
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
python3 bench/hf_compat/bf16_check.py --out "$refs" 2>&1 | tee "$out/bf16_check.log"
[[ ${PIPESTATUS[0]} -eq 0 ]] || status=1
[[ -f $refs/manifest_bf16.json ]] && cp "$refs/manifest_bf16.json" "$out/"
if [[ ! -x $dir/hf_bf16_check ]]; then
  echo "run_bf16.sh: no executable $dir/hf_bf16_check (build it, then bench/cuda/collect_libs.sh on it)" >&2
  status=1
elif [[ $status -eq 0 ]]; then
  LD_LIBRARY_PATH="$dir/lib:/usr/local/cuda/lib64:/usr/local/cuda/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    "$dir/hf_bf16_check" "$refs" 2>&1 | tee "$out/hf_bf16_check.log"
  [[ ${PIPESTATUS[0]} -eq 0 ]] || status=1
fi
echo "run_bf16.sh: exit $status"
exit $status
