// The optimizer step over the flat float32 buffers: fused AdamW (gradient scaling for clipping, moments,
// bias correction, decoupled weight decay, and the bf16 working copy of the weights, in one pass), and the
// global gradient norm as a deterministic two-level reduction in double (fixed grid, fixed combine order).
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
//   p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps) + lr wd p      (wd only where `decay`)
#include <cmath>

#include "backend/cuda/common.cuh"
#include "backend/cuda/ops.h"

namespace r1::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kNormBlocks = 1024;  // fixed, so the reduction order (and result) never depends on the device

__global__ void adamw_kernel(float* params, bf16* params_bf16, const float* grads, float* m, float* v, int64_t n,
                             float beta1, float beta2, float eps, float step_size, float inv_sqrt_bc2, float wd,
                             float grad_scale) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float g = grads[i] * grad_scale;
    const float mi = beta1 * m[i] + (1.0f - beta1) * g;
    const float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const float p = params[i];
    const float updated = p - (step_size * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps) + wd * p);
    params[i] = updated;
    if (params_bf16) params_bf16[i] = to_bf16(updated);
  }
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
  const double bc1 = 1.0 - std::pow(double(beta1), double(step));
  const double bc2 = 1.0 - std::pow(double(beta2), double(step));
  const float step_size = float(lr / bc1), inv_sqrt_bc2 = float(1.0 / std::sqrt(bc2));
  const float wd = decay ? lr * weight_decay : 0.0f;
  adamw_kernel<<<grid_for(n), kThreads, 0, ctx.stream()>>>(params, params_bf16, grads, m, v, n, beta1, beta2, eps,
                                                          step_size, inv_sqrt_bc2, wd, grad_scale);
  R1_CUDA_LAUNCH_CHECK("adamw_update");
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
