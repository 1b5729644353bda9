// The weight exp(d) of a token in sampling, d = (logit - max logit) / temperature <= 0, as the CPU sampler and the
// GPU kernels both compute it: float32 operations only, each correctly rounded (fmaf, multiplies, rintf, an exact
// power-of-two scale), so both get the same float for the same d, bit for bit, and draw the same token.
//
// Why not exp in double: the GPU sampler spent most of its time in double-precision exps (two full passes over
// 256 x 152k logits per decode step), and two exps that differ in the last bit — libm's and CUDA's — would make
// a flat distribution over 150k tokens disagree on about one draw in a hundred at float precision. One shared
// routine keeps the engines in agreement; its relative error against exp is below 3e-7 (tests/core), far under
// the bf16 noise of the logits themselves.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define R1_HOST_DEVICE __host__ __device__
#else
#define R1_HOST_DEVICE
#endif

namespace r1 {

// d in (-86, 0]; below that (or NaN) the weight is 0 (exp(-86) ~ 4e-38 is near float's smallest normal).
R1_HOST_DEVICE inline float sampling_weight(float d) {
  if (!(d > -86.0f)) return 0.0f;
  // d = k ln2 + r, |r| <= ln2 / 2 (Cody-Waite: ln2_hi has 9 trailing zero bits, so k * ln2_hi is exact).
  const float k = rintf(d * 1.44269504f);
  float r = fmaf(k, -0.693145751953125f, d);
  r = fmaf(k, -1.42860677e-6f, r);
  // exp(r) by its Taylor series to r^7 / 7! (truncation < 6e-9 at |r| = 0.347).
  float p = 1.0f / 5040.0f;
  p = fmaf(p, r, 1.0f / 720.0f);
  p = fmaf(p, r, 1.0f / 120.0f);
  p = fmaf(p, r, 1.0f / 24.0f);
  p = fmaf(p, r, 1.0f / 6.0f);
  p = fmaf(p, r, 0.5f);
  p = fmaf(p, r, 1.0f);
  p = fmaf(p, r, 1.0f);
  // * 2^k, k in [-124, 0]: a normal float, so the product is exact.
  const uint32_t bits = uint32_t(int(k) + 127) << 23;
#if defined(__CUDA_ARCH__)
  const float scale = __uint_as_float(bits);
#else
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
#endif
  return p * scale;
}

// trunc(w * 2^bits) for a weight w in [0, 1] from sampling_weight (0 or a normal float) and bits <= 44: the GPU
// sampler's fixed-point weights, exact, from the float's bits (no double conversion).
R1_HOST_DEVICE inline uint64_t sampling_weight_fixed(float w, int bits) {
  uint32_t u;
#if defined(__CUDA_ARCH__)
  u = __float_as_uint(w);
#else
  std::memcpy(&u, &w, sizeof u);
#endif
  if (u == 0) return 0;
  const uint64_t m = (u & 0x7fffffu) | 0x800000u;  // w = m 2^(e - 150)
  const int shift = int(u >> 23) - 150 + bits;
  return shift >= 0 ? m << shift : shift > -24 ? m >> -shift : 0;
}

}  // namespace r1
