#include "train/optimizer.h"

#include <cmath>

namespace r1 {

void adamw_update(float* params, const float* grads, float* m, float* v, int64_t n, const AdamWConfig& c, float lr,
                  int64_t step, bool decay) {
  const double bc1 = 1.0 - std::pow(double(c.beta1), double(step));
  const double bc2 = 1.0 - std::pow(double(c.beta2), double(step));
  const float step_size = float(lr / bc1);
  const float inv_sqrt_bc2 = float(1.0 / std::sqrt(bc2));
  const float wd = decay ? lr * c.weight_decay : 0.0f;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) {
    const float g = grads[i];
    m[i] = c.beta1 * m[i] + (1.0f - c.beta1) * g;
    v[i] = c.beta2 * v[i] + (1.0f - c.beta2) * g * g;
    params[i] -= step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + c.eps) + wd * params[i];
  }
}

double global_grad_norm(const float* grads, int64_t n) {
  double s = 0;
  // A fixed-order reduction: static schedule and a deterministic combine keep runs bitwise reproducible.
#pragma omp parallel for reduction(+ : s) schedule(static)
  for (int64_t i = 0; i < n; i++) s += double(grads[i]) * grads[i];
  return std::sqrt(s);
}

double clip_grad_norm(float* grads, int64_t n, double max_norm) {
  const double norm = global_grad_norm(grads, n);
  if (std::isfinite(norm) && norm > max_norm && max_norm > 0) {
    const float scale = float(max_norm / (norm + 1e-6));
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) grads[i] *= scale;
  }
  return norm;
}

}  // namespace r1
