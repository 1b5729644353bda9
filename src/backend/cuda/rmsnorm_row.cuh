// The second half of one warp's RMSNorm row, shared by rmsnorm_forward (rmsnorm.cu) and the decode step's fused
// add + RMSNorm (decode_fused.cu), so both give bitwise the same normalised rows: from this lane's part of the
// row's sum of squares, rstd of the row (written by lane 0) and out = x * rstd * w, lanes striding the row.
#pragma once
#include "backend/cuda/common.cuh"

namespace r1::cuda {

__device__ __forceinline__ void rmsnorm_row_finish(bf16* __restrict__ out, float* __restrict__ rstd,
                                                   const bf16* __restrict__ x, const bf16* __restrict__ w,
                                                   float ss, int C, float eps) {
  const int lane = threadIdx.x % 32;
  const float r = rsqrtf(warp_sum(ss) / C + eps);
  if (lane == 0) *rstd = r;
#pragma unroll 4
  for (int c = lane; c < C; c += 32) out[c] = to_bf16(to_f32(x[c]) * r * to_f32(w[c]));
}

}  // namespace r1::cuda
