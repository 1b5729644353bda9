// Linear layers in HF's layout (W [out, in]), through OpenBLAS sgemm.
//   forward   y  = x W^T + b
//   backward  dx += dy W,  dW += dy^T x,  db += sum_t dy
#include <cblas.h>

#include "backend/cpu/ops.h"
#include "backend/cpu/vec.h"

namespace r1::cpu {

void linear_forward(float* y, const float* x, const float* W, const float* bias, int T, int I, int O) {
  if (T == 0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, O, I, 1.0f, x, I, W, I, 0.0f, y, O);
  if (bias) {
#pragma omp parallel for schedule(static) if (int64_t(T) * O > kMinParallelWork)
    for (int t = 0; t < T; t++)
      for (int o = 0; o < O; o++) y[size_t(t) * O + o] += bias[o];
  }
}

void linear_backward(float* dx, float* dW, float* db, const float* dy, const float* x, const float* W, int T, int I,
                     int O) {
  if (T == 0) return;
  if (dx) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, I, O, 1.0f, dy, O, W, I, 1.0f, dx, I);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, I, T, 1.0f, dy, O, x, I, 1.0f, dW, I);
  if (db) {
#pragma omp parallel for schedule(static) if (int64_t(T) * O > kMinParallelWork)
    for (int o = 0; o < O; o++) {
      double s = 0;
      for (int t = 0; t < T; t++) s += dy[size_t(t) * O + o];
      db[o] += float(s);
    }
  }
}

}  // namespace r1::cpu
