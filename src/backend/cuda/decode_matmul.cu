// The decode step's layer products y = x W^T (+ b) for a few hundred rows x [T, I] against whole weight matrices
// W [O, I], as our own tensor-core kernel. Why not cuBLASLt: at T <= 256 its kernels tile 128 x 128 (or larger)
// and walk all of I in one block, so q/k/v/o_proj and down_proj run on 2-28 blocks of 132 SMs and cost 8-11 us
// each whatever their size (measured: k_proj, 896 x 128, at 20-30 GB/s). Here a block owns a 64 x 64 output
// tile and 1/S of the reduction dimension; the S blocks of one tile form a thread-block cluster and add their
// partial tiles through distributed shared memory in a fixed order (deterministic, no workspace, no atomics,
// capturable in a CUDA graph; decode_products.cuh). Up to three products that share x (q/k/v, gate/up) run in one
// launch. This file also holds the public entry points, which dispatch to this kernel or the wgmma one
// (decode_matmul_wgmma.cu).
//
// Per block of this (mma.sync) kernel: 4 warps, each a 32 x 32 sub-tile (2 x 4 mma.m16n8k16 tiles, float32
// accumulators); x and W tiles of 64 rows x 64 columns stream through a 3-stage cp.async pipeline (rows padded
// to 72 elements: the fragment loads of 8 rows x 4 lanes hit 32 different banks). Rows of x past T are clamped
// to row T-1 and not stored.
#include <cuda_bf16.h>

#include <cstdint>
#include <string>

#include "backend/cuda/async_copy.cuh"
#include "backend/cuda/check.h"
#include "backend/cuda/common.cuh"
#include "backend/cuda/decode_ops.h"
#include "backend/cuda/decode_products.cuh"
#include "backend/cuda/mma.cuh"
#include "backend/cuda/pdl.cuh"
#include "core/error.h"

namespace r1::cuda {

namespace {

using decode_products::Products;

constexpr int kTile = 64;          // rows of x (tokens) and of W (output features) per block; also the k step
constexpr int kLd = kTile + 8;     // padded shared-memory row (bf16 elements)
constexpr int kStages = 3;
constexpr int kThreads = 128;
constexpr int kPartialLd = kTile + 4;  // float32 partial tile row, padded
constexpr size_t kPipelineBytes = size_t(kStages) * 2 * kTile * kLd * sizeof(bf16);
constexpr size_t kPartialBytes = size_t(kTile) * kPartialLd * sizeof(float);
constexpr size_t kSmemBytes = kPipelineBytes > kPartialBytes ? kPipelineBytes : kPartialBytes;

// Grid (tiles over all products, ceil(T / 64), S); cluster (1, 1, S).
__global__ void __launch_bounds__(kThreads) decode_matmul_kernel(const bf16* __restrict__ x, int T, int I,
                                                                 Products p, const DecodeRopeEpilogue rope) {
  extern __shared__ __align__(16) unsigned char smem[];
  bf16* sx = reinterpret_cast<bf16*>(smem);  // [stage][64][kLd]
  bf16* sw = sx + kStages * kTile * kLd;     // [stage][64][kLd]

  const decode_products::Tile tile = decode_products::block_tile<kTile>(p);
  const bf16* __restrict__ W = p.W[tile.which] + int64_t(tile.n0) * I;
  const int t0 = int(blockIdx.y) * kTile;

  const int S = int(gridDim.z), split = int(blockIdx.z);  // the cluster spans z: rank = blockIdx.z
  const int steps = I / kTile, k_begin = split * steps / S, k_end = (split + 1) * steps / S, n_steps = k_end - k_begin;

  // Each stage: 64 rows x 8 chunks of 16 bytes per operand = 512 chunks, 4 per thread.
  auto load_x = [&](int slot, int k_step) {
    const int k0 = k_step * kTile;
#pragma unroll
    for (int c = int(threadIdx.x); c < kTile * 8; c += kThreads) {
      const int row = c / 8, col = (c % 8) * 8;
      const int xr = min(t0 + row, T - 1);
      cp_async16(sx + (slot * kTile + row) * kLd + col, x + int64_t(xr) * I + k0 + col);
    }
  };
  auto load_w = [&](int slot, int k_step) {
    const int k0 = k_step * kTile;
#pragma unroll
    for (int c = int(threadIdx.x); c < kTile * 8; c += kThreads) {
      const int row = c / 8, col = (c % 8) * 8;
      cp_async16(sw + (slot * kTile + row) * kLd + col, W + int64_t(row) * I + k0 + col);
    }
  };

  // A programmatic dependent (pdl.cuh): the first stages' weights are requested while the kernel that writes x
  // is still running; x after it completes. The weight copies join the first stage's commit group.
  allow_dependents();
  const int warp = int(threadIdx.x) / 32, wt = warp / 2, wn = warp % 2;
  float acc[2][4][4] = {};
#pragma unroll
  for (int s = 0; s < kStages - 1; s++)
    if (s < n_steps) load_w(s, k_begin + s);
  dependency_wait();
#pragma unroll
  for (int s = 0; s < kStages - 1; s++) {
    if (s < n_steps) load_x(s, k_begin + s);
    cp_async_commit();
  }
  for (int i = 0; i < n_steps; i++) {
    cp_async_wait<kStages - 2>();
    __syncthreads();  // stage i is visible to all warps; every warp is done with the slot refilled next
    if (i + kStages - 1 < n_steps) {
      load_x((i + kStages - 1) % kStages, k_begin + i + kStages - 1);
      load_w((i + kStages - 1) % kStages, k_begin + i + kStages - 1);
    }
    cp_async_commit();
    const bf16* xs = sx + (i % kStages) * kTile * kLd;
    const bf16* ws = sw + (i % kStages) * kTile * kLd;
#pragma unroll
    for (int kk = 0; kk < kTile; kk += 16) {
      uint32_t a[2][4], b[4][2];
#pragma unroll
      for (int mi = 0; mi < 2; mi++) load_a(a[mi], xs, kLd, 32 * wt + 16 * mi, kk);
#pragma unroll
      for (int ni = 0; ni < 4; ni++) load_b_nk(b[ni], ws, kLd, 32 * wn + 8 * ni, kk);
#pragma unroll
      for (int mi = 0; mi < 2; mi++)
#pragma unroll
        for (int ni = 0; ni < 4; ni++) mma_bf16(acc[mi][ni], a[mi], b[ni]);
    }
  }
  cp_async_wait<0>();
  __syncthreads();  // the pipeline's shared memory becomes this block's partial tile

  float* partial = reinterpret_cast<float*>(smem);  // [64][kPartialLd]
  const int lane = int(threadIdx.x) % 32, g = lane / 4, tq = lane % 4;
#pragma unroll
  for (int mi = 0; mi < 2; mi++)
#pragma unroll
    for (int ni = 0; ni < 4; ni++) {
      const int r = 32 * wt + 16 * mi + g, c = 32 * wn + 8 * ni + 2 * tq;
      *reinterpret_cast<float2*>(partial + r * kPartialLd + c) = make_float2(acc[mi][ni][0], acc[mi][ni][1]);
      *reinterpret_cast<float2*>(partial + (r + 8) * kPartialLd + c) = make_float2(acc[mi][ni][2], acc[mi][ni][3]);
    }
  decode_products::finish_tile<kTile, kTile, kThreads>(partial, kPartialLd, tile, t0, T, p, rope);
}

bool aligned16(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; }

}  // namespace

bool decode_rope_epilogue_supported(int I, const DecodeProduct* products, int count, const DecodeRopeEpilogue& rope) {
  return count == 3 && rope.head_dim == kTile && rope.Hkv > 0 && products[1].O == rope.Hkv * kTile &&
         products[2].O == rope.Hkv * kTile && products[0].O % kTile == 0 && I % kTile == 0 && rope.k_pool &&
         rope.v_pool && rope.positions && rope.slots && rope.cos_table && rope.sin_table;
}

bool decode_matmul_supported(const bf16* x, int I, const DecodeProduct* products, int count,
                             const DecodeKernel& kernel) {
  const int features = kernel.features;
  if (!kernel.tile_exists()) return false;
  if (kernel.splits < 1 || kernel.splits > kMaxDecodeSplits || kernel.splits > I / kTile) return false;
  if (count < 1 || count > kMaxDecodeProducts || I <= 0 || I % kTile != 0 || !aligned16(x)) return false;
  for (int i = 0; i < count; i++) {
    const DecodeProduct& q = products[i];
    if (q.O <= 0 || q.O % features != 0 || !aligned16(q.W) || !aligned16(q.y)) return false;
  }
  return true;
}

bool decode_wgmma_available() { return wgmma_available(); }

void decode_matmul(Context& ctx, const bf16* x, int T, int I, const DecodeProduct* products, int count,
                   const DecodeKernel& kernel, const DecodeRopeEpilogue* rope) {
  if (T <= 0) return;
  if (rope && !decode_rope_epilogue_supported(I, products, count, *rope))
    throw Error("cuda: decode_matmul: the RoPE epilogue needs q, k, v products of head dim 64");
  if (!decode_matmul_supported(x, I, products, count, kernel))
    throw Error("cuda: decode_matmul: unsupported shape for " + kernel.name() + " (I = " + std::to_string(I) +
                ": I a multiple of 64 and of 64 x splits at most, splits <= " + std::to_string(kMaxDecodeSplits) +
                ", output widths multiples of the tile's features, pointers 16-byte aligned, 1-3 products)");
  Products p{};
  const int tiles = decode_products::make_products(p, products, count, kernel.features);
  const DecodeRopeEpilogue epilogue = rope ? *rope : DecodeRopeEpilogue{};
  if (kernel.wgmma) {
    if (!decode_wgmma_available()) throw Error("cuda: decode_matmul: the wgmma kernel needs an sm_90 GPU");
    return decode_products::launch_wgmma(ctx, x, T, I, p, tiles, kernel, epilogue);
  }
  // The largest carveout lets 4 blocks share an SM.
  static const bool configured = configure_kernel("decode_matmul", decode_matmul_kernel, kSmemBytes);
  (void)configured;
  decode_products::launch_split_clusters("decode_matmul", decode_matmul_kernel,
                                         dim3(unsigned(tiles), unsigned(ceil_div(T, kTile)), unsigned(kernel.splits)),
                                         kThreads, kSmemBytes, ctx.stream(), x, T, I, p, epilogue);
}

}  // namespace r1::cuda
