#!/usr/bin/env bash
# Builds tests/gpu/parity_ops.cu by hand against an already-built r1_cuda / r1_backend / r1_core (until the
# CMake target parity_ops exists), then gathers its non-CUDA shared libraries into lib/ beside it.
#   bench/cuda/build_parity.sh [build dir with the libraries, default build/cuda]  -> <build dir>/parity/parity_ops
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/cuda}
out=$build/parity
mkdir -p "$out"
/usr/local/cuda/bin/nvcc -std=c++20 -O2 -gencode=arch=compute_90a,code=sm_90a -gencode=arch=compute_90,code=compute_90 \
  -I "$root/src" -Xcompiler -fopenmp -o "$out/parity_ops" "$root/tests/gpu/parity_ops.cu" "$root/src/backend/cpu/optimizer.cpp" \
  "$build/libr1_cuda.a" "$build/libr1_backend.a" "$build/libr1_core.a" -lcublasLt -lopenblas -lgomp
"$root/bench/cuda/collect_libs.sh" "$out/parity_ops" >/dev/null
echo "built $out/parity_ops"
