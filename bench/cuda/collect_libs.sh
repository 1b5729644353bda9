#!/usr/bin/env bash
# Copies the shared libraries a binary needs that the GPU machine's image may lack (OpenBLAS, libgfortran,
# libgomp, ...) into a lib/ folder beside it, so the folder can be carried there and run with run_parity.sh.
# CUDA's own libraries (cuBLAS/cuBLASLt) are NOT copied: the GPU machine has the same CUDA 13.0 toolkit, and
# they are far too large to carry. Usage: bench/cuda/collect_libs.sh <binary>
set -euo pipefail
bin=${1:?usage: collect_libs.sh <binary>}
dir=$(dirname "$bin")/lib
mkdir -p "$dir"
ldd "$bin" | awk '/=> \// {print $3}' | while read -r lib; do
  case "$lib" in
    */cuda*|*/libstdc++.so*|*/libgcc_s.so*|*/libc.so*|*/libm.so*|*/libpthread.so*|*/libdl.so*|*/librt.so*|*/ld-linux*) ;;
    *) cp -L "$lib" "$dir/" ;;
  esac
done
ls -la "$dir"
