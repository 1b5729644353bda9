# Sourced by dist_check.sh and dist_failure.sh with $root (the repo) and $build (a CUDA build's folder, or
# bundle.sh's with lib/ and qwen2.5/ unpacked) set: finds r1, puts its libraries (and NCCL) on the path, turns
# NVLink multicast off, and sets $tok to the Qwen2.5 tokenizer ($TOKENIZER overrides).
r1=$build/r1
[[ -x $r1 ]] || { echo "$(basename "$0"): no executable $r1" >&2; exit 2; }
export LD_LIBRARY_PATH="$build/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1  # never NVLink multicast
# collect_libs.sh leaves CUDA's own libraries behind; NCCL may live in PyTorch's wheel there instead.
if ldd "$r1" | grep -q "libnccl.*not found"; then
  nccl=$(python3 -c 'import nvidia.nccl, os; print(os.path.join(nvidia.nccl.__path__[0], "lib"))' 2>/dev/null)
  [[ -n $nccl ]] && export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$nccl" && echo "libnccl from $nccl"
fi
# The bundle's tokenizer when there is one: ../shared does not travel to the GPU machine.
tok=$build/qwen2.5/tokenizer.json
[[ -f $tok ]] || tok=$root/../shared/data/tokenizers/qwen2.5/tokenizer.json
tok=${TOKENIZER:-$tok}
