#!/usr/bin/env bash
# Builds the CPU preset and runs the whole test suite (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset cpu >/dev/null
cmake --build --preset cpu -j "$(nproc)"
ctest --preset cpu -j "$(nproc)"
