// Causal grouped-query attention over packed variable-length sequences, float32 reference.
//
// Forward, per query row i of sequence s and head h (kv head g = h / group):
//   s_j = q_i . k_j / sqrt(D) for j in [start_s, i];  lse_i = log sum_j exp(s_j);  out_i = sum_j exp(s_j - lse_i) v_j
// Backward, with P_ij = exp(s_ij - lse_i) and D_i = dout_i . out_i (softmax's Jacobian trick):
//   dS_ij = P_ij (dout_i . v_j - D_i);  dq_i += dS_ij k_j / sqrt(D);  dk_j += dS_ij q_i / sqrt(D);  dv_j += P_ij dout_i
// The backward parallelises over (sequence, kv head): that work item owns every dk/dv row it writes and the dq
// rows of its query heads, so there are no races and the result does not depend on the thread count.
// Only a scratch row of one sequence's length is held per thread: never a [T x T] matrix.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/ops.h"

namespace r1::cpu {

namespace {

float dot(const float* a, const float* b, int n) {
  float s = 0;
  for (int i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

int max_seqlen(const int32_t* cu, int B) {
  int m = 0;
  for (int b = 0; b < B; b++) m = std::max(m, cu[b + 1] - cu[b]);
  return m;
}

}  // namespace

void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       const int32_t* cu_seqlens, int B, int T, int Hq, int Hkv, int D) {
  const int group = Hq / Hkv;
  const float scale = 1.0f / std::sqrt(float(D));
  const int L = max_seqlen(cu_seqlens, B);
  // Map each token to its sequence start once.
  std::vector<int32_t> start(static_cast<size_t>(T));
  for (int b = 0; b < B; b++)
    for (int t = cu_seqlens[b]; t < cu_seqlens[b + 1]; t++) start[size_t(t)] = cu_seqlens[b];
#pragma omp parallel
  {
    std::vector<float> p(size_t(std::max(L, 1)));
#pragma omp for collapse(2) schedule(static)
    for (int i = 0; i < T; i++)
      for (int h = 0; h < Hq; h++) {
        const int g = h / group, s0 = start[size_t(i)];
        const float* qi = q + (size_t(i) * Hq + h) * D;
        float m = -INFINITY;
        for (int j = s0; j <= i; j++) {
          const float sc = dot(qi, k + (size_t(j) * Hkv + g) * D, D) * scale;
          p[size_t(j - s0)] = sc;
          m = std::max(m, sc);
        }
        double z = 0;
        for (int j = s0; j <= i; j++) z += (p[size_t(j - s0)] = std::exp(p[size_t(j - s0)] - m));
        const float inv = float(1.0 / z);
        lse[size_t(i) * Hq + h] = m + float(std::log(z));
        float* oi = out + (size_t(i) * Hq + h) * D;
        std::fill(oi, oi + D, 0.0f);
        for (int j = s0; j <= i; j++) {
          const float w = p[size_t(j - s0)] * inv;
          const float* vj = v + (size_t(j) * Hkv + g) * D;
          for (int e = 0; e < D; e++) oi[e] += w * vj[e];
        }
      }
  }
}

void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                        const float* v, const float* out, const float* lse, const int32_t* cu_seqlens, int B, int T,
                        int Hq, int Hkv, int D) {
  const int group = Hq / Hkv;
  const float scale = 1.0f / std::sqrt(float(D));
#pragma omp parallel for collapse(2) schedule(dynamic)
  for (int b = 0; b < B; b++)
    for (int g = 0; g < Hkv; g++) {
      const int s0 = cu_seqlens[b], s1 = cu_seqlens[b + 1];
      for (int h = g * group; h < (g + 1) * group; h++)
        for (int i = s0; i < s1; i++) {
          const size_t qi_off = (size_t(i) * Hq + h) * D;
          const float* qi = q + qi_off;
          const float* doi = dout + qi_off;
          const float Di = dot(doi, out + qi_off, D);
          const float li = lse[size_t(i) * Hq + h];
          float* dqi = dq + qi_off;
          for (int j = s0; j <= i; j++) {
            const size_t kj_off = (size_t(j) * Hkv + g) * D;
            const float P = std::exp(dot(qi, k + kj_off, D) * scale - li);
            const float dS = P * (dot(doi, v + kj_off, D) - Di) * scale;
            const float* kj = k + kj_off;
            float* dkj = dk + kj_off;
            float* dvj = dv + kj_off;
            for (int e = 0; e < D; e++) {
              dqi[e] += dS * kj[e];
              dkj[e] += dS * qi[e];
              dvj[e] += P * doi[e];
            }
          }
        }
    }
}

}  // namespace r1::cpu
