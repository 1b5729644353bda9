// Causal grouped-query attention over packed sequences: the backward, FlashAttention-2 style on tensor cores,
// recomputing the probabilities from the saved lse rather than storing them. With P = exp(s - lse) and
// Di = dout_i . out_i (the softmax Jacobian's row term):
//   dP = dout V^T;  dS = P (dP - Di);  dV += P^T dout;  dK += scale dS^T Q;  dQ += scale dS K
// Deterministic and atomic-free, in two kernels (three with grouped-query attention):
//   dk/dv: a block owns 64 keys of one (sequence, query head); each warp computes the transposed tiles
//          S^T = K Q^T and dP^T = V dout^T for its 16 keys against 64 queries at a time, looping over the query
//          tiles at or after its keys. Without GQA the block adds its dk/dv rows in place. With a group of
//          G > 1 query heads per kv head, each block writes its float32 rows to a [T, Hq, D] partial and a
//          third kernel sums the G partials in head order: G times the blocks of looping over the group
//          inside one block, so the causal triangle's longest block is G times shorter (Qwen2.5-0.5B: G = 7).
//   dq:    a block owns 64 query rows of one (sequence, query head) and walks the keys up to the diagonal.
// Both launch their heaviest tiles first (attention.cuh: heavy_first_tile).
// Scores are recomputed in both kernels: the price of determinism (the usual alternative adds dq with float
// atomics, whose order, and so whose rounding, changes from run to run). The streamed tiles (Q/dout in the
// first kernel, K/V in the second) are double-buffered with cp.async.
#include "backend/cuda/attention.cuh"
#include "backend/cuda/attention_wgmma.h"
#include "backend/cuda/ops.h"
#include "core/error.h"

namespace r1::cuda {

namespace {

using namespace attention;

// Di[t, h] = dout . out: each (token, head) row of D values is D / 8 lanes with one 16-byte load of each operand.
template <int D>
__global__ void attention_row_dot_kernel(float* Di, const bf16* dout, const bf16* out, int64_t rows) {
  constexpr int kLanes = D / 8;
  const int64_t r = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / kLanes;
  const int c = int(threadIdx.x) % kLanes * 8;
  float s = 0.0f;
  if (r < rows) {
    const uint4 a = *reinterpret_cast<const uint4*>(dout + r * D + c);
    const uint4 b = *reinterpret_cast<const uint4*>(out + r * D + c);
    const auto* a2 = reinterpret_cast<const __nv_bfloat162*>(&a);
    const auto* b2 = reinterpret_cast<const __nv_bfloat162*>(&b);
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const float2 x = __bfloat1622float2(a2[i]), y = __bfloat1622float2(b2[i]);
      s += x.x * y.x + x.y * y.y;
    }
  }
#pragma unroll
  for (int o = kLanes / 2; o > 0; o /= 2) s += __shfl_xor_sync(0xffffffffu, s, o);
  if (r < rows && threadIdx.x % kLanes == 0) Di[r] = s;
}

template <int D>
__device__ __forceinline__ void zero(float (&acc)[D / 8][4]) {
#pragma unroll
  for (int dn = 0; dn < D / 8; dn++) acc[dn][0] = acc[dn][1] = acc[dn][2] = acc[dn][3] = 0.0f;
}

__device__ __forceinline__ void zero_tile(float (&s)[8][4]) {
#pragma unroll
  for (int nt = 0; nt < 8; nt++) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
}

// acc[16 x D] += A[16 x 64] B[64 x D], A given as a 16 x 64 accumulator tile (repacked to bf16), B stored
// [64][D] row-major in shared memory.
template <int D>
__device__ __forceinline__ void accumulate_tile_times(float (&acc)[D / 8][4], const float (&a_tile)[8][4],
                                                      const bf16* bs) {
#pragma unroll
  for (int kk = 0; kk < 4; kk++) {
    uint32_t a[4];
    pack_a(a, a_tile[2 * kk], a_tile[2 * kk + 1]);
#pragma unroll
    for (int dn = 0; dn < D / 8; dn++) {
      uint32_t bf[2];
      load_b_kn(bf, bs, ld<D>(), 16 * kk, 8 * dn);
      mma_bf16(acc[dn], a, bf);
    }
  }
}

// s[16 x 64] += A[16 x D] B[64 x D]^T: rows row0.. of tile as (A), all 64 rows of tile bs (B), both [.][D].
template <int D>
__device__ __forceinline__ void tile_times_tile_t(float (&s)[8][4], const bf16* as, int row0, const bf16* bs) {
#pragma unroll
  for (int kk = 0; kk < D / 16; kk++) {
    uint32_t a[4];
    load_a(a, as, ld<D>(), row0, 16 * kk);
#pragma unroll
    for (int nt = 0; nt < 8; nt++) {
      uint32_t bf[2];
      load_b_nk(bf, bs, ld<D>(), 8 * nt, 16 * kk);
      mma_bf16(s[nt], a, bf);
    }
  }
}

template <int D>
__global__ void __launch_bounds__(kThreads)
attention_dkdv_kernel(bf16* dk, bf16* dv, float* dk_part, float* dv_part, const bf16* dout, const bf16* q,
                      const bf16* k, const bf16* v, const float* lse, const float* Di, const int32_t* cu_seqlens,
                      int Hq, int Hkv, float scale, bool accumulate) {
  constexpr int LD = ld<D>();
  extern __shared__ __align__(16) unsigned char smem_raw[];
  bf16* ks = reinterpret_cast<bf16*>(smem_raw);  // [64][LD] this block's keys
  bf16* vs = ks + kTile * LD;                    // [64][LD]
  bf16* qdo = vs + kTile * LD;                   // 2 stages x (Q [64][LD], dout [64][LD])
  float* rows_s = reinterpret_cast<float*>(qdo + 4 * kTile * LD);  // 2 stages x (lse * log2 e [64], Di [64])

  const int h = blockIdx.x, b = blockIdx.y, g = h / (Hq / Hkv);
  const int s0 = cu_seqlens[b], len = cu_seqlens[b + 1] - s0;
  const int j0 = heavy_first_tile(false) * kTile;
  if (j0 >= len) return;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, gq = lane / 4, tq = lane % 4;
  const int key_a = j0 + 16 * warp + gq, key_b = key_a + 8;
  const float scale_log2 = scale * kLog2e;

  load_tile<D>(ks, k, s0, j0, len, Hkv, g);
  load_tile<D>(vs, v, s0, j0, len, Hkv, g);
  float dk_acc[D / 8][4], dv_acc[D / 8][4];
  zero<D>(dk_acc);
  zero<D>(dv_acc);

  // Work items are the query tiles at or after j0 (earlier queries never see these keys). Their Q/dout tiles
  // are double-buffered: item n+1 is copied asynchronously while item n is computed on.
  const int items = (len - j0 + kTile - 1) / kTile;
  auto issue = [&](int n) {
    const int i0 = j0 + n * kTile, stage = n % 2;
    bf16* qs = qdo + stage * 2 * kTile * LD;
    load_tile_async<D>(qs, q, s0, i0, len, Hq, h);
    load_tile_async<D>(qs + kTile * LD, dout, s0, i0, len, Hq, h);
    if (threadIdx.x < kTile) {
      float* rs = rows_s + stage * 2 * kTile;
      const int i = i0 + threadIdx.x;
      const int64_t r = (int64_t(s0) + i) * Hq + h;
      rs[threadIdx.x] = i < len ? lse[r] * kLog2e : INFINITY;  // past the end: P = 0
      rs[kTile + threadIdx.x] = i < len ? Di[r] : 0.0f;
    }
    cp_async_commit();
  };
  issue(0);
  for (int n = 0; n < items; n++) {
    if (n + 1 < items) {
      issue(n + 1);
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    const int i0 = j0 + n * kTile, stage = n % 2;
    const bf16* qs = qdo + stage * 2 * kTile * LD;
    const bf16* dos = qs + kTile * LD;
    const float* lse_s = rows_s + stage * 2 * kTile;
    const float* di_s = lse_s + kTile;

    float p[8][4], ds[8][4];
    zero_tile(p);
    zero_tile(ds);
    tile_times_tile_t<D>(p, ks, 16 * warp, qs);    // S^T = K Q^T   [16 keys x 64 queries]
    tile_times_tile_t<D>(ds, vs, 16 * warp, dos);  // dP^T = V dout^T
    const bool diagonal = i0 < j0 + 16 * warp + 15;  // some query of the tile may precede some key
#pragma unroll
    for (int nt = 0; nt < 8; nt++)
#pragma unroll
      for (int i = 0; i < 4; i++) {
        const int qi = 8 * nt + 2 * tq + (i & 1), key = i < 2 ? key_a : key_b;
        float pv = exp2f(p[nt][i] * scale_log2 - lse_s[qi]);
        if (diagonal && i0 + qi < key) pv = 0.0f;
        p[nt][i] = pv;
        ds[nt][i] = pv * (ds[nt][i] - di_s[qi]);
      }
    accumulate_tile_times<D>(dv_acc, p, dos);  // dV += P^T dout
    accumulate_tile_times<D>(dk_acc, ds, qs);  // dK += dS^T Q
    __syncthreads();  // this stage is refilled by the copy issued in the next iteration
  }

  if (dk_part) {  // grouped: this head's share, summed over the group by attention_group_sum_kernel
    const int64_t stride = int64_t(Hq) * D;
    const int64_t base = (int64_t(s0) + key_a) * stride + int64_t(h) * D;
    store_rows_f32<D>(dk_part + base, stride, key_a < len, key_b < len, &dk_acc[0][0]);
    store_rows_f32<D>(dv_part + base, stride, key_a < len, key_b < len, &dv_acc[0][0]);
    return;
  }
  const int64_t stride = int64_t(Hkv) * D;
  const int64_t base = (int64_t(s0) + key_a) * stride + int64_t(g) * D;
  store_rows_bf16<D>(dk + base, stride, key_a < len, key_b < len, &dk_acc[0][0], scale, accumulate);
  store_rows_bf16<D>(dv + base, stride, key_a < len, key_b < len, &dv_acc[0][0], 1.0f, accumulate);
}

// dk[t, g, :] += scale * sum over p (in order) of dk_part[t, g parts + p, :]; dv likewise, unscaled (= with
// accumulate false). The partials are [T, Hkv * parts, D]: one per query head of the group for the mma.sync kernel
// (parts = G), one per 3 heads for the wgmma one. One thread per 4 features of one (token, kv head).
__global__ void attention_group_sum_kernel(bf16* dk, bf16* dv, const float* dk_part, const float* dv_part,
                                           int64_t T, int Hkv, int parts, int D, float scale, bool accumulate) {
  const int64_t quads = T * Hkv * (D / 4);
  const int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= quads) return;
  const int64_t t = e / (int64_t(Hkv) * (D / 4));
  const int g = int(e / (D / 4) % Hkv), c = int(e % (D / 4)) * 4;
  float4 sk = make_float4(0, 0, 0, 0), sv = make_float4(0, 0, 0, 0);
  for (int p = g * parts; p < (g + 1) * parts; p++) {
    const int64_t src = (t * Hkv * parts + p) * D + c;
    const float4 a = *reinterpret_cast<const float4*>(dk_part + src);
    const float4 b = *reinterpret_cast<const float4*>(dv_part + src);
    sk.x += a.x, sk.y += a.y, sk.z += a.z, sk.w += a.w;
    sv.x += b.x, sv.y += b.y, sv.z += b.z, sv.w += b.w;
  }
  const int64_t dst = (t * Hkv + g) * D + c;
  auto add4 = [accumulate](bf16* p, float4 s, float f) {
    auto* p2 = reinterpret_cast<__nv_bfloat162*>(p);
    const float2 lo = accumulate ? __bfloat1622float2(p2[0]) : make_float2(0.0f, 0.0f);
    const float2 hi = accumulate ? __bfloat1622float2(p2[1]) : make_float2(0.0f, 0.0f);
    p2[0] = __floats2bfloat162_rn(lo.x + s.x * f, lo.y + s.y * f);
    p2[1] = __floats2bfloat162_rn(hi.x + s.z * f, hi.y + s.w * f);
  };
  add4(dk + dst, sk, scale);
  add4(dv + dst, sv, 1.0f);
}

template <int D>
__global__ void __launch_bounds__(kThreads)
attention_dq_kernel(bf16* dq, const bf16* dout, const bf16* q, const bf16* k, const bf16* v, const float* lse,
                    const float* Di, const int32_t* cu_seqlens, int Hq, int Hkv, float scale, bool accumulate) {
  constexpr int LD = ld<D>();
  extern __shared__ __align__(16) unsigned char smem_raw[];
  bf16* qs = reinterpret_cast<bf16*>(smem_raw);  // [64][LD] this block's queries
  bf16* dos = qs + kTile * LD;                   // [64][LD]
  bf16* kv = dos + kTile * LD;                   // 2 stages x (K [64][LD], V [64][LD])

  const int h = blockIdx.x, b = blockIdx.y, g = h / (Hq / Hkv);
  const int s0 = cu_seqlens[b], len = cu_seqlens[b + 1] - s0;
  const int r0 = heavy_first_tile(true) * kTile;
  if (r0 >= len) return;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, gq = lane / 4, tq = lane % 4;
  const int warp_first = r0 + 16 * warp;
  const int row_a = warp_first + gq, row_b = row_a + 8;
  const float scale_log2 = scale * kLog2e;

  load_tile<D>(qs, q, s0, r0, len, Hq, h);
  load_tile<D>(dos, dout, s0, r0, len, Hq, h);
  float lse2[2], di[2];
  load_row_stats(lse2, di, lse, Di, s0, row_a, len, Hq, h);
  float dq_acc[D / 8][4];
  zero<D>(dq_acc);

  // K/V tiles double-buffered as in the forward.
  const int block_last = min(r0 + kTile, len) - 1;
  const int tiles = block_last / kTile + 1;
  load_tile_async<D>(kv, k, s0, 0, len, Hkv, g);
  load_tile_async<D>(kv + kTile * LD, v, s0, 0, len, Hkv, g);
  cp_async_commit();
  for (int n = 0; n < tiles; n++) {
    const int j0 = n * kTile;
    if (n + 1 < tiles) {
      bf16* next = kv + ((n + 1) % 2) * 2 * kTile * LD;
      load_tile_async<D>(next, k, s0, j0 + kTile, len, Hkv, g);
      load_tile_async<D>(next + kTile * LD, v, s0, j0 + kTile, len, Hkv, g);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    const bf16* ks = kv + (n % 2) * 2 * kTile * LD;
    const bf16* vs = ks + kTile * LD;
    if (j0 <= warp_first + 15) {  // else every key of the tile is after every row of this warp
      float p[8][4], ds[8][4];
      zero_tile(p);
      zero_tile(ds);
      tile_times_tile_t<D>(p, qs, 16 * warp, ks);    // S = Q K^T
      tile_times_tile_t<D>(ds, dos, 16 * warp, vs);  // dP = dout V^T
      const bool diagonal = j0 + kTile - 1 > warp_first;
#pragma unroll
      for (int nt = 0; nt < 8; nt++)
#pragma unroll
        for (int i = 0; i < 4; i++) {
          const int key = j0 + 8 * nt + 2 * tq + (i & 1), row = i < 2 ? row_a : row_b;
          float pv = exp2f(p[nt][i] * scale_log2 - lse2[i / 2]);
          if (diagonal && key > row) pv = 0.0f;
          ds[nt][i] = pv * (ds[nt][i] - di[i / 2]);
        }
      accumulate_tile_times<D>(dq_acc, ds, ks);  // dQ += dS K
    }
    __syncthreads();  // this stage is refilled by the copy issued in the next iteration
  }

  const int64_t stride = int64_t(Hq) * D;
  store_rows_bf16<D>(dq + (int64_t(s0) + row_a) * stride + int64_t(h) * D, stride, row_a < len, row_b < len,
                     &dq_acc[0][0], scale, accumulate);
}

// Partial dk / dv sums per kv head that the dk/dv kernel leaves for the group sum (1: none, it writes dk / dv).
int dkdv_parts(const Context& ctx, int Hq, int Hkv, int D) {
  return ctx.attention_wgmma() && attention::wgmma_head_dim(D) ? attention::dkdv_wgmma_parts(Hq, Hkv) : Hq / Hkv;
}

// dk_part / dv_part: [T, Hkv * dkdv_parts, D] float32 scratch when dkdv_parts > 1, else null.
template <int D>
void launch(Context& ctx, bf16* dq, bf16* dk, bf16* dv, float* dk_part, float* dv_part, const bf16* dout,
            const bf16* q, const bf16* k, const bf16* v, const float* lse, const float* Di,
            const int32_t* cu_seqlens, int B, int T, int Hq, int Hkv, int max_seqlen, bool accumulate) {
  const float scale = 1.0f / sqrtf(float(D));
  const bool wgmma = ctx.attention_wgmma() && attention::wgmma_head_dim(D);
  if (wgmma) {
    attention::dkdv_wgmma(ctx, dk, dv, dk_part, dv_part, dout, q, k, v, lse, Di, cu_seqlens, B, T, Hq, Hkv, D,
                          max_seqlen, scale, accumulate);
  } else {
    const size_t smem_kv = sizeof(bf16) * 6 * kTile * ld<D>() + sizeof(float) * 4 * kTile;
    auto dkdv = attention_dkdv_kernel<D>;
    R1_CUDA_CHECK("attention_backward",
                  cudaFuncSetAttribute(dkdv, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem_kv)));
    dkdv<<<tile_grid(Hq, B, max_seqlen), kThreads, smem_kv, ctx.stream()>>>(dk, dv, dk_part, dv_part, dout, q, k, v,
                                                                            lse, Di, cu_seqlens, Hq, Hkv, scale,
                                                                            accumulate);
    R1_CUDA_LAUNCH_CHECK("attention_backward(dk, dv)");
  }
  if (dk_part) {
    const int64_t quads = int64_t(T) * Hkv * (D / 4);
    attention_group_sum_kernel<<<unsigned(ceil_div(quads, 256)), 256, 0, ctx.stream()>>>(
        dk, dv, dk_part, dv_part, T, Hkv, dkdv_parts(ctx, Hq, Hkv, D), D, scale, accumulate);
    R1_CUDA_LAUNCH_CHECK("attention_backward(group sum)");
  }

  if (wgmma)
    return attention::dq_wgmma(ctx, dq, dout, q, k, v, lse, Di, cu_seqlens, B, T, Hq, Hkv, D, max_seqlen, scale,
                               accumulate);
  const size_t smem_q = sizeof(bf16) * 6 * kTile * ld<D>();
  auto dqk = attention_dq_kernel<D>;
  R1_CUDA_CHECK("attention_backward",
                cudaFuncSetAttribute(dqk, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem_q)));
  dqk<<<tile_grid(Hq, B, max_seqlen), kThreads, smem_q, ctx.stream()>>>(dq, dout, q, k, v, lse, Di, cu_seqlens,
                                                                         Hq, Hkv, scale, accumulate);
  R1_CUDA_LAUNCH_CHECK("attention_backward(dq)");
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

void attention_backward(Context& ctx, bf16* dq, bf16* dk, bf16* dv, const bf16* dout, const bf16* q, const bf16* k,
                        const bf16* v, const bf16* out, const float* lse, const int32_t* cu_seqlens, int B, int T,
                        int Hq, int Hkv, int D, int max_seqlen, bool accumulate) {
  if (T <= 0 || B <= 0 || max_seqlen <= 0) return;
  R1_CHECK(Hkv > 0 && Hq % Hkv == 0, "attention_backward: Hq must be a multiple of Hkv");
  if (D != 32 && D != 64 && D != 128)
    throw Error("cuda: attention_backward: head dim " + std::to_string(D) + " is not supported (32, 64, 128)");
  R1_CHECK(aligned16(dq) && aligned16(dk) && aligned16(dv) && aligned16(dout) && aligned16(q) && aligned16(k) &&
               aligned16(v) && aligned16(out),
           "attention_backward: tensors must be 16-byte aligned");
  // One scratch request: Di [T, Hq], then with grouped heads the dk and dv partials [T, Hkv * parts, D] each.
  const int64_t rows = int64_t(T) * Hq;
  const int parts = dkdv_parts(ctx, Hq, Hkv, D);
  const int64_t part_floats = parts > 1 ? int64_t(T) * Hkv * parts * D : 0;
  const int64_t di_floats = (rows + 3) / 4 * 4;  // the partials start 16-byte aligned (float4 loads)
  auto* Di = static_cast<float*>(ctx.scratch(sizeof(float) * size_t(di_floats + 2 * part_floats)));
  float* dk_part = parts > 1 ? Di + di_floats : nullptr;
  float* dv_part = parts > 1 ? dk_part + part_floats : nullptr;
  auto row_dot = D == 32 ? attention_row_dot_kernel<32> : D == 64 ? attention_row_dot_kernel<64>
                                                                  : attention_row_dot_kernel<128>;
  row_dot<<<ceil_div(rows * (D / 8), 256), 256, 0, ctx.stream()>>>(Di, dout, out, rows);
  R1_CUDA_LAUNCH_CHECK("attention_backward(Di)");
  switch (D) {
    case 32:
      return launch<32>(ctx, dq, dk, dv, dk_part, dv_part, dout, q, k, v, lse, Di, cu_seqlens, B, T, Hq, Hkv,
                         max_seqlen, accumulate);
    case 64:
      return launch<64>(ctx, dq, dk, dv, dk_part, dv_part, dout, q, k, v, lse, Di, cu_seqlens, B, T, Hq, Hkv,
                         max_seqlen, accumulate);
    case 128:
      return launch<128>(ctx, dq, dk, dv, dk_part, dv_part, dout, q, k, v, lse, Di, cu_seqlens, B, T, Hq, Hkv,
                         max_seqlen, accumulate);
    default:
      return;  // checked above
  }
}

}  // namespace r1::cuda
