// Rotary position embeddings, HF "rotate_half" pairing: dimension i rotates with i + D/2.
//   forward  (a, b) -> (a cos - b sin, b cos + a sin)
//   backward the inverse (transposed) rotation, sin -> -sin, applied to the gradient in place.
// The cos/sin tables are the CPU's (cpu::rope_tables, uploaded), so both backends use the same angles.
// One thread per (token, head, pair).
#include "backend/cuda/common.cuh"
#include "backend/cuda/ops.h"

namespace r1::cuda {

namespace {

__global__ void rope_kernel(bf16* x, const int32_t* positions, const float* cos_table, const float* sin_table,
                            int T, int H, int D, float sign) {
  const int half = D / 2;
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= int64_t(T) * H * half) return;
  const int i = int(idx % half);
  const int64_t th = idx / half;  // token * H + head
  const int t = int(th / H);
  const int64_t p = int64_t(positions[t]) * half + i;
  const float c = cos_table[p], s = sign * sin_table[p];
  bf16* r = x + th * D;
  const float a = to_f32(r[i]), b = to_f32(r[i + half]);
  r[i] = to_bf16(a * c - b * s);
  r[i + half] = to_bf16(b * c + a * s);
}

void rope(Context& ctx, const char* op, bf16* x, const int32_t* positions, const float* cos_table,
          const float* sin_table, int T, int H, int D, float sign) {
  const int64_t n = int64_t(T) * H * (D / 2);
  if (n <= 0) return;
  rope_kernel<<<ceil_div(n, 256), 256, 0, ctx.stream()>>>(x, positions, cos_table, sin_table, T, H, D, sign);
  R1_CUDA_LAUNCH_CHECK(op);
}

}  // namespace

void rope_forward(Context& ctx, bf16* x, const int32_t* positions, const float* cos_table, const float* sin_table,
                  int T, int H, int D) {
  rope(ctx, "rope_forward", x, positions, cos_table, sin_table, T, H, D, 1.0f);
}

void rope_backward(Context& ctx, bf16* dx, const int32_t* positions, const float* cos_table, const float* sin_table,
                   int T, int H, int D) {
  rope(ctx, "rope_backward", dx, positions, cos_table, sin_table, T, H, D, -1.0f);
}

}  // namespace r1::cuda
