// Paged decode attention: one query token per sequence, B sequences of different lengths, GQA.
//
// Block = (sequence b, kv head, split); 4 warps take 32-token tiles of the split in turn. For a tile:
//   scores   lane j owns token j: it reads that token's whole K row (16-byte loads) once and dots it with every
//            query head of the group (q in shared memory, pre-scaled by log2(e)/sqrt(D), so softmax uses exp2);
//   softmax  per head, online (running max m, sum l, rescaled accumulator), the tile's max/sum by warp shuffles;
//   values   the warp walks the tile's tokens; lane owns D/32 output dims and reads its slice of each V row
//            (a coalesced 128/256-byte row per token), weighting it by each head's p (broadcast by shuffle).
// So each K and V row of the group is read from memory exactly once. The 4 warps' (m, l, acc) are merged in
// shared memory; with one split that gives the output, otherwise (m, l, acc) go to a workspace and a second
// kernel merges the splits of each (sequence, head). Page lookups go through the CSR page table per token.
#include <algorithm>
#include <cmath>
#include <string>

#include "backend/cuda/common.cuh"
#include "backend/cuda/decode_ops.h"
#include "core/error.h"

namespace r1::cuda {

namespace {

constexpr int kWarps = 4;
constexpr int kMaxGroup = 8;  // query heads per block; larger groups are cut into chunks (grid.y)

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

__device__ __forceinline__ void load_bf16x8(const bf16* p, float* f) {
  const uint4 raw = *reinterpret_cast<const uint4*>(p);
  const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const float2 x = __bfloat1622float2(h[i]);
    f[2 * i] = x.x;
    f[2 * i + 1] = x.y;
  }
}

template <int D>
__global__ void __launch_bounds__(kWarps * 32)
    paged_decode_kernel(bf16* __restrict__ out, float* __restrict__ lse, float* workspace,
                        const bf16* __restrict__ q, const bf16* __restrict__ k_pool, const bf16* __restrict__ v_pool,
                        const int32_t* __restrict__ indptr, const int32_t* __restrict__ indices,
                        const int32_t* __restrict__ lens, int B, int Hq, int Hkv, int group, int chunks,
                        int page_size, int splits, int split_len, float q_scale) {
  constexpr int kPer = D / 32;  // output dims per lane
  __shared__ __align__(16) float qs[kMaxGroup][D];
  __shared__ __align__(16) float ps[kWarps][kMaxGroup][32];  // each warp's probabilities of its current tile
  __shared__ float red_m[kWarps][kMaxGroup], red_l[kWarps][kMaxGroup];
  __shared__ float red_acc[kWarps][kMaxGroup][D];

  const int b = blockIdx.x, kvh = blockIdx.y / chunks, chunk = blockIdx.y % chunks, split = blockIdx.z;
  const int g0 = chunk * kMaxGroup, ng = min(kMaxGroup, group - g0);
  const int h0 = kvh * group + g0;  // first query head of this block
  const int len = lens[b];
  const int start = split * split_len, end = min(len, start + split_len);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

  if (start >= end) {  // this split lies past the sequence's end: contribute nothing to the merge
    if (splits > 1 && threadIdx.x < ng) {
      Workspace ws(workspace, B, Hq, D, splits);
      const int64_t r = (int64_t(b) * Hq + h0 + threadIdx.x) * splits + split;
      ws.m[r] = -INFINITY;
      ws.l[r] = 0.0f;
    }
    return;
  }

  for (int i = threadIdx.x; i < ng * D; i += blockDim.x)
    qs[i / D][i % D] = to_f32(q[(int64_t(b) * Hq + h0) * D + i]) * q_scale;
  __syncthreads();

  const int32_t* pages = indices + indptr[b];
  const int64_t row = int64_t(Hkv) * D;  // elements per cached token
  const bf16* kbase = k_pool + int64_t(kvh) * D;
  const bf16* vbase = v_pool + int64_t(kvh) * D + lane * kPer;

  float m[kMaxGroup], l[kMaxGroup], acc[kMaxGroup][kPer];
#pragma unroll
  for (int g = 0; g < kMaxGroup; g++) {
    m[g] = -INFINITY;
    l[g] = 0.0f;
#pragma unroll
    for (int e = 0; e < kPer; e++) acc[g][e] = 0.0f;
  }

  for (int t0 = start + warp * 32; t0 < end; t0 += kWarps * 32) {
    const int t = t0 + lane;
    const bool valid = t < end;
    const int slot = valid ? pages[t / page_size] * page_size + t % page_size : 0;
    float s[kMaxGroup];
#pragma unroll
    for (int g = 0; g < kMaxGroup; g++) s[g] = 0.0f;
    if (valid) {
      const bf16* kr = kbase + int64_t(slot) * row;
#pragma unroll
      for (int c = 0; c < D / 8; c++) {
        float kf[8];
        load_bf16x8(kr + c * 8, kf);
#pragma unroll
        for (int g = 0; g < kMaxGroup; g++) {
          if (g < ng) {
            // q is the same for every lane: two 16-byte broadcast reads instead of eight 4-byte ones.
            const float4 qa = *reinterpret_cast<const float4*>(&qs[g][c * 8]);
            const float4 qb = *reinterpret_cast<const float4*>(&qs[g][c * 8 + 4]);
            s[g] = fmaf(qa.x, kf[0], s[g]), s[g] = fmaf(qa.y, kf[1], s[g]);
            s[g] = fmaf(qa.z, kf[2], s[g]), s[g] = fmaf(qa.w, kf[3], s[g]);
            s[g] = fmaf(qb.x, kf[4], s[g]), s[g] = fmaf(qb.y, kf[5], s[g]);
            s[g] = fmaf(qb.z, kf[6], s[g]), s[g] = fmaf(qb.w, kf[7], s[g]);
          }
        }
      }
    }
    // Online softmax per head; the tile's first lane is always valid, so the new max is finite.
    float p[kMaxGroup];
#pragma unroll
    for (int g = 0; g < kMaxGroup; g++) {
      if (g < ng) {
        const float sg = valid ? s[g] : -INFINITY;
        const float mn = fmaxf(m[g], warp_max(sg));
        const float corr = exp2f(m[g] - mn);
        p[g] = valid ? exp2f(sg - mn) : 0.0f;
        l[g] = l[g] * corr + warp_sum(p[g]);
#pragma unroll
        for (int e = 0; e < kPer; e++) acc[g][e] *= corr;
        m[g] = mn;
        ps[warp][g][lane] = p[g];
      } else {
        p[g] = 0.0f;
      }
    }
    __syncwarp();
    // Values, 8 tokens at a time: their V slices are loaded together before the multiply-adds, so 8 loads are
    // in flight per lane (one at a time left the kernel bound by memory latency).
    const int n = min(32, end - t0);
    for (int j0 = 0; j0 < n; j0 += 8) {
      float vf[8][kPer];
#pragma unroll
      for (int jj = 0; jj < 8; jj++) {
        const int slot_j = __shfl_sync(0xffffffffu, slot, (j0 + jj) & 31);
        if (j0 + jj < n) {
          const bf16* vr = vbase + int64_t(slot_j) * row;
#pragma unroll
          for (int e = 0; e < kPer; e += 2) {
            const float2 x = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(vr + e));
            vf[jj][e] = x.x, vf[jj][e + 1] = x.y;
          }
        } else {
#pragma unroll
          for (int e = 0; e < kPer; e++) vf[jj][e] = 0.0f;
        }
      }
#pragma unroll
      for (int g = 0; g < kMaxGroup; g++) {
        if (g < ng) {
          // The tile's probabilities of head g for these 8 tokens, broadcast from shared memory (0 past the end).
          const float4 pa = *reinterpret_cast<const float4*>(&ps[warp][g][j0]);
          const float4 pb = *reinterpret_cast<const float4*>(&ps[warp][g][j0 + 4]);
          const float pj[8] = {pa.x, pa.y, pa.z, pa.w, pb.x, pb.y, pb.z, pb.w};
#pragma unroll
          for (int jj = 0; jj < 8; jj++) {
#pragma unroll
            for (int e = 0; e < kPer; e++) acc[g][e] = fmaf(pj[jj], vf[jj][e], acc[g][e]);
          }
        }
      }
    }
    __syncwarp();  // the next tile overwrites ps
  }

  // Merge the warps.
#pragma unroll
  for (int g = 0; g < kMaxGroup; g++) {
    if (g < ng) {
      if (lane == 0) red_m[warp][g] = m[g], red_l[warp][g] = l[g];
#pragma unroll
      for (int e = 0; e < kPer; e++) red_acc[warp][g][lane * kPer + e] = acc[g][e];
    }
  }
  __syncthreads();
  constexpr float kLn2 = 0.69314718055994531f;
  for (int i = threadIdx.x; i < ng * D; i += blockDim.x) {
    const int g = i / D, d = i % D;
    float M = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; w++) M = fmaxf(M, red_m[w][g]);
    float L = 0.0f, A = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; w++) {
      const float f = exp2f(red_m[w][g] - M);  // a warp without tokens has m = -inf: factor 0
      L += red_l[w][g] * f;
      A += red_acc[w][g][d] * f;
    }
    const int h = h0 + g;
    if (splits == 1) {
      out[(int64_t(b) * Hq + h) * D + d] = to_bf16(A / L);
      if (lse && d == 0) lse[int64_t(b) * Hq + h] = (M + log2f(L)) * kLn2;
    } else {
      Workspace ws(workspace, B, Hq, D, splits);
      const int64_t r = (int64_t(b) * Hq + h) * splits + split;
      ws.acc[r * D + d] = A;
      if (d == 0) ws.m[r] = M, ws.l[r] = L;
    }
  }
}

// Block = (sequence, head), D threads: out = sum_s acc_s 2^(m_s - M) / sum_s l_s 2^(m_s - M).
__global__ void merge_splits_kernel(bf16* out, float* lse, const float* workspace, int B, int Hq, int D, int splits) {
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

}  // namespace

DecodeAttentionPlan plan_decode_attention(int B, int Hkv, int max_len, int num_sms) {
  DecodeAttentionPlan plan;
  max_len = std::max(max_len, 1);
  // About 8 blocks of 128 threads per SM (the kernel hides memory latency with parallel blocks); never chunks
  // shorter than 64 tokens.
  const int base = std::max(1, B * Hkv);
  int splits = std::max(1, std::min(ceil_div(8 * num_sms, base), ceil_div(max_len, 64)));
  plan.split_len = ceil_div(ceil_div(max_len, splits), 32) * 32;
  plan.splits = ceil_div(max_len, plan.split_len);
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
  const float q_scale = 1.4426950408889634f / std::sqrt(float(D));
  switch (D) {
    case 64:
      paged_decode_kernel<64><<<grid, kWarps * 32, 0, ctx.stream()>>>(out, lse, workspace, q, k_pool, v_pool, indptr,
                                                                      indices, lens, B, Hq, Hkv, group, chunks,
                                                                      page_size, plan.splits, plan.split_len, q_scale);
      break;
    case 128:
      paged_decode_kernel<128><<<grid, kWarps * 32, 0, ctx.stream()>>>(out, lse, workspace, q, k_pool, v_pool,
                                                                       indptr, indices, lens, B, Hq, Hkv, group,
                                                                       chunks, page_size, plan.splits,
                                                                       plan.split_len, q_scale);
      break;
    default:
      throw Error("paged_decode_attention: head_dim " + std::to_string(D) + " is not supported (64, 128)");
  }
  R1_CUDA_LAUNCH_CHECK("paged_decode_attention");
  if (plan.splits > 1) {
    merge_splits_kernel<<<B * Hq, D, 0, ctx.stream()>>>(out, lse, workspace, B, Hq, D, plan.splits);
    R1_CUDA_LAUNCH_CHECK("paged_decode_attention(merge)");
  }
}

}  // namespace r1::cuda
