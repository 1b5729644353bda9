# Sourced by the ncu_*.sh scripts: the bundle (first argument, default build/gpu-bundle) with its shared
# libraries unpacked, the batch (second argument, default 256), the output folder ($OUT or /tmp/r1_ncu) and the
# Nsight Compute binary.
b=${1:-build/gpu-bundle}
B=${2:-256}
out=${OUT:-/tmp/r1_ncu}
mkdir -p "$out"
[[ -d "$b/lib" ]] || tar -C "$b" -xJf "$b/lib.tar.xz"
export LD_LIBRARY_PATH="$b/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/bin/ncu 2>/dev/null | head -1)
