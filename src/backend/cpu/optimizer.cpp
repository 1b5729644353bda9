#include "backend/cpu/optimizer.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace r1 {

namespace {
// Below this many elements a thread team costs more than the loop.
constexpr int64_t kMinParallelWork = 32768;
}  // namespace

void adamw_update(float* params, const float* grads, float* m, float* v, int64_t n, const AdamWConfig& c, float lr,
                  int64_t step, bool decay, float grad_scale) {
  const double bc1 = 1.0 - std::pow(double(c.beta1), double(step));
  const double bc2 = 1.0 - std::pow(double(c.beta2), double(step));
  const float step_size = float(lr / bc1);
  const float inv_sqrt_bc2 = float(1.0 / std::sqrt(bc2));
  const float wd = decay ? lr * c.weight_decay : 0.0f;
#pragma omp parallel for schedule(static) if (n > kMinParallelWork)
  for (int64_t i = 0; i < n; i++) {
    const float g = grads[i] * grad_scale;
    m[i] = c.beta1 * m[i] + (1.0f - c.beta1) * g;
    v[i] = c.beta2 * v[i] + (1.0f - c.beta2) * g * g;
    params[i] -= step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + c.eps) + wd * params[i];
  }
}

double global_grad_norm(const float* grads, int64_t n) {
  // Fixed blocks, each summed in order, then the block sums added in order: the norm is bitwise the same for
  // any thread count (an OpenMP reduction combines partial sums in whatever order threads finish).
  constexpr int64_t kBlock = 1 << 16;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(size_t(blocks), 0.0);
#pragma omp parallel for schedule(static) if (blocks > 1)
  for (int64_t b = 0; b < blocks; b++) {
    double s = 0;
    for (int64_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); i++) s += double(grads[i]) * grads[i];
    partial[size_t(b)] = s;
  }
  double s = 0;
  for (double p : partial) s += p;
  return std::sqrt(s);
}

double clip_grad_norm(float* grads, int64_t n, double max_norm) {
  const double norm = global_grad_norm(grads, n);
  if (std::isfinite(norm) && norm > max_norm && max_norm > 0) {
    const float scale = float(max_norm / (norm + 1e-6));
#pragma omp parallel for schedule(static) if (n > kMinParallelWork)
    for (int64_t i = 0; i < n; i++) grads[i] *= scale;
  }
  return norm;
}

}  // namespace r1
