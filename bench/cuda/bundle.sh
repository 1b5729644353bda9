#!/usr/bin/env bash
# Packs everything the GPU machine needs for bench/cuda/run_all.sh into one folder under the 64 MiB a device call
# may carry: the CUDA build's programs (r1 and the tests/gpu checks), their non-CUDA shared libraries (OpenBLAS is
# 36 MB uncompressed, so lib/ travels as lib.tar.xz), the Qwen2.5 tokenizer and GSM8K (xz too).
#   bench/cuda/bundle.sh [cuda build dir, default build/cuda] [bundle dir, default build/gpu-bundle]
# then: run(command="bash bench/cuda/run_all.sh build/gpu-bundle", carry=["build/gpu-bundle"])
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/cuda}
out=${2:-$root/build/gpu-bundle}
programs=(r1 parity_ops parity_model parity_decode bench_generate hf_bf16_check)
cmake --build "$build" --target r1_cli "${programs[@]:1}"
rm -rf "$out" && mkdir -p "$out/lib"
for p in "${programs[@]}"; do
  cp "$build/$p" "$out/"
  "$root/bench/cuda/collect_libs.sh" "$out/$p" >/dev/null  # fills $out/lib
done
tar -C "$out" -cJf "$out/lib.tar.xz" lib && rm -rf "$out/lib"
tar -C "$root/../shared/data/tokenizers" -cJf "$out/qwen2.5-tokenizer.tar.xz" qwen2.5
tar -C "$root/../shared/data" -cJf "$out/gsm8k.tar.xz" gsm8k  # for pipeline_smoke.sh
du -sh "$out"
ls -la "$out"
