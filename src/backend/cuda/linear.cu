// Linear layers in HF's layout (W [O, I]) over cuBLASLt, bf16 in, float32 accumulation.
//   forward   y  = x W^T + b            (bias fused as the matmul's epilogue)
//   backward  dx += dy W,  dW += dy^T x (float32 gradient),  db += sum_t dy (own deterministic column sum)
// Row-major [r, c] data is column-major [c, r] to cuBLAS, so each row-major product is issued as the product
// of the transposes; the column-major shapes are written beside each call.
#include "backend/cuda/common.cuh"
#include "backend/cuda/gemm.h"
#include "backend/cuda/ops.h"

namespace r1::cuda {

namespace {

constexpr int kChunkRows = 64;

// partial[chunk, o] = sum over the chunk's rows of dy[t, o]; block 32 columns x 8 row lanes.
__global__ void bias_grad_partial_kernel(float* partial, const bf16* dy, int T, int O) {
  __shared__ float sums[8][33];
  const int o = blockIdx.x * 32 + threadIdx.x, chunk = blockIdx.y;
  const int t0 = chunk * kChunkRows, t1 = min(T, t0 + kChunkRows);
  float s = 0.0f;
  if (o < O)
    for (int t = t0 + threadIdx.y; t < t1; t += 8) s += to_f32(dy[int64_t(t) * O + o]);
  sums[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && o < O) {
    float total = 0.0f;
    for (int y = 0; y < 8; y++) total += sums[y][threadIdx.x];
    partial[int64_t(chunk) * O + o] = total;
  }
}

}  // namespace

void linear_forward(Context& ctx, bf16* y, const bf16* x, const bf16* W, const bf16* bias, int T, int I, int O) {
  if (T <= 0) return;
  // Column-major: y^T [O, T] = W [I, O]^T x^T [I, T]  ->  m = O, n = T, k = I, A = W (transposed), B = x.
  gemm(ctx, "linear_forward", true, false, O, T, I, 1.0f, W, I, x, I, 0.0f, y, CUDA_R_16BF, O, bias);
}

void linear_forward_residual(Context& ctx, bf16* y, const bf16* residual, const bf16* x, const bf16* W,
                             const bf16* bias, int T, int I, int O) {
  if (T <= 0) return;
  gemm(ctx, "linear_forward_residual", true, false, O, T, I, 1.0f, W, I, x, I, 1.0f, y, CUDA_R_16BF, O, bias,
       residual);
}

void linear_backward(Context& ctx, bf16* dx, float* dW, float* db, const bf16* dy, const bf16* x, const bf16* W,
                     int T, int I, int O, bool accumulate_dx, bool accumulate_grads) {
  if (T <= 0) return;
  // dx^T [I, T] (+)= W^T-as-stored [I, O] dy^T [O, T]:  m = I, n = T, k = O.
  if (dx)
    gemm(ctx, "linear_backward(dx)", false, false, I, T, O, 1.0f, W, I, dy, O, accumulate_dx ? 1.0f : 0.0f, dx,
         CUDA_R_16BF, I);
  // dW^T [I, O] += x^T [I, T] (dy^T [O, T])^T:  m = I, n = O, k = T, float32 accumulator.
  gemm(ctx, "linear_backward(dW)", false, true, I, O, T, 1.0f, x, I, dy, O, accumulate_grads ? 1.0f : 0.0f, dW,
       CUDA_R_32F, I);
  if (db) {
    const int chunks = ceil_div(T, kChunkRows);
    auto* partial = static_cast<float*>(ctx.scratch(sizeof(float) * size_t(chunks) * O));
    bias_grad_partial_kernel<<<dim3(ceil_div(O, 32), chunks), dim3(32, 8), 0, ctx.stream()>>>(partial, dy, T, O);
    R1_CUDA_LAUNCH_CHECK("linear_backward(db)");
    sum_column_partials(ctx.stream(), "linear_backward(db)", db, partial, chunks, O, accumulate_grads);
  }
}

}  // namespace r1::cuda
