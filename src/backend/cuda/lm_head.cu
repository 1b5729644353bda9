// The chunked LM head: per-token log-probabilities and entropies of the targets without ever holding [T x V]
// logits. Each chunk of tokens gets its float32 logits [rows, V] from one cuBLASLt product into the Context's
// scratch; one block per row then reduces them in a single pass with an online softmax:
//   m = max z,  s = sum e^(z-m),  a = sum e^(z-m) z   ->  lse = m + log s,  H = lse - a/s,  logprob = z_tgt - lse
// The backward recomputes the chunk's logits, overwrites nothing, and forms bf16 dlogits
//   dz = (dlogprob (onehot - p) - dentropy p (log p + H)) * inv_temperature
// which two more products turn into dx += dz W and dW += dz^T x (float32).
// The dlogits pass needs every row twice (its statistics, then the gradient), and a float32 row of a 152k
// vocabulary (594 KiB) outgrows one SM. So a cluster of n blocks takes a row: each block copies its 1/n of the
// row into shared memory once, the blocks combine their statistics through distributed shared memory (in rank
// order: deterministic), and each writes its part of dz from shared memory. The logits are read from memory once.
#include <cooperative_groups.h>

#include <algorithm>

#include "backend/cuda/async_copy.cuh"
#include "backend/cuda/cluster_launch.cuh"
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

// This thread's statistics combined over the block; every thread gets the total.
__device__ SoftmaxStats block_stats(SoftmaxStats st) {
  __shared__ SoftmaxStats warp_stats[kThreads / 32];
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

// Online softmax statistics of one row, combined over the block; every thread gets the total.
__device__ SoftmaxStats row_stats(const float* z, int V) {
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
  return block_stats(st);
}

// row_stats over a row of n4 float4s (16-byte aligned, in global or shared memory): one 16-byte load and at most
// one rescale per 4 logits.
__device__ SoftmaxStats row_stats4(const float4* z, int n4) {
  SoftmaxStats st{-INFINITY, 0.0f, 0.0f};
#pragma unroll 2
  for (int v = threadIdx.x; v < n4; v += blockDim.x) {
    const float4 x = z[v];
    const float m = fmaxf(fmaxf(x.x, x.y), fmaxf(x.z, x.w));
    if (m > st.m) {
      const float f = __expf(st.m - m);  // st.m = -inf gives 0
      st = {m, st.s * f, st.a * f};
    }
    const float e0 = __expf(x.x - st.m), e1 = __expf(x.y - st.m), e2 = __expf(x.z - st.m), e3 = __expf(x.w - st.m);
    st.s += (e0 + e1) + (e2 + e3);
    st.a += (e0 * x.x + e1 * x.y) + (e2 * x.z + e3 * x.w);
  }
  return block_stats(st);
}

// d loss / d z_v of one logit (before the inverse temperature): gl = d loss / d logprob[target],
// ge = d loss / d entropy, with lse and entropy H of the row.
__device__ __forceinline__ float dlogit(float z, float lse, float H, float gl, float ge, bool is_target) {
  const float logp = z - lse, p = __expf(logp);
  const float g = -gl * p - ge * p * (logp + H);
  return is_target ? g + gl : g;
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
  // Rows start 16-byte aligned when V is a multiple of 4 (the scratch is 256-byte aligned).
  const SoftmaxStats st = V % 4 == 0 ? row_stats4(reinterpret_cast<const float4*>(z), V / 4) : row_stats(z, V);
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
  for (int v = threadIdx.x; v < V; v += blockDim.x)
    d[v] = to_bf16(dlogit(z[v], lse, H, gl, ge, v == target) * inv_temperature);
}

namespace cg = cooperative_groups;

// lm_head_dlogits_kernel's computation with the row held in the shared memory of a cluster of gridDim.x blocks;
// block (k, r) owns logits [k * part, (k + 1) * part) of row r. part is a multiple of 4.
__global__ void __launch_bounds__(kThreads)
lm_head_dlogits_cluster_kernel(bf16* __restrict__ dlogits, float* logprob, float* entropy,
                               const float* __restrict__ logits, const int32_t* targets, const float* dlogprob,
                               const float* dentropy, int V, int part, float inv_temperature) {
  extern __shared__ __align__(16) float zs[];
  __shared__ SoftmaxStats part_stats;
  cg::cluster_group cluster = cg::this_cluster();
  const int rank = int(cluster.block_rank()), ranks = int(cluster.num_blocks());
  const int r = blockIdx.y, v0 = rank * part, n = max(0, min(V, v0 + part) - v0);
  const int32_t target = targets[r];
  bf16* d = dlogits + int64_t(r) * V + v0;
  if (target < 0) {  // the same for every block of the cluster: none of them reads a peer
    for (int v = threadIdx.x; v < n; v += blockDim.x) d[v] = to_bf16(0.0f);
    if (rank == 0 && threadIdx.x == 0) {
      if (logprob) logprob[r] = 0.0f;
      if (entropy) entropy[r] = 0.0f;
    }
    return;
  }
  copy_to_shared(zs, logits + int64_t(r) * V + v0, n);
  const SoftmaxStats mine = row_stats4(reinterpret_cast<const float4*>(zs), n / 4);
  if (threadIdx.x == 0) part_stats = mine;
  cluster.sync();
  SoftmaxStats st = *cluster.map_shared_rank(&part_stats, 0);
  for (int k = 1; k < ranks; k++) st = combine(st, *cluster.map_shared_rank(&part_stats, k));
  cluster.sync();  // every peer has read this block's statistics: it may run on and exit
  const float lse = st.m + logf(st.s), H = lse - st.a / st.s;
  if (threadIdx.x == 0 && target >= v0 && target < v0 + n) {
    if (logprob) logprob[r] = zs[target - v0] - lse;
    if (entropy) entropy[r] = H;
  }
  const float gl = dlogprob ? dlogprob[r] : 0.0f, ge = dentropy ? dentropy[r] : 0.0f;
  // 4 logits per thread: one 16-byte shared load, one 8-byte store (n, v0 and V are multiples of 4).
  const int t = target - v0;
#pragma unroll 2
  for (int v = threadIdx.x; v < n / 4; v += blockDim.x) {
    const float4 z = reinterpret_cast<const float4*>(zs)[v];
    const int i = 4 * v;
    const __nv_bfloat162 lo = __floats2bfloat162_rn(dlogit(z.x, lse, H, gl, ge, i == t) * inv_temperature,
                                                    dlogit(z.y, lse, H, gl, ge, i + 1 == t) * inv_temperature);
    const __nv_bfloat162 hi = __floats2bfloat162_rn(dlogit(z.z, lse, H, gl, ge, i + 2 == t) * inv_temperature,
                                                    dlogit(z.w, lse, H, gl, ge, i + 3 == t) * inv_temperature);
    uint2 packed;
    packed.x = *reinterpret_cast<const uint32_t*>(&lo);
    packed.y = *reinterpret_cast<const uint32_t*>(&hi);
    *reinterpret_cast<uint2*>(d + i) = packed;
  }
}

// dlogits (and optionally logprob / entropy) of `rows` rows: the cluster kernel where the vocabulary allows it.
void launch_dlogits(Context& ctx, const char* op, bf16* dlogits, float* logprob, float* entropy, const float* logits,
                    const int32_t* targets, const float* dlogprob, const float* dentropy, int rows, int V,
                    float inv_temperature) {
  const int n = row_cluster_size(V);
  if (n == 0) {
    lm_head_dlogits_kernel<<<rows, kThreads, 0, ctx.stream()>>>(dlogits, logprob, entropy, logits, targets, dlogprob,
                                                                dentropy, V, inv_temperature);
    R1_CUDA_LAUNCH_CHECK(op);
    return;
  }
  const int part = row_cluster_part(V, n);
  const size_t smem = sizeof(float) * size_t(part);
  static const bool configured =
      configure_kernel("lm_head dlogits", lm_head_dlogits_cluster_kernel, sizeof(float) * kRowPartMaxFloats);
  (void)configured;
  launch_clusters(op, lm_head_dlogits_cluster_kernel, dim3(unsigned(n), unsigned(rows)), dim3(unsigned(n)), kThreads,
                  smem, ctx.stream(), /*dependent=*/false, dlogits, logprob, entropy, logits, targets, dlogprob,
                  dentropy, V, part, inv_temperature);
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
                          const int32_t* targets, int T, int C, int V, float inv_temperature, int chunk,
                          bool accumulate_dw) {
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
    launch_dlogits(ctx, op, dlogits, logprob ? logprob + t0 : nullptr, entropy ? entropy + t0 : nullptr, logits,
                   targets + t0, dlogprob ? dlogprob + t0 : nullptr, dentropy ? dentropy + t0 : nullptr, rows, V,
                   inv_temperature);
    // dx^T [C, rows] += W^T-as-stored [C, V] dz^T [V, rows]
    gemm(ctx, op, false, false, C, rows, V, 1.0f, W, C, dlogits, V, 1.0f, dx + int64_t(t0) * C, CUDA_R_16BF, C);
    // dW^T [C, V] += x^T [C, rows] (dz^T [V, rows])^T (the first chunk writes it when not accumulating)
    const float beta = accumulate_dw || t0 > 0 ? 1.0f : 0.0f;
    gemm(ctx, op, false, true, C, V, rows, 1.0f, xc, C, dlogits, V, beta, dW, CUDA_R_32F, C);
  }
}

}  // namespace

void lm_head_backward(Context& ctx, bf16* dx, float* dW, const float* dlogprob, const float* dentropy, const bf16* x,
                      const bf16* W, const int32_t* targets, int T, int C, int V, float inv_temperature, int chunk,
                      bool accumulate_dw) {
  head_backward_chunks(ctx, "lm_head_backward", nullptr, nullptr, dx, dW, dlogprob, dentropy, x, W, targets, T, C, V,
                       inv_temperature, chunk, accumulate_dw);
}

void lm_head_forward_backward(Context& ctx, float* logprob, float* entropy, bf16* dx, float* dW, const float* dlogprob,
                              const float* dentropy, const bf16* x, const bf16* W, const int32_t* targets, int T, int C,
                              int V, float inv_temperature, int chunk, bool accumulate_dw) {
  head_backward_chunks(ctx, "lm_head_forward_backward", logprob, entropy, dx, dW, dlogprob, dentropy, x, W, targets, T,
                       C, V, inv_temperature, chunk, accumulate_dw);
}

}  // namespace r1::cuda
