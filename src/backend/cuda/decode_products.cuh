// What the two decode product kernels (decode_matmul.cu: mma.sync, decode_matmul_wgmma.cu: wgmma) share: the
// launch's list of products, the block's output tile, and the epilogue that adds the cluster's partial tiles.
//
// Each block computes a float32 partial tile of kTokens x kFeatures outputs over its 1/S of the reduction and
// leaves it in its shared memory as [token][feature] rows of `ld` floats; the S blocks of a cluster then finish
// the tile together: block `split` sums rows [split * kTokens / S, (split + 1) * kTokens / S) of all S partials
// in rank order (deterministic) through distributed shared memory, adds the bias and stores bf16 — or, for
// q/k/v with a DecodeRopeEpilogue, rotates q / k and writes k / v to their cache slots.
#pragma once
#include <cooperative_groups.h>
#include <cuda_bf16.h>

#include <cstdint>
#include <utility>

#include "backend/cuda/check.h"
#include "backend/cuda/cluster_launch.cuh"
#include "backend/cuda/common.cuh"
#include "backend/cuda/decode_ops.h"

namespace r1::cuda::decode_products {

namespace cg = cooperative_groups;

struct Products {
  const bf16* W[kMaxDecodeProducts];
  const bf16* bias[kMaxDecodeProducts];
  bf16* y[kMaxDecodeProducts];
  int O[kMaxDecodeProducts];
  int tiles_end[kMaxDecodeProducts];  // cumulative count of feature tiles: block x belongs to the first p with x < end
  int count;
};

// Products of a launch whose feature tiles are `features` wide; returns the total number of tiles.
inline int make_products(Products& p, const DecodeProduct* products, int count, int features) {
  p = Products{};
  int tiles = 0;
  for (int i = 0; i < count; i++) {
    p.W[i] = products[i].W, p.bias[i] = products[i].bias, p.y[i] = products[i].y, p.O[i] = products[i].O;
    tiles += products[i].O / features;
    p.tiles_end[i] = tiles;
  }
  for (int i = count; i < kMaxDecodeProducts; i++) p.tiles_end[i] = tiles;
  p.count = count;
  return tiles;
}

// The block's product and first output feature.
struct Tile {
  int which, n0;
};
template <int kFeatures>
__device__ __forceinline__ Tile block_tile(const Products& p) {
  int which = 0;
  while (int(blockIdx.x) >= p.tiles_end[which]) which++;
  return {which, (int(blockIdx.x) - (which ? p.tiles_end[which - 1] : 0)) * kFeatures};
}

// Sums the S partials of a cluster at float offset `at` (rank order, fixed: deterministic); the block's own partial
// is read as local shared memory. All S loads are issued before the first add: distributed shared memory costs
// hundreds of cycles per access.
template <typename Vec>
__device__ __forceinline__ Vec sum_partials(cg::cluster_group& cluster, const float* partial, int S, int own,
                                            int at) {
  Vec v[kMaxDecodeSplits];
#pragma unroll
  for (int s = 0; s < kMaxDecodeSplits; s++)
    if (s < S) v[s] = *reinterpret_cast<const Vec*>((s == own ? partial : cluster.map_shared_rank(partial, s)) + at);
  Vec sum = v[0];
#pragma unroll
  for (int s = 1; s < kMaxDecodeSplits; s++)
    if (s < S) {
      sum.x += v[s].x, sum.y += v[s].y;
      if constexpr (sizeof(Vec) == 16) sum.z += v[s].z, sum.w += v[s].w;
    }
  return sum;
}

// Every block of the cluster calls this after writing its partial tile (no cluster.sync needed before). Each
// thread takes kBatch items at a time and loads all their partials before it stores any: one item after another,
// every item waited out its loads' latency (measured: the epilogue then took as long as the product).
template <int kTokens, int kFeatures, int kThreads>
__device__ void finish_tile(const float* partial, int ld, Tile tile, int t0, int T, const Products& p,
                            const DecodeRopeEpilogue& rope) {
  constexpr int kBatch = 4;
  cg::cluster_group cluster = cg::this_cluster();
  const int S = int(cluster.num_blocks()), split = int(cluster.block_rank());
  cluster.sync();  // every block's partial tile is complete and visible to the cluster

  const int r_begin = split * kTokens / S, r_end = (split + 1) * kTokens / S;
  const int which = tile.which, n0 = tile.n0;
  const bf16* bias = p.bias[which];
  bf16* y = p.y[which];
  const int O = p.O[which];
  if (rope.k_pool) {
    // q/k/v with RoPE and the cache write (decode_rope_kv_write's formulas): features [64 h', 64 h' + 64) of the
    // tile are head (n0 / 64 + h') of product `which` (q, k, v); columns d and d + 32 of a head are rotated
    // together, after the bf16 rounding of y. An item is two neighbouring d of one token.
    constexpr int kHalf = 32, kItems = kFeatures / 4;
    const int end = r_end * kItems;
    for (int e0 = r_begin * kItems + int(threadIdx.x); e0 < end; e0 += kThreads * kBatch) {
      float2 lo_sum[kBatch], hi_sum[kBatch];
#pragma unroll
      for (int b = 0; b < kBatch; b++) {
        const int e = e0 + b * kThreads;
        if (e >= end) break;
        const int r = e / kItems, item = e % kItems, c = (item / 16) * 64 + (item % 16) * 2;
        lo_sum[b] = sum_partials<float2>(cluster, partial, S, split, r * ld + c);
        hi_sum[b] = sum_partials<float2>(cluster, partial, S, split, r * ld + c + kHalf);
      }
#pragma unroll
      for (int b = 0; b < kBatch; b++) {
        const int e = e0 + b * kThreads;
        if (e >= end) break;
        const int r = e / kItems, item = e % kItems, t = t0 + r;
        const int c = (item / 16) * 64 + (item % 16) * 2;  // the tile column of d (lower half of the head)
        if (t >= T) continue;
        float lo[2] = {lo_sum[b].x, lo_sum[b].y}, hi[2] = {hi_sum[b].x, hi_sum[b].y};
        const int h = (n0 + c) / 64, d = c % 64;
        const int64_t cache_row = (int64_t(rope.slots[t]) * rope.Hkv + h) * 64;
        bf16* dst =
            which == 0 ? y + int64_t(t) * O + h * 64 : (which == 1 ? rope.k_pool : rope.v_pool) + cache_row;
        for (int i = 0; i < 2; i++) {
          if (bias) lo[i] += to_f32(bias[n0 + c + i]), hi[i] += to_f32(bias[n0 + c + i + kHalf]);
          const float a = to_f32(to_bf16(lo[i])), b = to_f32(to_bf16(hi[i]));
          if (which == 2) {
            dst[d + i] = to_bf16(a), dst[d + i + kHalf] = to_bf16(b);
            continue;
          }
          const int64_t angle = int64_t(rope.positions[t]) * kHalf + d + i;
          const float cs = rope.cos_table[angle], sn = rope.sin_table[angle];
          dst[d + i] = to_bf16(a * cs - b * sn);
          dst[d + i + kHalf] = to_bf16(b * cs + a * sn);
        }
      }
    }
  } else {
    constexpr int kQuads = kFeatures / 4;  // an item is 4 neighbouring features of one token
    const int end = r_end * kQuads;
    for (int e0 = r_begin * kQuads + int(threadIdx.x); e0 < end; e0 += kThreads * kBatch) {
      float4 sums[kBatch];
#pragma unroll
      for (int b = 0; b < kBatch; b++) {
        const int e = e0 + b * kThreads;
        if (e < end) sums[b] = sum_partials<float4>(cluster, partial, S, split, (e / kQuads) * ld + (e % kQuads) * 4);
      }
#pragma unroll
      for (int b = 0; b < kBatch; b++) {
        const int e = e0 + b * kThreads, r = e / kQuads, c = (e % kQuads) * 4;
        if (e >= end || t0 + r >= T) continue;
        float4 sum = sums[b];
        if (bias) {
          sum.x += to_f32(bias[n0 + c]), sum.y += to_f32(bias[n0 + c + 1]);
          sum.z += to_f32(bias[n0 + c + 2]), sum.w += to_f32(bias[n0 + c + 3]);
        }
        const __nv_bfloat162 lo = __floats2bfloat162_rn(sum.x, sum.y), hi = __floats2bfloat162_rn(sum.z, sum.w);
        uint2 packed;
        packed.x = *reinterpret_cast<const uint32_t*>(&lo), packed.y = *reinterpret_cast<const uint32_t*>(&hi);
        *reinterpret_cast<uint2*>(y + int64_t(t0 + r) * O + n0 + c) = packed;  // one 8-byte store
      }
    }
  }
  cluster.sync();  // keep this block's shared memory alive until every block of the cluster has read it
}

// Launches grid (tiles, token tiles, splits) with the splits of a tile as one cluster (1, 1, splits), as a
// programmatic dependent (pdl.cuh: the kernels request their first weight stages before dependency_wait()).
template <typename... Params, typename... Args>
void launch_split_clusters(const char* op, void (*kernel)(Params...), dim3 grid, int threads, size_t smem,
                           cudaStream_t stream, Args&&... args) {
  launch_clusters(op, kernel, grid, dim3(1, 1, grid.z), threads, smem, stream, /*dependent=*/true,
                  std::forward<Args>(args)...);
}

// The wgmma kernel's launch (decode_matmul_wgmma.cu); shapes already checked by decode_matmul.
void launch_wgmma(Context& ctx, const bf16* x, int T, int I, const Products& p, int tiles, const DecodeKernel& kernel,
                  const DecodeRopeEpilogue& rope);

}  // namespace r1::cuda::decode_products
