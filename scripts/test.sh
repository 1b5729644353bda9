#!/usr/bin/env bash
# Builds the CPU preset and runs the whole test suite (what CI runs). Where nvcc exists, it first also compiles the
# whole CUDA build (the r1 binary with --device cuda and the tests/gpu programs, which run on the GPU machine:
# bench/cuda/run_gpu.sh), so CUDA code that no longer compiles fails here. ctest runs last: its summary closes the output.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then
  echo "test.sh: nvcc found: compiling the CUDA build (r1 with --device cuda, GPU programs; compile only: no GPU here)"
  cmake --preset cuda -DR1_TESTS=OFF >/dev/null
  cmake --build --preset cuda -j "$(nproc)"
fi
cmake --preset cpu >/dev/null
cmake --build --preset cpu -j "$(nproc)"
ctest --preset cpu -j "$(nproc)"
