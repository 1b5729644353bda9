#!/usr/bin/env bash
# The main job on the built-in tiny model: build, describe the model, train it briefly (loss falls).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset cpu >/dev/null
cmake --build --preset cpu -j "$(nproc)" --target r1_cli
./build/cpu/r1 info tiny
