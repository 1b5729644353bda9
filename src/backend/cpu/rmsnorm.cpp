// RMSNorm (Zhang & Sennrich 2019), as in Llama/Qwen: y = x * rstd * w, rstd = 1/sqrt(mean(x^2) + eps).
// Backward: dx = rstd * (w*dy) - rstd^3 / C * x * sum_j(w_j dy_j x_j); dw = sum_t dy * x * rstd.
#include <cmath>
#include <vector>

#include "backend/cpu/ops.h"

namespace r1::cpu {

void rmsnorm_forward(float* out, float* rstd, const float* x, const float* weight, int T, int C, float eps) {
#pragma omp parallel for schedule(static)
  for (int t = 0; t < T; t++) {
    const float* xt = x + size_t(t) * C;
    double ss = 0;
    for (int c = 0; c < C; c++) ss += double(xt[c]) * xt[c];
    const float r = float(1.0 / std::sqrt(ss / C + double(eps)));
    rstd[t] = r;
    float* ot = out + size_t(t) * C;
    for (int c = 0; c < C; c++) ot[c] = xt[c] * r * weight[c];
  }
}

void rmsnorm_backward(float* dx, float* dweight, const float* dout, const float* x, const float* weight,
                      const float* rstd, int T, int C) {
#pragma omp parallel for schedule(static)
  for (int t = 0; t < T; t++) {
    const float* xt = x + size_t(t) * C;
    const float* gt = dout + size_t(t) * C;
    const float r = rstd[t];
    double dot = 0;
    for (int c = 0; c < C; c++) dot += double(weight[c]) * gt[c] * xt[c];
    const float k = float(dot * double(r) * r * r / C);
    float* dxt = dx + size_t(t) * C;
    for (int c = 0; c < C; c++) dxt[c] += r * weight[c] * gt[c] - k * xt[c];
  }
  // The weight gradient sums over tokens: columns are independent, so split columns across threads.
#pragma omp parallel for schedule(static)
  for (int c = 0; c < C; c++) {
    double s = 0;
    for (int t = 0; t < T; t++) s += double(dout[size_t(t) * C + c]) * x[size_t(t) * C + c] * rstd[t];
    dweight[c] += float(s);
  }
}

}  // namespace r1::cpu
