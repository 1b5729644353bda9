// Paged decode attention: one query token per sequence, B sequences of different lengths, GQA.
//
// Block = (sequence b, kv head, split); 4 warps take tiles of TILE (32 or 16) tokens of the split in turn, on
// tensor cores: the
// group's query heads are the 16 rows of an mma.m16n8k16 A operand (bf16 q as given; rows past the group are
// zero), so for one tile
//   scores   S [16 heads x TILE tokens] = Q K^T: D/16 x TILE/8 mma, K rows [token][dim] read from shared memory;
//   softmax  per head, online in base 2 (scores scaled by log2(e)/sqrt(D) in float32; running max m, sum l,
//            rescaled accumulator), on the accumulator fragments (row max/sum over the 4 lanes of a row);
//   values   O += P V with P packed to bf16 straight from the score fragments (FlashAttention-2's trick) and
//            V [token][dim] as the B operand through ldmatrix.trans.
// Each warp streams its tiles through a ring of STAGES cp.async buffers (K and V rows gathered from their pages,
// 16-byte copies; tokens past the end are zero-filled, so 0 * garbage never meets V), so every K and V row of
// the group is read from memory exactly once and the next STAGES - 1 tiles' loads overlap this tile's math. The 4 warps'
// (m, l, acc) are merged in shared memory; with one split that gives the output, otherwise (m, l, acc) go to a
// workspace and a second kernel merges the splits of each (sequence, head).
#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>

#include "backend/cuda/async_copy.cuh"
#include "backend/cuda/common.cuh"
#include "backend/cuda/decode_ops.h"
#include "backend/cuda/mma.cuh"
#include "backend/cuda/pdl.cuh"
#include "core/error.h"

namespace r1::cuda {

namespace {

constexpr int kWarps = 4;
constexpr int kMaxGroup = 16;  // query heads per block (the mma's 16 rows); larger groups are cut into chunks

// Workspace: acc [B, Hq, splits, D], then m and l [B, Hq, splits].
struct Workspace {
  float *acc, *m, *l;
  __host__ __device__ Workspace(float* base, int B, int Hq, int D, int splits) {
    const int64_t n = int64_t(B) * Hq * splits;
    acc = base;
    m = base + n * D;
    l = m + n;
  }
};

// Shared memory per block for head dim D: per warp STAGES stages of K and V tiles [TILE][D + 8] bf16 (rows padded
// by 16 bytes: fragment loads and ldmatrix rows fall in distinct banks). q [16][D + 8] passes through warp 0's last
// K tile on its way to registers (that stage is filled only once every warp holds q), and after the token loop
// the area holds the warps' float32 accumulators for the merge. At head dim 64 a block takes 74 / 111 KB with
// 32-token tiles and 2 / 3 stages, 37 / 55 KB with 16-token tiles (4 blocks per SM).
template <int D, int TILE, int STAGES>
struct Smem {
  static constexpr int kLd = D + 8;
  static constexpr size_t kQ = size_t(kMaxGroup) * kLd * 2;
  static_assert(kQ <= size_t(TILE) * kLd * 2, "q is staged in a K tile");
  static constexpr size_t kTile = size_t(TILE) * kLd * 2;
  static constexpr size_t kKv = size_t(kWarps) * STAGES * 2 * kTile;  // warps x stages x (K, V)
  static constexpr size_t kMerge = size_t(kWarps) * kMaxGroup * (D + 2) * 4;
  static constexpr size_t kBytes = kKv > kMerge ? kKv : kMerge;
};

template <int D, int TILE, int STAGES>
__global__ void __launch_bounds__(kWarps * 32)
    paged_decode_kernel(bf16* __restrict__ out, float* __restrict__ lse, float* workspace,
                        const bf16* __restrict__ q, const bf16* __restrict__ k_pool, const bf16* __restrict__ v_pool,
                        const int32_t* __restrict__ indptr, const int32_t* __restrict__ indices,
                        const int32_t* __restrict__ lens, int B, int Hq, int Hkv, int group, int chunks,
                        int page_size, int splits, int split_len, float score_scale) {
  using SM = Smem<D, TILE, STAGES>;
  constexpr int kTileTokens = TILE;
  constexpr int kLd = SM::kLd, kChunks = D / 8;  // 16-byte chunks per row
  extern __shared__ __align__(16) unsigned char smem[];
  unsigned char* kv_area = smem;
  bf16* qs = reinterpret_cast<bf16*>(kv_area) + size_t(STAGES - 1) * 2 * kTileTokens * kLd;  // warp 0's last K tile

  // A programmatic dependent (pdl.cuh): the sequence length and page-table lookups come from the step's inputs,
  // so they overlap the previous kernel; q and the newest K/V row are that kernel's output.
  allow_dependents();
  const int b = blockIdx.x, kvh = blockIdx.y / chunks, chunk = blockIdx.y % chunks, split = blockIdx.z;
  const int g0 = chunk * kMaxGroup, ng = min(kMaxGroup, group - g0);
  const int h0 = kvh * group + g0;  // first query head of this block
  const int len = lens[b];
  const int start = split * split_len, end = min(len, start + split_len);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, tq = lane % 4;

  if (start >= end) {  // this split lies past the sequence's end: contribute nothing to the merge
    dependency_wait();
    if (splits > 1 && threadIdx.x < ng) {
      Workspace ws(workspace, B, Hq, D, splits);
      const int64_t r = (int64_t(b) * Hq + h0 + threadIdx.x) * splits + split;
      ws.m[r] = -INFINITY;
      ws.l[r] = 0.0f;
    }
    return;
  }

  const int32_t* pages = indices + indptr[b];
  const int64_t row = int64_t(Hkv) * D;  // elements per cached token
  const bf16* kbase = k_pool + int64_t(kvh) * D;
  const bf16* vbase = v_pool + int64_t(kvh) * D;
  bf16* kv_warp = reinterpret_cast<bf16*>(kv_area) + size_t(warp) * STAGES * 2 * kTileTokens * kLd;
  auto k_tile = [&](int stage) { return kv_warp + size_t(stage) * 2 * kTileTokens * kLd; };
  auto v_tile = [&](int stage) { return k_tile(stage) + kTileTokens * kLd; };

  // Lane j's token of the tile at t0: its cache slot (0 past the end; never read then).
  auto slot_of = [&](int t0) {
    const int t = t0 + lane;
    return t < end ? pages[t / page_size] * page_size + t % page_size : 0;
  };
  // Gather the K and V rows of tokens [t0, t0 + TILE) into `stage` (one commit group, empty past the end);
  // slot_lane = slot_of(t0), looked up a tile earlier so the page-table read never stalls the copies.
  auto load_tile = [&](int stage, int t0, int slot_lane) {
    bf16* ks = k_tile(stage);
    bf16* vs = v_tile(stage);
#pragma unroll
    for (int i = 0; i < kTileTokens * kChunks / 32; i++) {
      const int c = lane + 32 * i, token = c / kChunks, col = (c % kChunks) * 8;
      const int slot = __shfl_sync(0xffffffffu, slot_lane, token);
      const bool valid = t0 + token < end;
      if (t0 < end) {
        cp_async16(ks + token * kLd + col, kbase + int64_t(slot) * row + col, valid);
        cp_async16(vs + token * kLd + col, vbase + int64_t(slot) * row + col, valid);
      }
    }
    cp_async_commit();
  };

  // The page slots of the warp's first STAGES tiles, read before the wait (the page table is the step's input).
  const int first = start + warp * kTileTokens, stride = kWarps * kTileTokens;
  int slots[STAGES];
#pragma unroll
  for (int s = 0; s < STAGES; s++) slots[s] = slot_of(first + s * stride);
  dependency_wait();
#pragma unroll
  for (int s = 0; s + 1 < STAGES; s++) load_tile(s, first + s * stride, slots[s]);
  int slot_ahead = slots[STAGES - 1];  // of the tile STAGES - 1 ahead of the current one
  for (int i = threadIdx.x; i < kMaxGroup * D; i += blockDim.x) {
    const int r = i / D, d = i % D;
    qs[r * kLd + d] = r < ng ? q[(int64_t(b) * Hq + h0 + r) * D + d] : to_bf16(0.0f);
  }
  __syncthreads();  // q is in shared memory

  uint32_t qa[D / 16][4];
#pragma unroll
  for (int kk = 0; kk < D / 16; kk++) load_a(qa[kk], qs, kLd, 0, 16 * kk);
  __syncthreads();  // every warp holds q: warp 0 may refill the tile it passed through

  // Rows g and g + 8 of the fragments: running max (base 2), this lane's partial sum, and O [16 x D].
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
  float o[D / 8][4];
#pragma unroll
  for (int n = 0; n < D / 8; n++) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;

  int stage = 0;
  for (int t0 = first; t0 < end; t0 += stride, stage = stage + 1 == STAGES ? 0 : stage + 1) {
    // Refill the stage freed by the previous tile with the tile STAGES - 1 ahead, then wait for this one.
    const int ahead = t0 + (STAGES - 1) * stride;
    load_tile(stage == 0 ? STAGES - 1 : stage - 1, ahead, slot_ahead);
    slot_ahead = slot_of(ahead + stride);
    cp_async_wait<STAGES - 1>();
    __syncwarp();
    const bf16* ks = k_tile(stage);
    const bf16* vs = v_tile(stage);

    constexpr int kN = kTileTokens / 8;  // 8-token mma tiles per tile
    float sc[kN][4];
#pragma unroll
    for (int n = 0; n < kN; n++) {
      sc[n][0] = sc[n][1] = sc[n][2] = sc[n][3] = 0.0f;
#pragma unroll
      for (int kk = 0; kk < D / 16; kk++) {
        uint32_t kb[2];
        load_b_nk(kb, ks, kLd, 8 * n, 16 * kk);
        mma_bf16(sc[n], qa[kk], kb);
      }
    }
    // Scale to base 2 and mask tokens past the end; then the online softmax per row.
    float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int n = 0; n < kN; n++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const bool valid = t0 + 8 * n + 2 * tq + (e & 1) < end;
        sc[n][e] = valid ? sc[n][e] * score_scale : -INFINITY;
        tile_max[e / 2] = fmaxf(tile_max[e / 2], sc[n][e]);
      }
    float corr[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
      tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 1));
      tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 2));
      const float mn = fmaxf(m[r], tile_max[r]);  // finite: the tile's first token is always valid
      corr[r] = exp2f(m[r] - mn);
      m[r] = mn;
      l[r] *= corr[r];
    }
#pragma unroll
    for (int n = 0; n < D / 8; n++) o[n][0] *= corr[0], o[n][1] *= corr[0], o[n][2] *= corr[1], o[n][3] *= corr[1];
#pragma unroll
    for (int n = 0; n < kN; n++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        sc[n][e] = exp2f(sc[n][e] - m[e / 2]);
        l[e / 2] += sc[n][e];
      }
    // O += P V over the tile's 16-token parts.
#pragma unroll
    for (int j = 0; j < kTileTokens / 16; j++) {
      uint32_t pa[4];
      pack_a(pa, sc[2 * j], sc[2 * j + 1]);
#pragma unroll
      for (int n = 0; n < D / 8; n++) {
        uint32_t vb[2];
        load_b_kn(vb, vs, kLd, 16 * j, 8 * n);
        mma_bf16(o[n], pa, vb);
      }
    }
    __syncwarp();  // every lane is done with this stage before the next iteration refills it
  }
  // Row sums over the 4 lanes of a row.
#pragma unroll
  for (int r = 0; r < 2; r++) {
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
  }

  // Merge the warps: each writes its (m, l, O) rows to shared memory over the K/V area.
  __syncthreads();
  float* red = reinterpret_cast<float*>(kv_area);  // [warp][16][D + 2]: D accumulators, m, l
  constexpr int kRed = D + 2;
  float* mine = red + size_t(warp) * kMaxGroup * kRed;
#pragma unroll
  for (int n = 0; n < D / 8; n++) {
    const int c = 8 * n + 2 * tq;
    mine[g * kRed + c] = o[n][0], mine[g * kRed + c + 1] = o[n][1];
    mine[(g + 8) * kRed + c] = o[n][2], mine[(g + 8) * kRed + c + 1] = o[n][3];
  }
  if (tq == 0) {
    mine[g * kRed + D] = m[0], mine[g * kRed + D + 1] = l[0];
    mine[(g + 8) * kRed + D] = m[1], mine[(g + 8) * kRed + D + 1] = l[1];
  }
  __syncthreads();
  constexpr float kLn2 = 0.69314718055994531f;
  for (int i = threadIdx.x; i < ng * D; i += blockDim.x) {
    const int r = i / D, d = i % D;
    float M = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; w++) M = fmaxf(M, red[(w * kMaxGroup + r) * kRed + D]);
    float L = 0.0f, A = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; w++) {
      const float* wr = red + (w * kMaxGroup + r) * kRed;
      const float f = exp2f(wr[D] - M);  // a warp without tokens has m = -inf: factor 0
      L += wr[D + 1] * f;
      A += wr[d] * f;
    }
    const int h = h0 + r;
    if (splits == 1) {
      out[(int64_t(b) * Hq + h) * D + d] = to_bf16(A / L);
      if (lse && d == 0) lse[int64_t(b) * Hq + h] = (M + log2f(L)) * kLn2;
    } else {
      Workspace ws(workspace, B, Hq, D, splits);
      const int64_t rr = (int64_t(b) * Hq + h) * splits + split;
      ws.acc[rr * D + d] = A;
      if (d == 0) ws.m[rr] = M, ws.l[rr] = L;
    }
  }
}

// Block = (sequence, head), D threads: out = sum_s acc_s 2^(m_s - M) / sum_s l_s 2^(m_s - M).
__global__ void merge_splits_kernel(bf16* out, float* lse, const float* workspace, int B, int Hq, int D, int splits) {
  allow_dependents();
  dependency_wait();
  const Workspace ws(const_cast<float*>(workspace), B, Hq, D, splits);
  const int64_t bh = blockIdx.x;
  const int d = threadIdx.x;
  float M = -INFINITY;
  for (int s = 0; s < splits; s++) M = fmaxf(M, ws.m[bh * splits + s]);
  float L = 0.0f, A = 0.0f;
  for (int s = 0; s < splits; s++) {
    const float ms = ws.m[bh * splits + s];
    if (ms == -INFINITY) continue;
    const float f = exp2f(ms - M);
    L += ws.l[bh * splits + s] * f;
    A += ws.acc[(bh * splits + s) * D + d] * f;
  }
  out[bh * D + d] = to_bf16(A / L);
  if (lse && d == 0) lse[bh] = (M + log2f(L)) * 0.69314718055994531f;
}

template <int D, int TILE, int STAGES>
void launch_decode(Context& ctx, dim3 grid, bf16* out, float* lse, float* workspace, const bf16* q,
                   const bf16* k_pool, const bf16* v_pool, const int32_t* indptr, const int32_t* indices,
                   const int32_t* lens, int B, int Hq, int Hkv, int group, int chunks, int page_size,
                   DecodeAttentionPlan plan, float score_scale) {
  // Over 48 KB of dynamic shared memory must be opted into, once per kernel (one GPU per process); the largest
  // shared-memory carveout lets as many blocks share an SM as their shared memory allows.
  static const bool configured = [] {
    R1_CUDA_CHECK("paged_decode_attention", cudaFuncSetAttribute(paged_decode_kernel<D, TILE, STAGES>,
                                                                 cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                                 int(Smem<D, TILE, STAGES>::kBytes)));
    R1_CUDA_CHECK("paged_decode_attention", cudaFuncSetAttribute(paged_decode_kernel<D, TILE, STAGES>,
                                                                 cudaFuncAttributePreferredSharedMemoryCarveout,
                                                                 int(cudaSharedmemCarveoutMaxShared)));
    return true;
  }();
  (void)configured;
  launch_dependent("paged_decode_attention", paged_decode_kernel<D, TILE, STAGES>, grid, dim3(kWarps * 32),
                   Smem<D, TILE, STAGES>::kBytes, ctx.stream(), out, lse, workspace, q, k_pool, v_pool, indptr, indices, lens,
                   B, Hq, Hkv, group, chunks, page_size, plan.splits, plan.split_len, score_scale);
}

}  // namespace

DecodeAttentionPlan plan_decode_attention(int B, int Hkv, int max_len, int num_sms) {
  DecodeAttentionPlan plan;
  max_len = std::max(max_len, 1);
  // More (sequence, kv head) pairs than 32-token blocks fit on the GPU at once (3 per SM at head dim 64): 16-token
  // tiles, 4 blocks per SM, no splits. At batch 256 x 2 kv heads that is one wave instead of 1.3, and the decode
  // step 0.09 ms faster on an H100. Otherwise 32-token tiles (half the loop trips per token), split only until
  // there is about one wave of blocks, and never below 128 tokens: every split pays the block's fixed latency
  // (sequence length, page table, q, the first tile's loads) and merge traffic, and only a warp with several tiles
  // overlaps the next tile's loads with this one's math.
  // Stages, measured on an H100 with 24 layers back to back at context 256: 32-token tiles at B = 64 run 0.289 ms
  // with 2 and 0.263 with 3 (two tiles in flight behind the current one); 16-token tiles at B = 256 ran 0.449 with
  // 2 and 0.586 with 3 (4 blocks of 55 KB per SM; 0.435 in a build that fit only 3), so they keep 2. Session 8:
  // alone (24 layers back to back) 3 stages ran 0.430-0.441 against 0.448-0.451, yet a run with them in the step
  // took 2.40 ms per step at B = 256 against 2.32 with 2 (while B = 64, plan unchanged, ran 3% faster on that
  // machine): the larger blocks leave less room for the next kernels' early (programmatic) start. At head dim 64
  // 3 stages of 32-token tiles take 111 KB, 2 blocks per SM: only while the blocks fit in one such wave.
  const int base = std::max(1, B * Hkv);
  if (base > 3 * num_sms) {
    plan.stages = 2;
    plan.tile_tokens = 16;
    plan.split_len = ceil_div(max_len, 32) * 32;
    plan.splits = 1;
    return plan;
  }
  plan.tile_tokens = 32;
  const int splits = std::max(1, std::min(ceil_div(3 * num_sms, base), ceil_div(max_len, 128)));
  plan.split_len = ceil_div(ceil_div(max_len, splits), 32) * 32;
  plan.splits = ceil_div(max_len, plan.split_len);
  plan.stages = base * plan.splits > 2 * num_sms ? 2 : 3;
  return plan;
}

int64_t decode_attention_workspace_floats(int B, int Hq, int D, int splits) {
  return splits > 1 ? int64_t(B) * Hq * splits * (D + 2) : 0;
}

void paged_decode_attention(Context& ctx, bf16* out, float* lse, const bf16* q, const bf16* k_pool,
                            const bf16* v_pool, const int32_t* indptr, const int32_t* indices, const int32_t* lens,
                            int B, int Hq, int Hkv, int D, int page_size, DecodeAttentionPlan plan, float* workspace) {
  if (B <= 0) return;
  R1_CHECK(Hkv > 0 && Hq % Hkv == 0, "paged_decode_attention: Hq must be a multiple of Hkv");
  R1_CHECK(plan.splits >= 1 && plan.split_len >= 1, "paged_decode_attention: bad split plan");
  R1_CHECK(plan.splits == 1 || workspace, "paged_decode_attention: split-KV needs a workspace");
  const int group = Hq / Hkv, chunks = ceil_div(group, kMaxGroup);
  const dim3 grid(B, Hkv * chunks, plan.splits);
  const float score_scale = 1.4426950408889634f / std::sqrt(float(D));
  auto launch = [&](auto d, auto tile, auto stages) {
    launch_decode<decltype(d)::value, decltype(tile)::value, decltype(stages)::value>(
        ctx, grid, out, lse, workspace, q, k_pool, v_pool, indptr, indices, lens, B, Hq, Hkv, group, chunks,
        page_size, plan, score_scale);
  };
  using S2 = std::integral_constant<int, 2>;
  using S3 = std::integral_constant<int, 3>;
  auto with_stages = [&](auto d, auto tile) { plan.stages == 2 ? launch(d, tile, S2{}) : launch(d, tile, S3{}); };
  using D64 = std::integral_constant<int, 64>;
  using D128 = std::integral_constant<int, 128>;
  using T16 = std::integral_constant<int, 16>;
  using T32 = std::integral_constant<int, 32>;
  if (D != 64 && D != 128)
    throw Error("paged_decode_attention: head_dim " + std::to_string(D) + " is not supported (64, 128)");
  if (plan.tile_tokens != 16 && plan.tile_tokens != 32)
    throw Error("paged_decode_attention: tile_tokens " + std::to_string(plan.tile_tokens) + " (16 or 32)");
  if (plan.stages != 2 && plan.stages != 3)
    throw Error("paged_decode_attention: stages " + std::to_string(plan.stages) + " (2 or 3)");
  if (D == 64) plan.tile_tokens == 16 ? with_stages(D64{}, T16{}) : with_stages(D64{}, T32{});
  else plan.tile_tokens == 16 ? with_stages(D128{}, T16{}) : with_stages(D128{}, T32{});
  R1_CUDA_LAUNCH_CHECK("paged_decode_attention");
  if (plan.splits > 1) {
    launch_dependent("paged_decode_attention(merge)", merge_splits_kernel, dim3(B * Hq), dim3(D), 0, ctx.stream(), out,
                     lse, workspace, B, Hq, D, plan.splits);
  }
}

}  // namespace r1::cuda
