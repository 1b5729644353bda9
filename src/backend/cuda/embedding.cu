// Token embedding. Forward gathers rows. Backward scatters dout rows into dtable (float32) WITHOUT atomics, so
// the result is bitwise reproducible: the (id, token) pairs are radix-sorted by id (stable, so tokens of one id
// stay in ascending order), then the first position of each run of equal ids owns that table row and sums its
// tokens' gradients in order — the same order as the CPU reference.
#include <cub/device/device_radix_sort.cuh>

#include "backend/cuda/common.cuh"
#include "backend/cuda/ops.h"

namespace r1::cuda {

namespace {

constexpr int kThreads = 128;

__global__ void embedding_forward_kernel(bf16* out, const int32_t* ids, const bf16* table, int C) {
  const int t = blockIdx.x;
  const bf16* row = table + int64_t(ids[t]) * C;
  bf16* o = out + int64_t(t) * C;
  for (int c = threadIdx.x; c < C; c += blockDim.x) o[c] = row[c];
}

__global__ void iota_kernel(int32_t* v, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) v[i] = i;
}

// One block per sorted position; only the first position of each run of equal ids does work.
__global__ void embedding_backward_kernel(float* dtable, const bf16* dout, const int32_t* sorted_ids,
                                          const int32_t* sorted_tokens, int T, int C) {
  const int i = blockIdx.x;
  const int32_t id = sorted_ids[i];
  if (i > 0 && sorted_ids[i - 1] == id) return;
  int end = i + 1;
  while (end < T && sorted_ids[end] == id) end++;
  float* row = dtable + int64_t(id) * C;
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    float s = 0.0f;
    for (int j = i; j < end; j++) s += to_f32(dout[int64_t(sorted_tokens[j]) * C + c]);
    row[c] += s;
  }
}

size_t align256(size_t n) { return (n + 255) / 256 * 256; }

}  // namespace

void embedding_forward(Context& ctx, bf16* out, const int32_t* ids, const bf16* table, int T, int C) {
  if (T <= 0) return;
  embedding_forward_kernel<<<T, kThreads, 0, ctx.stream()>>>(out, ids, table, C);
  R1_CUDA_LAUNCH_CHECK("embedding_forward");
}

void embedding_backward(Context& ctx, float* dtable, const bf16* dout, const int32_t* ids, int T, int C) {
  if (T <= 0) return;
  size_t sort_bytes = 0;
  R1_CUDA_CHECK("embedding_backward",
                cub::DeviceRadixSort::SortPairs(nullptr, sort_bytes, ids, static_cast<int32_t*>(nullptr),
                                                static_cast<const int32_t*>(nullptr), static_cast<int32_t*>(nullptr),
                                                T, 0, 32, ctx.stream()));
  const size_t array = align256(sizeof(int32_t) * size_t(T));
  char* base = static_cast<char*>(ctx.scratch(3 * array + sort_bytes));
  auto* sorted_ids = reinterpret_cast<int32_t*>(base);
  auto* tokens = reinterpret_cast<int32_t*>(base + array);
  auto* sorted_tokens = reinterpret_cast<int32_t*>(base + 2 * array);
  void* sort_temp = base + 3 * array;

  iota_kernel<<<ceil_div(T, 256), 256, 0, ctx.stream()>>>(tokens, T);
  R1_CUDA_LAUNCH_CHECK("embedding_backward");
  R1_CUDA_CHECK("embedding_backward", cub::DeviceRadixSort::SortPairs(sort_temp, sort_bytes, ids, sorted_ids, tokens,
                                                                      sorted_tokens, T, 0, 32, ctx.stream()));
  embedding_backward_kernel<<<T, kThreads, 0, ctx.stream()>>>(dtable, dout, sorted_ids, sorted_tokens, T, C);
  R1_CUDA_LAUNCH_CHECK("embedding_backward");
}

}  // namespace r1::cuda
