// Fusions for the decode step, where every op touches only B rows and a kernel's fixed cost (launch, ramp,
// drain: a few microseconds) outweighs its memory traffic. Each fusion computes bitwise what the unfused ops
// compute (same float32 formulas, same bf16 rounding points, same reduction order), so fused and unfused paths
// give the same tokens. All three are launched as programmatic dependents (pdl.cuh):
//   decode_rope_kv_write  RoPE on q and k (rope_forward) + K/V into the cache slots (kv_write)
//   add_rmsnorm           x += delta (add_inplace), then out = RMSNorm(x) (rmsnorm_forward)
//   decode_swiglu_rows    swiglu_forward on the two halves of each row of one [T, 2F] gate|up product
//   decode_embedding      the input token from the previous step's sampler output, then embedding_forward
#include "backend/cuda/common.cuh"
#include "backend/cuda/decode_ops.h"
#include "backend/cuda/pdl.cuh"
#include "backend/cuda/rmsnorm_row.cuh"

namespace r1::cuda {

namespace {

constexpr int kRowsPerBlock = 8;  // add_rmsnorm: one warp per row, as rmsnorm_forward

// One thread per (token, head, pair i): heads [0, Hq) rotate q in place; heads [Hq, Hq + Hkv) rotate k and
// write the rotated k and the unchanged v pair into the token's cache slot.
__global__ void rope_kv_write_kernel(bf16* __restrict__ q, const bf16* __restrict__ k, const bf16* __restrict__ v,
                                     bf16* __restrict__ k_pool, bf16* __restrict__ v_pool,
                                     const int32_t* __restrict__ positions, const int32_t* __restrict__ slots,
                                     const float* __restrict__ cos_table, const float* __restrict__ sin_table, int T,
                                     int Hq, int Hkv, int D) {
  allow_dependents();
  dependency_wait();
  const int half = D / 2, H = Hq + Hkv;
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= int64_t(T) * H * half) return;
  const int i = int(idx % half);
  const int64_t th = idx / half;
  const int t = int(th / H), h = int(th % H);
  const int64_t p = int64_t(positions[t]) * half + i;
  const float c = cos_table[p], s = sin_table[p];
  if (h < Hq) {
    bf16* r = q + (int64_t(t) * Hq + h) * D;
    const float a = to_f32(r[i]), b = to_f32(r[i + half]);
    r[i] = to_bf16(a * c - b * s);
    r[i + half] = to_bf16(b * c + a * s);
    return;
  }
  const int hk = h - Hq;
  const int64_t src = (int64_t(t) * Hkv + hk) * D, dst = (int64_t(slots[t]) * Hkv + hk) * D;
  const float a = to_f32(k[src + i]), b = to_f32(k[src + i + half]);
  k_pool[dst + i] = to_bf16(a * c - b * s);
  k_pool[dst + i + half] = to_bf16(b * c + a * s);
  v_pool[dst + i] = v[src + i];
  v_pool[dst + i + half] = v[src + i + half];
}

__global__ void add_rmsnorm_kernel(bf16* __restrict__ x, const bf16* __restrict__ delta, bf16* __restrict__ out,
                                   float* __restrict__ rstd, const bf16* __restrict__ w, int T, int C, float eps) {
  allow_dependents();
  dependency_wait();
  const int t = blockIdx.x * kRowsPerBlock + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (t >= T) return;
  bf16* xt = x + int64_t(t) * C;
  const bf16* dt = delta + int64_t(t) * C;
  float ss = 0.0f;
#pragma unroll 4
  for (int c = lane; c < C; c += 32) {
    const bf16 y = to_bf16(to_f32(xt[c]) + to_f32(dt[c]));
    xt[c] = y;
    const float v = to_f32(y);
    ss += v * v;
  }
  rmsnorm_row_finish(out + int64_t(t) * C, rstd + t, xt, w, ss, C, eps);
}

// Eight outputs per thread (16-byte loads and stores) when F % 8 == 0; the formula of swiglu_forward.
__global__ void swiglu_rows_kernel(bf16* __restrict__ out, const bf16* __restrict__ gate_up, int T, int F) {
  allow_dependents();
  dependency_wait();
  const int per = F % 8 == 0 ? 8 : 1;
  const int64_t i = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) * per;
  if (i >= int64_t(T) * F) return;
  const int64_t t = i / F, f = i % F;
  const bf16* g = gate_up + t * 2 * F + f;
  const bf16* u = g + F;
  auto one = [](bf16 gb, bf16 ub) {
    const float x = to_f32(gb);
    return to_bf16(x * (1.0f / (1.0f + __expf(-x))) * to_f32(ub));
  };
  if (per == 8) {
    const uint4 gv = *reinterpret_cast<const uint4*>(g), uv = *reinterpret_cast<const uint4*>(u);
    const bf16* ga = reinterpret_cast<const bf16*>(&gv);
    const bf16* ua = reinterpret_cast<const bf16*>(&uv);
    uint4 ov;
    bf16* oa = reinterpret_cast<bf16*>(&ov);
#pragma unroll
    for (int k = 0; k < 8; k++) oa[k] = one(ga[k], ua[k]);
    *reinterpret_cast<uint4*>(out + i) = ov;
  } else {
    out[i] = one(*g, *u);
  }
}

__global__ void decode_embedding_kernel(bf16* __restrict__ out, const int32_t* __restrict__ tokens,
                                        const int32_t* __restrict__ source_rows,
                                        const int32_t* __restrict__ prev_tokens, const bf16* __restrict__ table,
                                        int C) {
  allow_dependents();
  dependency_wait();
  const int b = blockIdx.x, src = source_rows[b];
  const int32_t id = src >= 0 ? max(prev_tokens[src], 0) : tokens[b];
  const bf16* row = table + int64_t(id) * C;
  bf16* o = out + int64_t(b) * C;
  for (int c = threadIdx.x; c < C; c += blockDim.x) o[c] = row[c];
}

}  // namespace

void decode_embedding(Context& ctx, bf16* out, const int32_t* tokens, const int32_t* source_rows,
                      const int32_t* prev_tokens, const bf16* table, int B, int C) {
  if (B <= 0) return;
  // An ordinary launch: it follows the step's input upload (a copy, not a kernel).
  decode_embedding_kernel<<<B, 128, 0, ctx.stream()>>>(out, tokens, source_rows, prev_tokens, table, C);
  R1_CUDA_LAUNCH_CHECK("decode_embedding");
}

void decode_swiglu_rows(Context& ctx, bf16* out, const bf16* gate_up, int T, int F) {
  const int per = F % 8 == 0 ? 8 : 1;
  const int64_t n = int64_t(T) * F / per;
  if (n <= 0) return;
  launch_dependent("decode_swiglu_rows", swiglu_rows_kernel, dim3(ceil_div(n, 256)), dim3(256), 0, ctx.stream(), out,
                   gate_up, T, F);
}

void decode_rope_kv_write(Context& ctx, bf16* q, const bf16* k, const bf16* v, bf16* k_pool, bf16* v_pool,
                          const int32_t* positions, const int32_t* slots, const float* cos_table,
                          const float* sin_table, int T, int Hq, int Hkv, int D) {
  const int64_t n = int64_t(T) * (Hq + Hkv) * (D / 2);
  if (n <= 0) return;
  launch_dependent("decode_rope_kv_write", rope_kv_write_kernel, dim3(ceil_div(n, 256)), dim3(256), 0, ctx.stream(),
                   q, k, v, k_pool, v_pool, positions, slots, cos_table, sin_table, T, Hq, Hkv, D);
}

void add_rmsnorm(Context& ctx, bf16* x, const bf16* delta, bf16* out, float* rstd, const bf16* weight, int T, int C,
                 float eps) {
  if (T <= 0) return;
  launch_dependent("add_rmsnorm", add_rmsnorm_kernel, dim3(ceil_div(T, kRowsPerBlock)), dim3(kRowsPerBlock * 32), 0,
                   ctx.stream(), x, delta, out, rstd, weight, T, C, eps);
}

}  // namespace r1::cuda
