// The chunked LM head: per-token log-probabilities and entropies of the targets without ever holding [T x V]
// logits. Each chunk of tokens gets its float32 logits [rows, V] from one cuBLASLt product into the Context's
// scratch; one block per row then reduces them in a single pass with an online softmax:
//   m = max z,  s = sum e^(z-m),  a = sum e^(z-m) z   ->  lse = m + log s,  H = lse - a/s,  logprob = z_tgt - lse
// The backward recomputes the chunk's logits, overwrites nothing, and forms bf16 dlogits
//   dz = (dlogprob (onehot - p) - dentropy p (log p + H)) * inv_temperature
// which two more products turn into dx += dz W and dW += dz^T x (float32).
#include <algorithm>

#include "backend/cuda/common.cuh"
#include "backend/cuda/gemm.h"
#include "backend/cuda/ops.h"

namespace r1::cuda {

namespace {

constexpr int kThreads = 512;

struct SoftmaxStats {
  float m, s, a;  // running max, sum of e^(z-m), sum of e^(z-m) z
};

__device__ __forceinline__ SoftmaxStats combine(SoftmaxStats x, SoftmaxStats y) {
  const float m = fmaxf(x.m, y.m);
  if (m == -INFINITY) return x;  // both empty
  const float fx = __expf(x.m - m), fy = __expf(y.m - m);
  return {m, x.s * fx + y.s * fy, x.a * fx + y.a * fy};
}

// Online softmax statistics of one row, combined over the block; every thread gets the total.
__device__ SoftmaxStats row_stats(const float* z, int V) {
  __shared__ SoftmaxStats warp_stats[kThreads / 32];
  SoftmaxStats st{-INFINITY, 0.0f, 0.0f};
#pragma unroll 4
  for (int v = threadIdx.x; v < V; v += blockDim.x) {
    const float x = z[v];
    if (x > st.m) {
      const float f = __expf(st.m - x);  // st.m = -inf gives 0
      st = {x, st.s * f, st.a * f};
    }
    const float e = __expf(x - st.m);
    st.s += e;
    st.a += e * x;
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    SoftmaxStats other{__shfl_xor_sync(0xffffffffu, st.m, o), __shfl_xor_sync(0xffffffffu, st.s, o),
                       __shfl_xor_sync(0xffffffffu, st.a, o)};
    st = combine(st, other);
  }
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warp_stats[warp] = st;
  __syncthreads();
  SoftmaxStats total = warp_stats[0];
  for (int w = 1; w < int(blockDim.x / 32); w++) total = combine(total, warp_stats[w]);
  return total;
}

__global__ void lm_head_forward_kernel(float* logprob, float* entropy, const float* logits, const int32_t* targets,
                                       int V) {
  const int r = blockIdx.x;
  const int32_t target = targets[r];
  if (target < 0) {
    if (threadIdx.x == 0) {
      logprob[r] = 0.0f;
      if (entropy) entropy[r] = 0.0f;
    }
    return;
  }
  const float* z = logits + int64_t(r) * V;
  const SoftmaxStats st = row_stats(z, V);
  if (threadIdx.x == 0) {
    const float lse = st.m + logf(st.s);
    logprob[r] = z[target] - lse;
    if (entropy) entropy[r] = lse - st.a / st.s;
  }
}

// logprob / entropy (optional) are written too when the caller fuses the forward into the backward.
__global__ void lm_head_dlogits_kernel(bf16* __restrict__ dlogits, float* logprob, float* entropy,
                                       const float* __restrict__ logits, const int32_t* targets,
                                       const float* dlogprob, const float* dentropy, int V, float inv_temperature) {
  const int r = blockIdx.x;
  const int32_t target = targets[r];
  bf16* d = dlogits + int64_t(r) * V;
  if (target < 0) {
    for (int v = threadIdx.x; v < V; v += blockDim.x) d[v] = to_bf16(0.0f);
    if (threadIdx.x == 0) {
      if (logprob) logprob[r] = 0.0f;
      if (entropy) entropy[r] = 0.0f;
    }
    return;
  }
  const float* z = logits + int64_t(r) * V;
  const SoftmaxStats st = row_stats(z, V);
  const float lse = st.m + logf(st.s), H = lse - st.a / st.s;
  if (threadIdx.x == 0) {
    if (logprob) logprob[r] = z[target] - lse;
    if (entropy) entropy[r] = H;
  }
  const float gl = dlogprob ? dlogprob[r] : 0.0f, ge = dentropy ? dentropy[r] : 0.0f;
#pragma unroll 4
  for (int v = threadIdx.x; v < V; v += blockDim.x) {
    const float logp = z[v] - lse, p = __expf(logp);
    float g = -gl * p - ge * p * (logp + H);
    if (v == target) g += gl;
    d[v] = to_bf16(g * inv_temperature);
  }
}

// logits [rows, V] float32 = x [rows, C] W [V, C]^T * alpha. Column-major: logits^T [V, rows] = W^T x^T.
void chunk_logits(Context& ctx, const char* op, float* logits, const bf16* x, const bf16* W, int rows, int C, int V,
                  float alpha) {
  gemm(ctx, op, true, false, V, rows, C, alpha, W, C, x, C, 0.0f, logits, CUDA_R_32F, V);
}

size_t align256(size_t n) { return (n + 255) / 256 * 256; }

}  // namespace

void lm_head_logits(Context& ctx, float* logits, const bf16* x, const bf16* W, int n, int C, int V) {
  if (n <= 0) return;
  chunk_logits(ctx, "lm_head_logits", logits, x, W, n, C, V, 1.0f);
}

void lm_head_forward(Context& ctx, float* logprob, float* entropy, const bf16* x, const bf16* W,
                     const int32_t* targets, int T, int C, int V, float inv_temperature, int chunk) {
  if (T <= 0) return;
  chunk = std::max(1, std::min(chunk, T));
  auto* logits = static_cast<float*>(ctx.scratch(sizeof(float) * size_t(chunk) * V));
  for (int t0 = 0; t0 < T; t0 += chunk) {
    const int rows = std::min(chunk, T - t0);
    chunk_logits(ctx, "lm_head_forward", logits, x + int64_t(t0) * C, W, rows, C, V, inv_temperature);
    lm_head_forward_kernel<<<rows, kThreads, 0, ctx.stream()>>>(logprob + t0, entropy ? entropy + t0 : nullptr,
                                                                logits, targets + t0, V);
    R1_CUDA_LAUNCH_CHECK("lm_head_forward");
  }
}

namespace {

// Shared by the backward and the fused forward + backward (logprob/entropy null in the former).
void head_backward_chunks(Context& ctx, const char* op, float* logprob, float* entropy, bf16* dx, float* dW,
                          const float* dlogprob, const float* dentropy, const bf16* x, const bf16* W,
                          const int32_t* targets, int T, int C, int V, float inv_temperature, int chunk) {
  if (T <= 0) return;
  chunk = std::max(1, std::min(chunk, T));
  const size_t logits_bytes = align256(sizeof(float) * size_t(chunk) * V);
  char* base = static_cast<char*>(ctx.scratch(logits_bytes + sizeof(bf16) * size_t(chunk) * V));
  auto* logits = reinterpret_cast<float*>(base);
  auto* dlogits = reinterpret_cast<bf16*>(base + logits_bytes);
  for (int t0 = 0; t0 < T; t0 += chunk) {
    const int rows = std::min(chunk, T - t0);
    const bf16* xc = x + int64_t(t0) * C;
    chunk_logits(ctx, op, logits, xc, W, rows, C, V, inv_temperature);
    lm_head_dlogits_kernel<<<rows, kThreads, 0, ctx.stream()>>>(
        dlogits, logprob ? logprob + t0 : nullptr, entropy ? entropy + t0 : nullptr, logits, targets + t0,
        dlogprob ? dlogprob + t0 : nullptr, dentropy ? dentropy + t0 : nullptr, V, inv_temperature);
    R1_CUDA_LAUNCH_CHECK(op);
    // dx^T [C, rows] += W^T-as-stored [C, V] dz^T [V, rows]
    gemm(ctx, op, false, false, C, rows, V, 1.0f, W, C, dlogits, V, 1.0f, dx + int64_t(t0) * C, CUDA_R_16BF, C);
    // dW^T [C, V] += x^T [C, rows] (dz^T [V, rows])^T
    gemm(ctx, op, false, true, C, V, rows, 1.0f, xc, C, dlogits, V, 1.0f, dW, CUDA_R_32F, C);
  }
}

}  // namespace

void lm_head_backward(Context& ctx, bf16* dx, float* dW, const float* dlogprob, const float* dentropy, const bf16* x,
                      const bf16* W, const int32_t* targets, int T, int C, int V, float inv_temperature, int chunk) {
  head_backward_chunks(ctx, "lm_head_backward", nullptr, nullptr, dx, dW, dlogprob, dentropy, x, W, targets, T, C, V,
                       inv_temperature, chunk);
}

void lm_head_forward_backward(Context& ctx, float* logprob, float* entropy, bf16* dx, float* dW, const float* dlogprob,
                              const float* dentropy, const bf16* x, const bf16* W, const int32_t* targets, int T, int C,
                              int V, float inv_temperature, int chunk) {
  head_backward_chunks(ctx, "lm_head_forward_backward", logprob, entropy, dx, dW, dlogprob, dentropy, x, W, targets, T,
                       C, V, inv_temperature, chunk);
}

}  // namespace r1::cuda
