// RMSNorm (Zhang & Sennrich 2019), as in Llama/Qwen: y = x * rstd * w, rstd = 1/sqrt(mean(x^2) + eps).
// Backward: dx = rstd * (w*dy) - rstd^3 / C * x * sum_j(w_j dy_j x_j); dw = sum_t dy * x * rstd.
// Row sums are accumulated in double over a few independent lanes (vectorisable, fixed order).
#include <algorithm>
#include <cmath>

#include "backend/cpu/ops.h"
#include "backend/cpu/vec.h"

namespace r1::cpu {

namespace {

constexpr int kLanes = 8;

// sum_i a_i b_i c_i (c may be null: taken as 1)
double sum_of_products(const float* a, const float* b, const float* c, int n) {
  double lane[kLanes] = {};
  int i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; l++) lane[l] += double(a[i + l]) * b[i + l] * (c ? c[i + l] : 1.0f);
  double s = 0;
  for (; i < n; i++) s += double(a[i]) * b[i] * (c ? c[i] : 1.0f);
  for (int l = 0; l < kLanes; l++) s += lane[l];
  return s;
}

}  // namespace

void rmsnorm_forward(float* out, float* rstd, const float* x, const float* weight, int T, int C, float eps) {
#pragma omp parallel for schedule(static) if (int64_t(T) * C > kMinParallelWork)
  for (int t = 0; t < T; t++) {
    const float* xt = x + size_t(t) * C;
    const float r = float(1.0 / std::sqrt(sum_of_products(xt, xt, nullptr, C) / C + double(eps)));
    rstd[t] = r;
    float* ot = out + size_t(t) * C;
    for (int c = 0; c < C; c++) ot[c] = xt[c] * r * weight[c];
  }
}

void rmsnorm_backward(float* dx, float* dweight, const float* dout, const float* x, const float* weight,
                      const float* rstd, int T, int C) {
  const bool threads = int64_t(T) * C > kMinParallelWork;
#pragma omp parallel for schedule(static) if (threads)
  for (int t = 0; t < T; t++) {
    const float* xt = x + size_t(t) * C;
    const float* gt = dout + size_t(t) * C;
    const float r = rstd[t];
    const double dot = sum_of_products(weight, gt, xt, C);
    const float k = float(dot * double(r) * r * r / C);
    float* dxt = dx + size_t(t) * C;
    for (int c = 0; c < C; c++) dxt[c] += r * weight[c] * gt[c] - k * xt[c];
  }
  // The weight gradient sums over tokens. Each task owns a block of columns and walks the tokens row by row,
  // so every cache line it loads is used whole and no two threads add into the same element.
  constexpr int kColumns = 64;
  const int blocks = (C + kColumns - 1) / kColumns;
#pragma omp parallel for schedule(static) if (threads)
  for (int b = 0; b < blocks; b++) {
    const int c0 = b * kColumns, n = std::min(C, c0 + kColumns) - c0;
    double s[kColumns] = {};
    for (int t = 0; t < T; t++) {
      const float* gt = dout + size_t(t) * C + c0;
      const float* xt = x + size_t(t) * C + c0;
      const double r = rstd[t];
      for (int c = 0; c < n; c++) s[c] += double(gt[c]) * xt[c] * r;
    }
    for (int c = 0; c < n; c++) dweight[c0 + c] += float(s[c]);
  }
}

}  // namespace r1::cpu
