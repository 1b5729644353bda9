// Elementwise ops on bf16 tensors, float32 arithmetic inside: SwiGLU, residual add, and dtype conversion.
// All memory-bound: each thread moves one 8-element (16-byte) pack per tensor when every pointer is 16-byte
// aligned, so loads and stores are wide and coalesced; otherwise (or for the tail) it goes element by element.
//   swiglu    out = silu(g) u,  silu(g) = g sigmoid(g)
//   backward  dg += dout u sigmoid(g) (1 + g (1 - sigmoid(g))),  du += dout silu(g)
#include "backend/cuda/common.cuh"
#include "backend/cuda/ops.h"

namespace r1::cuda {

namespace {

constexpr int kPack = 8;
constexpr int kThreads = 256;

struct alignas(16) Pack {
  bf16 v[kPack];
};

template <int N>
struct Ptrs {
  bf16* p[N];
};

// out[j] (j < NOUT) = F(in[0..NIN), out[0..NOUT)) per element. When F::kAccumulates the outputs' current
// values are read first (backward ops add into their gradients).
template <class F, int NIN, int NOUT>
__global__ void map_kernel(Ptrs<NIN> in, Ptrs<NOUT> out, int64_t n, bool vectorized) {
  const int64_t base = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) * kPack;
  if (base >= n) return;
  if (vectorized && base + kPack <= n) {
    Pack a[NIN], b[NOUT];
#pragma unroll
    for (int k = 0; k < NIN; k++) a[k] = *reinterpret_cast<const Pack*>(in.p[k] + base);
    if (F::kAccumulates) {
#pragma unroll
      for (int k = 0; k < NOUT; k++) b[k] = *reinterpret_cast<const Pack*>(out.p[k] + base);
    }
#pragma unroll
    for (int j = 0; j < kPack; j++) {
      float x[NIN], y[NOUT];
#pragma unroll
      for (int k = 0; k < NIN; k++) x[k] = to_f32(a[k].v[j]);
#pragma unroll
      for (int k = 0; k < NOUT; k++) y[k] = F::kAccumulates ? to_f32(b[k].v[j]) : 0.0f;
      F::apply(x, y);
#pragma unroll
      for (int k = 0; k < NOUT; k++) b[k].v[j] = to_bf16(y[k]);
    }
#pragma unroll
    for (int k = 0; k < NOUT; k++) *reinterpret_cast<Pack*>(out.p[k] + base) = b[k];
  } else {
    const int64_t end = base + kPack < n ? base + kPack : n;
    for (int64_t i = base; i < end; i++) {
      float x[NIN], y[NOUT];
#pragma unroll
      for (int k = 0; k < NIN; k++) x[k] = to_f32(in.p[k][i]);
#pragma unroll
      for (int k = 0; k < NOUT; k++) y[k] = F::kAccumulates ? to_f32(out.p[k][i]) : 0.0f;
      F::apply(x, y);
#pragma unroll
      for (int k = 0; k < NOUT; k++) out.p[k][i] = to_bf16(y[k]);
    }
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <class F, int NIN, int NOUT>
void map(Context& ctx, const char* op, Ptrs<NIN> in, Ptrs<NOUT> out, int64_t n) {
  if (n <= 0) return;
  bool vectorized = true;
  for (int k = 0; k < NIN; k++) vectorized = vectorized && aligned16(in.p[k]);
  for (int k = 0; k < NOUT; k++) vectorized = vectorized && aligned16(out.p[k]);
  const int64_t packs = (n + kPack - 1) / kPack;
  map_kernel<F, NIN, NOUT><<<ceil_div(packs, kThreads), kThreads, 0, ctx.stream()>>>(in, out, n, vectorized);
  R1_CUDA_LAUNCH_CHECK(op);
}

__device__ __forceinline__ float sigmoid(float x) { return 1.0f / (1.0f + __expf(-x)); }

struct SwigluForward {
  static constexpr bool kAccumulates = false;
  __device__ static void apply(const float* x, float* y) { y[0] = x[0] * sigmoid(x[0]) * x[1]; }
};

template <bool kAdd>
struct SwigluBackward {  // x = (dout, gate, up); y = (dgate, dup)
  static constexpr bool kAccumulates = kAdd;
  __device__ static void apply(const float* x, float* y) {
    const float d = x[0], g = x[1], u = x[2], sg = sigmoid(g);
    const float dg = d * u * sg * (1.0f + g * (1.0f - sg)), du = d * g * sg;
    y[0] = kAdd ? y[0] + dg : dg;
    y[1] = kAdd ? y[1] + du : du;
  }
};

struct Add {
  static constexpr bool kAccumulates = true;
  __device__ static void apply(const float* x, float* y) { y[0] += x[0]; }
};

bf16* mut(const bf16* p) { return const_cast<bf16*>(p); }  // Ptrs holds inputs and outputs alike

__global__ void f32_to_bf16_kernel(bf16* dst, const float* src, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = to_bf16(src[i]);
}

__global__ void bf16_to_f32_kernel(float* dst, const bf16* src, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = to_f32(src[i]);
}

int grid_stride_blocks(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return int(blocks < 65536 ? blocks : 65536);
}

}  // namespace

void swiglu_forward(Context& ctx, bf16* out, const bf16* gate, const bf16* up, int64_t n) {
  map<SwigluForward, 2, 1>(ctx, "swiglu_forward", {{mut(gate), mut(up)}}, {{out}}, n);
}

void swiglu_backward(Context& ctx, bf16* dgate, bf16* dup, const bf16* dout, const bf16* gate, const bf16* up,
                     int64_t n, bool accumulate) {
  if (accumulate)
    map<SwigluBackward<true>, 3, 2>(ctx, "swiglu_backward", {{mut(dout), mut(gate), mut(up)}}, {{dgate, dup}}, n);
  else
    map<SwigluBackward<false>, 3, 2>(ctx, "swiglu_backward", {{mut(dout), mut(gate), mut(up)}}, {{dgate, dup}}, n);
}

void add_inplace(Context& ctx, bf16* y, const bf16* x, int64_t n) {
  map<Add, 1, 1>(ctx, "add_inplace", {{mut(x)}}, {{y}}, n);
}

void f32_to_bf16(Context& ctx, bf16* dst, const float* src, int64_t n) {
  if (n <= 0) return;
  f32_to_bf16_kernel<<<grid_stride_blocks(n), kThreads, 0, ctx.stream()>>>(dst, src, n);
  R1_CUDA_LAUNCH_CHECK("f32_to_bf16");
}

void bf16_to_f32(Context& ctx, float* dst, const bf16* src, int64_t n) {
  if (n <= 0) return;
  bf16_to_f32_kernel<<<grid_stride_blocks(n), kThreads, 0, ctx.stream()>>>(dst, src, n);
  R1_CUDA_LAUNCH_CHECK("bf16_to_f32");
}

}  // namespace r1::cuda
