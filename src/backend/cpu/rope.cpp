// Rotary position embeddings, HF "rotate_half" convention: the pair of dimension i is i + D/2.
//   (a, b) -> (a cos - b sin, b cos + a sin), angle = position * inv_freq[i]
// The backward applies the inverse rotation (the transpose of a rotation) to the gradient.
// Llama-3.1 scaling stretches low frequencies by `factor`, keeps high ones, and interpolates in between.
#include <cmath>
#include <vector>

#include "backend/cpu/ops.h"
#include "backend/cpu/vec.h"

namespace r1::cpu {

void rope_inv_freq(float* inv_freq, int D, float theta, const RopeScaling& s) {
  for (int i = 0; i < D / 2; i++) {
    double f = std::pow(double(theta), -2.0 * i / D);
    if (s.type == RopeScaling::Type::Llama3) {
      const double low_wavelen = s.original_max_position / double(s.low_freq_factor);
      const double high_wavelen = s.original_max_position / double(s.high_freq_factor);
      const double wavelen = 2.0 * M_PI / f;
      if (wavelen > low_wavelen) {
        f = f / s.factor;
      } else if (wavelen >= high_wavelen) {
        const double smooth =
            (s.original_max_position / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        f = (1.0 - smooth) * f / s.factor + smooth * f;
      }
    }
    inv_freq[i] = float(f);
  }
}

void rope_tables(float* cos_table, float* sin_table, int max_pos, int D, float theta, const RopeScaling& s) {
  const int half = D / 2;
  std::vector<float> inv(static_cast<size_t>(half));
  rope_inv_freq(inv.data(), D, theta, s);
  for (int p = 0; p < max_pos; p++)
    for (int i = 0; i < half; i++) {
      // Angle from the float32 frequency, as HF computes it, evaluated in double.
      const double angle = double(p) * double(inv[i]);
      cos_table[size_t(p) * half + i] = float(std::cos(angle));
      sin_table[size_t(p) * half + i] = float(std::sin(angle));
    }
}

namespace {

void rotate(float* x, const int32_t* positions, const float* cos_table, const float* sin_table, int T, int H, int D,
            float sign) {
  const int half = D / 2;
#pragma omp parallel for schedule(static) if (int64_t(T) * H * D > kMinParallelWork)
  for (int t = 0; t < T; t++) {
    const float* c = cos_table + size_t(positions[t]) * half;
    const float* s = sin_table + size_t(positions[t]) * half;
    for (int h = 0; h < H; h++) {
      float* r = x + (size_t(t) * H + h) * D;
      for (int i = 0; i < half; i++) {
        const float a = r[i], b = r[i + half], sn = sign * s[i];
        r[i] = a * c[i] - b * sn;
        r[i + half] = b * c[i] + a * sn;
      }
    }
  }
}

}  // namespace

void rope_forward(float* x, const int32_t* positions, const float* cos_table, const float* sin_table, int T, int H,
                  int D) {
  rotate(x, positions, cos_table, sin_table, T, H, D, 1.0f);
}

void rope_backward(float* dx, const int32_t* positions, const float* cos_table, const float* sin_table, int T, int H,
                   int D) {
  rotate(dx, positions, cos_table, sin_table, T, H, D, -1.0f);
}

}  // namespace r1::cpu
