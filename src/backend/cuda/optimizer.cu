// The optimizer step over the flat float32 buffers: fused AdamW (gradient scaling for clipping, moments,
// bias correction, decoupled weight decay, and the bf16 working copy of the weights, in one pass), and the
// global gradient norm as a deterministic two-level reduction in double (fixed grid, fixed combine order).
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
//   p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps) + lr wd p      (wd only where `decay`)
#include <algorithm>
#include <cmath>

#include "backend/cuda/common.cuh"
#include "backend/cuda/ops.h"

namespace r1::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kNormBlocks = 1024;  // fixed, so the reduction order (and result) never depends on the device

struct AdamWScalars {
  float beta1, beta2, eps, step_size, inv_sqrt_bc2, wd, grad_scale;
};

AdamWScalars adamw_scalars(float beta1, float beta2, float eps, float weight_decay, float lr, int64_t step,
                           float grad_scale) {
  const double bc1 = 1.0 - std::pow(double(beta1), double(step));
  const double bc2 = 1.0 - std::pow(double(beta2), double(step));
  return {beta1, beta2, eps, float(lr / bc1), float(1.0 / std::sqrt(bc2)), lr * weight_decay, grad_scale};
}

// One parameter's update: returns the new value and updates its moments in place; wd = lr * weight decay, or 0
// where the tensor does not decay.
__device__ __forceinline__ float adamw_value(float p, float grad, float& m, float& v, const AdamWScalars& s,
                                             float wd) {
  const float g = grad * s.grad_scale;
  m = s.beta1 * m + (1.0f - s.beta1) * g;
  v = s.beta2 * v + (1.0f - s.beta2) * g * g;
  return p - (s.step_size * m / (sqrtf(v) * s.inv_sqrt_bc2 + s.eps) + wd * p);
}

// Element i of the flat buffers, its moments at mi.
__device__ __forceinline__ void adamw_element(int64_t i, int64_t mi, float* params, bf16* params_bf16,
                                              const float* grads, float* m, float* v, const AdamWScalars& s,
                                              float wd) {
  float mm = m[mi], vv = v[mi];
  const float updated = adamw_value(params[i], grads[i], mm, vv, s, wd);
  m[mi] = mm;
  v[mi] = vv;
  params[i] = updated;
  if (params_bf16) params_bf16[i] = to_bf16(updated);
}

// Elements i .. i+3 (i and mi multiples of 4): 16-byte loads and stores, the bf16 copy as one 8-byte store.
__device__ __forceinline__ void adamw_quad(int64_t i, int64_t mi, float* params, bf16* params_bf16,
                                           const float* grads, float* m, float* v, const AdamWScalars& s, float wd) {
  float4 p = *reinterpret_cast<const float4*>(params + i);
  const float4 g = *reinterpret_cast<const float4*>(grads + i);
  float4 mm = *reinterpret_cast<const float4*>(m + mi), vv = *reinterpret_cast<const float4*>(v + mi);
  p.x = adamw_value(p.x, g.x, mm.x, vv.x, s, wd);
  p.y = adamw_value(p.y, g.y, mm.y, vv.y, s, wd);
  p.z = adamw_value(p.z, g.z, mm.z, vv.z, s, wd);
  p.w = adamw_value(p.w, g.w, mm.w, vv.w, s, wd);
  *reinterpret_cast<float4*>(params + i) = p;
  *reinterpret_cast<float4*>(m + mi) = mm;
  *reinterpret_cast<float4*>(v + mi) = vv;
  if (params_bf16) {
    const __nv_bfloat162 lo = __floats2bfloat162_rn(p.x, p.y), hi = __floats2bfloat162_rn(p.z, p.w);
    uint2 packed;
    packed.x = *reinterpret_cast<const uint32_t*>(&lo);
    packed.y = *reinterpret_cast<const uint32_t*>(&hi);
    *reinterpret_cast<uint2*>(params_bf16 + i) = packed;
  }
}

__global__ void adamw_kernel(float* params, bf16* params_bf16, const float* grads, float* m, float* v, int64_t n,
                             AdamWScalars s, float wd) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    adamw_element(i, i, params, params_bf16, grads, m, v, s, wd);
}

__global__ void adamw_chunks_kernel(const AdamWChunk* chunks, float* params, bf16* params_bf16, const float* grads,
                                    float* m, float* v, int64_t moment_begin, AdamWScalars s) {
  const AdamWChunk c = chunks[blockIdx.x];
  const float wd = c.decay ? s.wd : 0.0f;
  if (c.begin % 4 == 0 && c.count % 4 == 0 && moment_begin % 4 == 0) {  // (the buffers are cudaMalloc-aligned)
    for (int64_t q = threadIdx.x; q < c.count / 4; q += blockDim.x)
      adamw_quad(c.begin + 4 * q, c.begin + 4 * q - moment_begin, params, params_bf16, grads, m, v, s, wd);
    return;
  }
  for (int64_t i = c.begin + threadIdx.x; i < c.begin + c.count; i += blockDim.x)
    adamw_element(i, i - moment_begin, params, params_bf16, grads, m, v, s, wd);
}

__global__ void sum_squares_kernel(double* partial, const float* g, int64_t n) {
  __shared__ double warp_sums[kThreads / 32];
  double s = 0.0;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    s += double(g[i]) * g[i];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = s;
  __syncthreads();
  if (threadIdx.x == 0) {
    double total = 0.0;
    for (int w = 0; w < kThreads / 32; w++) total += warp_sums[w];
    partial[blockIdx.x] = total;
  }
}

__global__ void sum_partials_kernel(double* out, const double* partial, int count, bool accumulate) {
  __shared__ double warp_sums[kThreads / 32];
  double s = 0.0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) s += partial[i];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = s;
  __syncthreads();
  if (threadIdx.x == 0) {
    double total = 0.0;
    for (int w = 0; w < kThreads / 32; w++) total += warp_sums[w];
    *out = accumulate ? *out + total : total;
  }
}

__global__ void scale_kernel(float* g, int64_t n, float scale) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    g[i] *= scale;
}

int grid_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return int(blocks < 4096 ? blocks : 4096);
}

}  // namespace

void adamw_update(Context& ctx, float* params, bf16* params_bf16, const float* grads, float* m, float* v, int64_t n,
                  float beta1, float beta2, float eps, float weight_decay, float lr, int64_t step, bool decay,
                  float grad_scale) {
  if (n <= 0) return;
  const AdamWScalars s = adamw_scalars(beta1, beta2, eps, weight_decay, lr, step, grad_scale);
  adamw_kernel<<<grid_for(n), kThreads, 0, ctx.stream()>>>(params, params_bf16, grads, m, v, n, s,
                                                          decay ? s.wd : 0.0f);
  R1_CUDA_LAUNCH_CHECK("adamw_update");
}

std::vector<AdamWChunk> adamw_chunks(const std::vector<AdamWSpan>& spans) {
  std::vector<AdamWChunk> chunks;
  for (const AdamWSpan& s : spans)
    for (int64_t b = s.begin; b < s.end; b += kAdamWChunk)
      chunks.push_back({b, int32_t(std::min<int64_t>(kAdamWChunk, s.end - b)), s.decay ? 1 : 0});
  return chunks;
}

void adamw_update_chunks(Context& ctx, float* params, bf16* params_bf16, const float* grads, float* m, float* v,
                         int64_t moment_begin, const AdamWChunk* chunks, int num_chunks, float beta1, float beta2,
                         float eps, float weight_decay, float lr, int64_t step, float grad_scale) {
  if (num_chunks <= 0) return;
  const AdamWScalars s = adamw_scalars(beta1, beta2, eps, weight_decay, lr, step, grad_scale);
  adamw_chunks_kernel<<<num_chunks, kThreads, 0, ctx.stream()>>>(chunks, params, params_bf16, grads, m, v,
                                                                 moment_begin, s);
  R1_CUDA_LAUNCH_CHECK("adamw_update_chunks");
}

void grad_norm_squared(Context& ctx, double* sum_sq_device, const float* grads, int64_t n, bool accumulate) {
  auto* partial = static_cast<double*>(ctx.scratch(sizeof(double) * kNormBlocks));
  sum_squares_kernel<<<kNormBlocks, kThreads, 0, ctx.stream()>>>(partial, grads, n);
  R1_CUDA_LAUNCH_CHECK("grad_norm_squared");
  sum_partials_kernel<<<1, kThreads, 0, ctx.stream()>>>(sum_sq_device, partial, kNormBlocks, accumulate);
  R1_CUDA_LAUNCH_CHECK("grad_norm_squared");
}

double global_grad_norm(Context& ctx, const float* grads, int64_t n) {
  // The result lives just past the partial sums in the scratch buffer.
  auto* base = static_cast<double*>(ctx.scratch(sizeof(double) * (kNormBlocks + 1)));
  double* result = base + kNormBlocks;
  sum_squares_kernel<<<kNormBlocks, kThreads, 0, ctx.stream()>>>(base, grads, n);
  R1_CUDA_LAUNCH_CHECK("global_grad_norm");
  sum_partials_kernel<<<1, kThreads, 0, ctx.stream()>>>(result, base, kNormBlocks, false);
  R1_CUDA_LAUNCH_CHECK("global_grad_norm");
  double host = 0.0;
  R1_CUDA_CHECK("global_grad_norm",
                cudaMemcpyAsync(&host, result, sizeof(double), cudaMemcpyDeviceToHost, ctx.stream()));
  ctx.synchronize("global_grad_norm");
  return std::sqrt(host);
}

double clip_grad_norm(Context& ctx, float* grads, int64_t n, double max_norm) {
  const double norm = global_grad_norm(ctx, grads, n);
  if (std::isfinite(norm) && norm > max_norm && max_norm > 0 && n > 0) {
    scale_kernel<<<grid_for(n), kThreads, 0, ctx.stream()>>>(grads, n, float(max_norm / (norm + 1e-6)));
    R1_CUDA_LAUNCH_CHECK("clip_grad_norm");
  }
  return norm;
}

}  // namespace r1::cuda
