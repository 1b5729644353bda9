// The decode step's layer products on Hopper's warpgroup tensor cores (wgmma, sm_90a): the mma.sync kernel of
// decode_matmul.cu with the operand roles swapped. A block owns kFeatures (64 or 128) output features — rows of
// W, the wgmma's M side, one warpgroup per 64 — against kTokens (64, 128 or 256) tokens of x, the wgmma's N side,
// so each weight tile is read from memory once for up to 256 tokens (the mma.sync kernel reads it once per 64).
// Both operands are K-major as stored (W [O, I], x [T, I]): 64-wide slices of the reduction stream through a
// 4-stage pipeline of TMA boxes (tma.cuh; one thread issues them, an mbarrier per stage says when they landed)
// into 128-byte-swizzled tiles (wgmma.cuh) that the wgmma reads in place; tokens past T arrive as zeros. The
// block's 1/S of the reduction ends as a float32 partial tile that the cluster finishes (decode_products.cuh).
// (A first version copied the tiles with cp.async from every thread: 2-3x slower, latency-bound at 20-30% of
// DRAM and L2 throughput with the tensor cores mostly idle.)
#include <cuda_bf16.h>

#include <cstdint>
#include <string>

#include "backend/cuda/check.h"
#include "backend/cuda/common.cuh"
#include "backend/cuda/decode_ops.h"
#include "backend/cuda/decode_products.cuh"
#include "backend/cuda/pdl.cuh"
#include "backend/cuda/tma.cuh"
#include "backend/cuda/wgmma.cuh"
#include "core/error.h"

namespace r1::cuda::decode_products {

namespace {

constexpr int kK = 64;  // reduction step: one 128-byte swizzled row of bf16
constexpr int kStages = 4;

template <int kFeatures, int kTokens>
struct WgmmaShape {
  static constexpr int kThreads = kFeatures * 2;  // one warpgroup (128 threads) per 64 features
  static constexpr int kWBytes = kFeatures * 128, kStageBytes = (kFeatures + kTokens) * 128;
  static constexpr int kPartialLd = kFeatures + 4;  // float32 [token][feature] rows; 8 q-lanes x 8 g-lanes: 32 banks
  static constexpr size_t kPipelineBytes = size_t(kStages) * kStageBytes;
  static constexpr size_t kPartialBytes = size_t(kTokens) * kPartialLd * sizeof(float);
  // + 1024: the tiles start at the first 1024-byte boundary of the dynamic shared memory (the swizzle's atom).
  static constexpr size_t kSmemBytes = (kPipelineBytes > kPartialBytes ? kPipelineBytes : kPartialBytes) + 1024;
};

// The TMA descriptors of a launch: x [T, I] in boxes of kTokens rows, each W_p [O_p, I] in boxes of kFeatures rows.
struct TensorMaps {
  CUtensorMap x;
  CUtensorMap W[kMaxDecodeProducts];
};

// Grid (feature tiles over all products, ceil(T / kTokens), S); cluster (1, 1, S).
template <int kFeatures, int kTokens>
__global__ void __launch_bounds__(kFeatures * 2, 1)
    decode_wgmma_kernel(const __grid_constant__ TensorMaps maps, int T, int I, Products p,
                        const DecodeRopeEpilogue rope) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using Shape = WgmmaShape<kFeatures, kTokens>;
  constexpr int kThreads = Shape::kThreads;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  const uint32_t raw = uint32_t(__cvta_generic_to_shared(smem_raw)), pad = (1024 - raw % 1024) % 1024;
  unsigned char* smem = smem_raw + pad;  // [stage]{W tile [kFeatures][128 B], x tile [kTokens][128 B]}
  const uint32_t smem_addr = raw + pad;

  __shared__ __align__(8) uint64_t full[kStages];  // phase s completes when stage s's boxes have landed
  const uint32_t full_addr = uint32_t(__cvta_generic_to_shared(full));

  const Tile tile = block_tile<kFeatures>(p);
  const CUtensorMap* W = &maps.W[tile.which];
  const int t0 = int(blockIdx.y) * kTokens;
  const int S = int(gridDim.z), split = int(blockIdx.z);  // the cluster spans z: rank = blockIdx.z
  const int steps = I / kK, k_begin = split * steps / S, k_end = (split + 1) * steps / S, n_steps = k_end - k_begin;
  const bool producer = threadIdx.x == 0;
  auto stage_addr = [&](int slot) { return smem_addr + uint32_t(slot * Shape::kStageBytes); };
  auto bar = [&](int slot) { return full_addr + uint32_t(slot * 8); };

  if (producer) {
    for (int s = 0; s < kStages; s++) mbarrier_init(bar(s), 1);
    mbarrier_init_fence();
  }
  __syncthreads();

  // A programmatic dependent (pdl.cuh): the first stages' weights are requested while the kernel that writes x
  // is still running; x after it completes. Each stage expects both boxes' bytes.
  allow_dependents();
  if (producer)
    for (int s = 0; s < kStages - 1 && s < n_steps; s++) {
      mbarrier_expect_bytes(bar(s), uint32_t(Shape::kStageBytes));
      tma_load_2d(stage_addr(s), W, (k_begin + s) * kK, tile.n0, bar(s));
    }
  dependency_wait();
  if (producer)
    for (int s = 0; s < kStages - 1 && s < n_steps; s++)
      tma_load_2d(stage_addr(s) + Shape::kWBytes, &maps.x, (k_begin + s) * kK, t0, bar(s));

  const int wg = int(threadIdx.x) / 128;
  float acc[kTokens / 2];
#pragma unroll
  for (int i = 0; i < kTokens / 2; i++) acc[i] = 0.0f;
  // Step i: wait for stage i's boxes, start its wgmma, and while the tensor cores work on it, refill the slot of
  // step i - 1 (whose wgmma every warpgroup has finished once past the barrier) with step i + 3.
  for (int i = 0; i < n_steps; i++) {
    mbarrier_wait(bar(i % kStages), uint32_t((i / kStages) & 1));
    const uint32_t stage = stage_addr(i % kStages);
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < kK / 16; kk++)
      wgmma_bf16<kTokens>(acc, wgmma_desc(stage + uint32_t(wg * 64 * 128 + kk * 32)),
                          wgmma_desc(stage + uint32_t(Shape::kWBytes + kk * 32)));
    wgmma_commit();
    wgmma_wait<1>();                      // this warpgroup's step i - 1 is done
    if (kFeatures > 64) __syncthreads();  // ... and the other warpgroup's
    const int next = i + kStages - 1;
    if (producer && next < n_steps) {
      const int slot = next % kStages;
      mbarrier_expect_bytes(bar(slot), uint32_t(Shape::kStageBytes));
      tma_load_2d(stage_addr(slot), W, (k_begin + next) * kK, tile.n0, bar(slot));
      tma_load_2d(stage_addr(slot) + Shape::kWBytes, &maps.x, (k_begin + next) * kK, t0, bar(slot));
    }
  }
  wgmma_wait<0>();
  wgmma_fence_operands(acc);
  __syncthreads();      // every warpgroup's products are done: the pipeline's memory becomes the partial tile
  fence_async_proxy();  // (written by TMA, now by ordinary stores)

  // Accumulator (feature 16 w + g (+ 8), tokens 8 j + 2 q (+ 1)) of warp w of warpgroup wg -> partial[token][feature].
  float* partial = reinterpret_cast<float*>(smem);
  constexpr int ld = Shape::kPartialLd;
  const int lane = int(threadIdx.x) % 32, f = wg * 64 + (int(threadIdx.x) % 128) / 32 * 16 + lane / 4;
#pragma unroll
  for (int j = 0; j < kTokens / 8; j++) {
    const int t = 8 * j + 2 * (lane % 4);
    partial[t * ld + f] = acc[4 * j];
    partial[(t + 1) * ld + f] = acc[4 * j + 1];
    partial[t * ld + f + 8] = acc[4 * j + 2];
    partial[(t + 1) * ld + f + 8] = acc[4 * j + 3];
  }
  finish_tile<kTokens, kFeatures, kThreads>(partial, ld, tile, t0, T, p, rope);
#else
  (void)kK, (void)WgmmaShape<kFeatures, kTokens>::kWBytes;
  __trap();  // compute_90 PTX (non-Hopper devices): decode_wgmma_available() keeps it from being launched
#endif
}

template <int kFeatures, int kTokens>
void launch(Context& ctx, const bf16* x, int T, int I, const Products& p, int tiles, int splits,
            const DecodeRopeEpilogue& rope) {
  using Shape = WgmmaShape<kFeatures, kTokens>;
  TensorMaps maps{};
  maps.x = tma_map_bf16(x, T, I, kTokens, "decode_matmul (wgmma)");
  for (int i = 0; i < p.count; i++) maps.W[i] = tma_map_bf16(p.W[i], p.O[i], I, kFeatures, "decode_matmul (wgmma)");
  static const bool configured =
      configure_kernel("decode_matmul (wgmma)", decode_wgmma_kernel<kFeatures, kTokens>, Shape::kSmemBytes);
  (void)configured;
  launch_split_clusters("decode_matmul (wgmma)", decode_wgmma_kernel<kFeatures, kTokens>,
                        dim3(unsigned(tiles), unsigned(ceil_div(T, kTokens)), unsigned(splits)), Shape::kThreads,
                        Shape::kSmemBytes, ctx.stream(), maps, T, I, p, rope);
}

}  // namespace

void launch_wgmma(Context& ctx, const bf16* x, int T, int I, const Products& p, int tiles, const DecodeKernel& kernel,
                  const DecodeRopeEpilogue& rope) {
  const int s = kernel.splits;
  switch (kernel.features * 1000 + kernel.tokens) {
    case 64064: return launch<64, 64>(ctx, x, T, I, p, tiles, s, rope);
    case 64128: return launch<64, 128>(ctx, x, T, I, p, tiles, s, rope);
    case 64256: return launch<64, 256>(ctx, x, T, I, p, tiles, s, rope);
    case 128064: return launch<128, 64>(ctx, x, T, I, p, tiles, s, rope);
    case 128128: return launch<128, 128>(ctx, x, T, I, p, tiles, s, rope);
    case 128256: return launch<128, 256>(ctx, x, T, I, p, tiles, s, rope);
    default: throw Error("cuda: decode_matmul: no wgmma kernel for tile " + kernel.name());
  }
}

}  // namespace r1::cuda::decode_products
