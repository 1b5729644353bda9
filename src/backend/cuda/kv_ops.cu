// Paged KV cache moves: a token's K/V rows into its page slot, whole pages for copy-on-write, and a row gather.
// Pure copies, 16 bytes per thread when the row allows it (rows are Hkv * D bf16, D a multiple of 8).
#include "backend/cuda/common.cuh"
#include "backend/cuda/decode_ops.h"

namespace r1::cuda {

namespace {

// One thread per 8 elements (16 bytes) of one token's row, K and V together.
__global__ void kv_write_kernel(bf16* __restrict__ k_pool, bf16* __restrict__ v_pool, const bf16* __restrict__ k,
                                const bf16* __restrict__ v, const int32_t* __restrict__ slots, int T, int vecs) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= int64_t(T) * vecs) return;
  const int t = int(i / vecs), c = int(i % vecs);
  const int64_t dst = int64_t(slots[t]) * vecs + c;
  reinterpret_cast<uint4*>(k_pool)[dst] = reinterpret_cast<const uint4*>(k)[i];
  reinterpret_cast<uint4*>(v_pool)[dst] = reinterpret_cast<const uint4*>(v)[i];
}

// Scalar fallback for rows that are not a multiple of 8 elements.
__global__ void kv_write_scalar_kernel(bf16* k_pool, bf16* v_pool, const bf16* k, const bf16* v,
                                       const int32_t* slots, int T, int row) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= int64_t(T) * row) return;
  const int t = int(i / row), c = int(i % row);
  const int64_t dst = int64_t(slots[t]) * row + c;
  k_pool[dst] = k[i];
  v_pool[dst] = v[i];
}

// Block (pair, pool): copies the filled part of page src -> dst within one pool.
__global__ void kv_copy_pages_kernel(bf16* pools, int64_t pool_elems, const int32_t* src, const int32_t* dst,
                                     int page_elems) {
  const int pair = blockIdx.x, pool = blockIdx.y;
  bf16* base = pools + int64_t(pool) * pool_elems;
  const bf16* from = base + int64_t(src[pair]) * page_elems;
  bf16* to = base + int64_t(dst[pair]) * page_elems;
  for (int e = threadIdx.x; e < page_elems; e += blockDim.x) to[e] = from[e];
}

__global__ void gather_rows_kernel(bf16* dst, const bf16* src, const int32_t* rows, int C) {
  const int i = blockIdx.x;
  const bf16* s = src + int64_t(rows[i]) * C;
  bf16* d = dst + int64_t(i) * C;
  for (int c = threadIdx.x; c < C; c += blockDim.x) d[c] = s[c];
}

}  // namespace

void kv_write(Context& ctx, bf16* k_pool, bf16* v_pool, const bf16* k, const bf16* v, const int32_t* slots, int T,
              int row) {
  if (T <= 0) return;
  if (row % 8 == 0) {
    const int vecs = row / 8;
    kv_write_kernel<<<ceil_div(int64_t(T) * vecs, 256), 256, 0, ctx.stream()>>>(k_pool, v_pool, k, v, slots, T, vecs);
  } else {
    kv_write_scalar_kernel<<<ceil_div(int64_t(T) * row, 256), 256, 0, ctx.stream()>>>(k_pool, v_pool, k, v, slots,
                                                                                        T, row);
  }
  R1_CUDA_LAUNCH_CHECK("kv_write");
}

void kv_copy_pages(Context& ctx, bf16* pools, int64_t pool_elems, int pools_count, const int32_t* src,
                   const int32_t* dst, int n, int page_elems) {
  if (n <= 0) return;
  kv_copy_pages_kernel<<<dim3(n, pools_count), 256, 0, ctx.stream()>>>(pools, pool_elems, src, dst, page_elems);
  R1_CUDA_LAUNCH_CHECK("kv_copy_pages");
}

void gather_rows(Context& ctx, bf16* dst, const bf16* src, const int32_t* rows, int n, int C) {
  if (n <= 0) return;
  gather_rows_kernel<<<n, 256, 0, ctx.stream()>>>(dst, src, rows, C);
  R1_CUDA_LAUNCH_CHECK("gather_rows");
}

}  // namespace r1::cuda
