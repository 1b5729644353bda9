// Device-side helpers shared by the kernels: warp and block reductions in float32, bf16 <-> float32 moves,
// and grid sizing. Kept tiny on purpose: each kernel file should read on its own.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "backend/cuda/check.h"

namespace r1::cuda {

using bf16 = __nv_bfloat16;

inline int ceil_div(int64_t a, int64_t b) { return int((a + b - 1) / b); }

__device__ __forceinline__ float to_f32(bf16 x) { return __bfloat162float(x); }
__device__ __forceinline__ bf16 to_bf16(float x) { return __float2bfloat16_rn(x); }

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over the whole block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
// `shared` needs 32 floats. Safe to call repeatedly: the leading barrier protects the previous call's reads.
__device__ __forceinline__ float block_sum(float v, float* shared) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = lane < warps ? shared[lane] : 0.0f;
  return warp_sum(v);
}

__device__ __forceinline__ float block_max(float v, float* shared) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = lane < warps ? shared[lane] : -INFINITY;
  return warp_max(v);
}

}  // namespace r1::cuda

namespace r1::cuda {

// out[c] += (= without accumulate) sum_k partial[k, c] over `chunks` rows of partial sums, in a fixed order (deterministic). Block:
// 32 columns x 8 lanes; lane y sums rows y, y+8, ... and the 8 lane totals are added in order. The second half
// of the two-pass column sums (RMSNorm's dweight, linear's db). A template so that each .cu file that
// includes this header gets its own copy of the kernel.
template <int kLanes = 8>
__global__ void sum_column_partials_kernel(float* out, const float* partial, int chunks, int C, bool accumulate) {
  __shared__ float sums[kLanes][33];
  const int c = blockIdx.x * 32 + threadIdx.x;
  float s = 0.0f;
  if (c < C)
#pragma unroll 4
    for (int k = threadIdx.y; k < chunks; k += kLanes) s += partial[int64_t(k) * C + c];
  sums[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && c < C) {
    float total = 0.0f;
    for (int y = 0; y < kLanes; y++) total += sums[y][threadIdx.x];
    out[c] = accumulate ? out[c] + total : total;
  }
}

inline void sum_column_partials(cudaStream_t stream, const char* op, float* out, const float* partial, int chunks,
                                int C, bool accumulate = true) {
  sum_column_partials_kernel<><<<ceil_div(C, 32), dim3(32, 8), 0, stream>>>(out, partial, chunks, C, accumulate);
  R1_CUDA_LAUNCH_CHECK(op);
}

}  // namespace r1::cuda
