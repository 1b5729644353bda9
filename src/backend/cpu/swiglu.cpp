// SwiGLU (Shazeer 2020): out = silu(gate) * up, silu(g) = g * sigmoid(g).
// d silu / dg = sigmoid(g) * (1 + g * (1 - sigmoid(g))).
#include <cmath>

#include "backend/cpu/ops.h"
#include "backend/cpu/vec.h"

namespace r1::cpu {

void swiglu_forward(float* out, const float* gate, const float* up, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kMinParallelWork)
  for (int64_t i = 0; i < n; i++) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kMinParallelWork)
  for (int64_t i = 0; i < n; i++) {
    const float g = gate[i], sg = 1.0f / (1.0f + std::exp(-g));
    dgate[i] += dout[i] * up[i] * sg * (1.0f + g * (1.0f - sg));
    dup[i] += dout[i] * g * sg;
  }
}

void add_inplace(float* y, const float* x, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kMinParallelWork)
  for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

}  // namespace r1::cpu
