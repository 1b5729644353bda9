// Small vector primitives shared by the CPU kernels (internal to src/backend/cpu).
//
// Why a hand-shaped dot product: without -ffast-math the compiler may not reorder a float sum, so a plain
// `s += a[i] * b[i]` loop stays scalar and latency-bound. Summing into 16 independent lanes makes the order
// explicit (lane l takes elements l, l+16, ...; the lanes are added last, in a fixed order), which the
// vectoriser turns into several SIMD accumulators. The result depends only on n and the data, never on
// threads or alignment, so kernels built on it stay bitwise reproducible.
#pragma once
#include <cstdint>

namespace r1::cpu {

// Elementwise work (elements touched) below which a loop runs on the calling thread alone: waking an OpenMP
// team and meeting at its barrier costs more than a few tens of thousands of cheap operations, which matters
// for the tiny models of tests and smoke runs.
constexpr int64_t kMinParallelWork = 32768;

}  // namespace r1::cpu

namespace r1::cpu::vec {

constexpr int kLanes = 16;

inline float dot(const float* __restrict a, const float* __restrict b, int n) {
  float lane[kLanes] = {};
  int i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; l++) lane[l] += a[i + l] * b[i + l];
  float tail = 0;
  for (; i < n; i++) tail += a[i] * b[i];
  // Pairwise tree over the lanes: each level is a vector add, where a left-to-right sum would be 15 scalar ones.
  for (int w = kLanes / 2; w > 0; w /= 2)
    for (int l = 0; l < w; l++) lane[l] += lane[l + w];
  return lane[0] + tail;
}

// y += alpha * x
inline void axpy(float* __restrict y, float alpha, const float* __restrict x, int n) {
  for (int i = 0; i < n; i++) y[i] += alpha * x[i];
}

}  // namespace r1::cpu::vec
