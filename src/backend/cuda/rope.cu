// Rotary position embeddings, HF "rotate_half" pairing: dimension i rotates with i + D/2.
//   forward  (a, b) -> (a cos - b sin, b cos + a sin)
//   backward the inverse (transposed) rotation, sin -> -sin, applied to the gradient in place.
// The cos/sin tables are the CPU's (cpu::rope_tables, uploaded), so both backends use the same angles.
#include "backend/cuda/common.cuh"
#include "backend/cuda/ops.h"

namespace r1::cuda {

namespace {

// The heads of up to two tensors in one launch (q [T, H0, D] and k [T, H1, D]): thread = (token, head of either,
// P consecutive pairs), loading P elements of each half at once (P = 4: 8-byte loads, the tables as float4).
// One pair per thread with 2-byte loads had run at 1.3 TB/s.
template <int P>
__global__ void rope_kernel(bf16* __restrict__ x0, int H0, bf16* __restrict__ x1, int H1,
                            const int32_t* __restrict__ positions, const float* __restrict__ cos_table,
                            const float* __restrict__ sin_table, int T, int D, float sign) {
  const int half = D / 2, groups = half / P, H = H0 + H1;
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= int64_t(T) * H * groups) return;
  const int i = int(idx % groups) * P;
  const int64_t th = idx / groups;  // token * H + head
  const int t = int(th / H), h = int(th % H);
  bf16* r = h < H0 ? x0 + (int64_t(t) * H0 + h) * D : x1 + (int64_t(t) * H1 + (h - H0)) * D;
  const int64_t p = int64_t(positions[t]) * half + i;
  float c[P], sn[P];
  bf16 a[P], b[P];
  if constexpr (P == 4) {
    *reinterpret_cast<float4*>(c) = *reinterpret_cast<const float4*>(cos_table + p);
    *reinterpret_cast<float4*>(sn) = *reinterpret_cast<const float4*>(sin_table + p);
    *reinterpret_cast<uint2*>(a) = *reinterpret_cast<const uint2*>(r + i);
    *reinterpret_cast<uint2*>(b) = *reinterpret_cast<const uint2*>(r + i + half);
  } else {
    c[0] = cos_table[p], sn[0] = sin_table[p], a[0] = r[i], b[0] = r[i + half];
  }
#pragma unroll
  for (int j = 0; j < P; j++) {
    const float s = sign * sn[j], x = to_f32(a[j]), y = to_f32(b[j]);
    a[j] = to_bf16(x * c[j] - y * s);
    b[j] = to_bf16(y * c[j] + x * s);
  }
  if constexpr (P == 4) {
    *reinterpret_cast<uint2*>(r + i) = *reinterpret_cast<const uint2*>(a);
    *reinterpret_cast<uint2*>(r + i + half) = *reinterpret_cast<const uint2*>(b);
  } else {
    r[i] = a[0], r[i + half] = b[0];
  }
}

bool aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

void rope(Context& ctx, const char* op, bf16* x0, int H0, bf16* x1, int H1, const int32_t* positions,
          const float* cos_table, const float* sin_table, int T, int D, float sign) {
  const int half = D / 2;
  // 4 pairs per thread when every vector access is aligned: rows of D bf16 (D % 8 == 0), 16-byte table bases.
  const bool vec = half % 4 == 0 && aligned(x0, 8) && (!x1 || aligned(x1, 8)) && aligned(cos_table, 16) &&
                   aligned(sin_table, 16);
  const int64_t n = int64_t(T) * (H0 + H1) * (vec ? half / 4 : half);
  if (n <= 0) return;
  if (vec)
    rope_kernel<4><<<ceil_div(n, 256), 256, 0, ctx.stream()>>>(x0, H0, x1, H1, positions, cos_table, sin_table, T, D,
                                                                sign);
  else
    rope_kernel<1><<<ceil_div(n, 256), 256, 0, ctx.stream()>>>(x0, H0, x1, H1, positions, cos_table, sin_table, T, D,
                                                                sign);
  R1_CUDA_LAUNCH_CHECK(op);
}

}  // namespace

void rope_forward(Context& ctx, bf16* x, const int32_t* positions, const float* cos_table, const float* sin_table,
                  int T, int H, int D) {
  rope(ctx, "rope_forward", x, H, nullptr, 0, positions, cos_table, sin_table, T, D, 1.0f);
}

void rope_backward(Context& ctx, bf16* dx, const int32_t* positions, const float* cos_table, const float* sin_table,
                   int T, int H, int D) {
  rope(ctx, "rope_backward", dx, H, nullptr, 0, positions, cos_table, sin_table, T, D, -1.0f);
}

void rope_forward_qk(Context& ctx, bf16* q, bf16* k, const int32_t* positions, const float* cos_table,
                     const float* sin_table, int T, int Hq, int Hkv, int D) {
  rope(ctx, "rope_forward", q, Hq, k, Hkv, positions, cos_table, sin_table, T, D, 1.0f);
}

void rope_backward_qk(Context& ctx, bf16* dq, bf16* dk, const int32_t* positions, const float* cos_table,
                      const float* sin_table, int T, int Hq, int Hkv, int D) {
  rope(ctx, "rope_backward", dq, Hq, dk, Hkv, positions, cos_table, sin_table, T, D, -1.0f);
}

}  // namespace r1::cuda
