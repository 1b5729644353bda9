// The decode step's layer products y = x W^T (+ b) for a few hundred rows x [T, I] against whole weight matrices
// W [O, I], as our own tensor-core kernel. Why not cuBLASLt: at T <= 256 its kernels tile 128 x 128 (or larger)
// and walk all of I in one block, so q/k/v/o_proj and down_proj run on 2-28 blocks of 132 SMs and cost 8-11 us
// each whatever their size (measured: k_proj, 896 x 128, at 20-30 GB/s). Here a block owns a 64 x 64 output
// tile and 1/S of the reduction dimension; the S blocks of one tile form a thread-block cluster and add their
// partial tiles through distributed shared memory in a fixed order (deterministic, no workspace, no atomics,
// capturable in a CUDA graph). Up to three products that share x (q/k/v, gate/up) run in one launch.
//
// Per block: 4 warps, each a 32 x 32 sub-tile (2 x 4 mma.m16n8k16 tiles, float32 accumulators); x and W tiles of
// 64 rows x 64 columns stream through a 3-stage cp.async pipeline (rows padded to 72 elements: the fragment
// loads of 8 rows x 4 lanes hit 32 different banks). Rows of x past T are clamped to row T-1 and not stored.
#include <cooperative_groups.h>
#include <cuda_bf16.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "backend/cuda/async_copy.cuh"
#include "backend/cuda/check.h"
#include "backend/cuda/common.cuh"
#include "backend/cuda/decode_ops.h"
#include "backend/cuda/mma.cuh"
#include "backend/cuda/pdl.cuh"
#include "core/error.h"

namespace r1::cuda {

namespace {

namespace cg = cooperative_groups;

constexpr int kTile = 64;          // rows of x (tokens) and of W (output features) per block; also the k step
constexpr int kLd = kTile + 8;     // padded shared-memory row (bf16 elements)
constexpr int kStages = 3;
constexpr int kThreads = 128;
constexpr int kPartialLd = kTile + 4;  // float32 partial tile row, padded
constexpr size_t kPipelineBytes = size_t(kStages) * 2 * kTile * kLd * sizeof(bf16);
constexpr size_t kPartialBytes = size_t(kTile) * kPartialLd * sizeof(float);
constexpr size_t kSmemBytes = kPipelineBytes > kPartialBytes ? kPipelineBytes : kPartialBytes;

struct Products {
  const bf16* W[kMaxDecodeProducts];
  const bf16* bias[kMaxDecodeProducts];
  bf16* y[kMaxDecodeProducts];
  int O[kMaxDecodeProducts];
  int tiles_end[kMaxDecodeProducts];  // cumulative count of 64-column tiles: block x belongs to the first p with x < end
  int count;
};

// Grid (tiles over all products, ceil(T / 64), S); cluster (1, 1, S).
__global__ void __launch_bounds__(kThreads) decode_matmul_kernel(const bf16* __restrict__ x, int T, int I,
                                                                 Products p, const DecodeRopeEpilogue rope) {
  extern __shared__ __align__(16) unsigned char smem[];
  bf16* sx = reinterpret_cast<bf16*>(smem);  // [stage][64][kLd]
  bf16* sw = sx + kStages * kTile * kLd;     // [stage][64][kLd]

  int which = 0;
  while (int(blockIdx.x) >= p.tiles_end[which]) which++;
  const int n0 = (int(blockIdx.x) - (which ? p.tiles_end[which - 1] : 0)) * kTile;
  const bf16* __restrict__ W = p.W[which] + int64_t(n0) * I;
  const int t0 = int(blockIdx.y) * kTile;

  cg::cluster_group cluster = cg::this_cluster();
  const int S = int(cluster.num_blocks()), split = int(cluster.block_rank());
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
  cluster.sync();  // every block's partial tile is complete and visible to the cluster

  // Block `split` finishes rows [split * 64 / S, (split + 1) * 64 / S) of the tile: the S partials in rank order.
  const int r_begin = split * kTile / S, r_end = (split + 1) * kTile / S;
  const bf16* bias = p.bias[which];
  bf16* y = p.y[which];
  const int O = p.O[which];
  if (rope.k_pool) {
    // q/k/v with RoPE and the cache write (decode_rope_kv_write's formulas): this tile is head n0 / 64 of product
    // `which` (q, k, v); columns c and c + 32 are rotated together, after the bf16 rounding of y.
    constexpr int kHalf = kTile / 2;
    const int h = n0 / kTile;
    for (int e = r_begin * kHalf + int(threadIdx.x); e < r_end * kHalf; e += kThreads) {
      const int r = e / kHalf, c = e % kHalf, t = t0 + r;
      float lo = 0.0f, hi = 0.0f;
      for (int s = 0; s < S; s++) {
        const float* remote = cluster.map_shared_rank(partial, s);
        lo += remote[r * kPartialLd + c];
        hi += remote[r * kPartialLd + c + kHalf];
      }
      if (t >= T) continue;
      if (bias) lo += to_f32(bias[n0 + c]), hi += to_f32(bias[n0 + c + kHalf]);
      const float a = to_f32(to_bf16(lo)), b = to_f32(to_bf16(hi));
      const int64_t cache_row = (int64_t(rope.slots[t]) * rope.Hkv + h) * kTile;
      if (which == 2) {
        rope.v_pool[cache_row + c] = to_bf16(a), rope.v_pool[cache_row + c + kHalf] = to_bf16(b);
        continue;
      }
      const int64_t angle = int64_t(rope.positions[t]) * kHalf + c;
      const float cs = rope.cos_table[angle], sn = rope.sin_table[angle];
      bf16* dst = which == 0 ? y + int64_t(t) * O + n0 : rope.k_pool + cache_row;
      dst[c] = to_bf16(a * cs - b * sn);
      dst[c + kHalf] = to_bf16(b * cs + a * sn);
    }
    cluster.sync();  // keep this block's shared memory alive until every block of the cluster has read it
    return;
  }
  for (int e = r_begin * (kTile / 2) + int(threadIdx.x); e < r_end * (kTile / 2); e += kThreads) {
    const int r = e / (kTile / 2), c = (e % (kTile / 2)) * 2;
    float2 sum = make_float2(0.0f, 0.0f);
    for (int s = 0; s < S; s++) {
      const float* remote = cluster.map_shared_rank(partial, s);
      const float2 v = *reinterpret_cast<const float2*>(remote + r * kPartialLd + c);
      sum.x += v.x, sum.y += v.y;
    }
    if (t0 + r >= T) continue;
    if (bias) sum.x += to_f32(bias[n0 + c]), sum.y += to_f32(bias[n0 + c + 1]);
    *reinterpret_cast<__nv_bfloat162*>(y + int64_t(t0 + r) * O + n0 + c) = __floats2bfloat162_rn(sum.x, sum.y);
  }
  cluster.sync();  // keep this block's shared memory alive until every block of the cluster has read it
}

bool aligned16(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; }

}  // namespace

bool decode_rope_epilogue_supported(int I, const DecodeProduct* products, int count, const DecodeRopeEpilogue& rope) {
  return count == 3 && rope.head_dim == kTile && rope.Hkv > 0 && products[1].O == rope.Hkv * kTile &&
         products[2].O == rope.Hkv * kTile && products[0].O % kTile == 0 && I % kTile == 0 && rope.k_pool &&
         rope.v_pool && rope.positions && rope.slots && rope.cos_table && rope.sin_table;
}

bool decode_matmul_supported(const bf16* x, int I, const DecodeProduct* products, int count) {
  if (count < 1 || count > kMaxDecodeProducts || I <= 0 || I % kTile != 0 || !aligned16(x)) return false;
  for (int i = 0; i < count; i++) {
    const DecodeProduct& q = products[i];
    if (q.O <= 0 || q.O % kTile != 0 || !aligned16(q.W) || !aligned16(q.y)) return false;
  }
  return true;
}

void decode_matmul(Context& ctx, const bf16* x, int T, int I, const DecodeProduct* products, int count, int splits,
                   const DecodeRopeEpilogue* rope) {
  if (T <= 0) return;
  if (rope && !decode_rope_epilogue_supported(I, products, count, *rope))
    throw Error("cuda: decode_matmul: the RoPE epilogue needs q, k, v products of head dim 64");
  if (!decode_matmul_supported(x, I, products, count))
    throw Error("cuda: decode_matmul: unsupported shape (I = " + std::to_string(I) +
                " and every output width must be multiples of 64, pointers 16-byte aligned, 1-3 products)");
  if (splits < 1 || splits > kMaxDecodeSplits || splits > I / kTile)
    throw Error("cuda: decode_matmul: splits = " + std::to_string(splits) + " (1.." +
                std::to_string(std::min(kMaxDecodeSplits, I / kTile)) + " for I = " + std::to_string(I) + ")");
  Products p{};
  int tiles = 0;
  for (int i = 0; i < count; i++) {
    p.W[i] = products[i].W, p.bias[i] = products[i].bias, p.y[i] = products[i].y, p.O[i] = products[i].O;
    tiles += products[i].O / kTile;
    p.tiles_end[i] = tiles;
  }
  for (int i = count; i < kMaxDecodeProducts; i++) p.tiles_end[i] = tiles;
  p.count = count;

  // More than the default 48 KB of dynamic shared memory must be opted into, once per process (one GPU each);
  // the largest carveout lets 4 blocks share an SM.
  static const bool configured = [] {
    R1_CUDA_CHECK("decode_matmul", cudaFuncSetAttribute(decode_matmul_kernel,
                                                        cudaFuncAttributeMaxDynamicSharedMemorySize, int(kSmemBytes)));
    R1_CUDA_CHECK("decode_matmul", cudaFuncSetAttribute(decode_matmul_kernel,
                                                        cudaFuncAttributePreferredSharedMemoryCarveout,
                                                        int(cudaSharedmemCarveoutMaxShared)));
    return true;
  }();
  (void)configured;
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = dim3(unsigned(tiles), unsigned(ceil_div(T, kTile)), unsigned(splits));
  cfg.blockDim = dim3(kThreads);
  cfg.dynamicSmemBytes = kSmemBytes;
  cfg.stream = ctx.stream();
  cudaLaunchAttribute attr[2];
  attr[0].id = cudaLaunchAttributeClusterDimension;
  attr[0].val.clusterDim.x = 1;
  attr[0].val.clusterDim.y = 1;
  attr[0].val.clusterDim.z = unsigned(splits);
  attr[1].id = cudaLaunchAttributeProgrammaticStreamSerialization;  // see the kernel's dependency_wait()
  attr[1].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = 2;
  R1_CUDA_CHECK("decode_matmul", cudaLaunchKernelEx(&cfg, decode_matmul_kernel, x, T, I, p,
                                                    rope ? *rope : DecodeRopeEpilogue{}));
}

}  // namespace r1::cuda
