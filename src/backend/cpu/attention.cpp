// Causal grouped-query attention over packed variable-length sequences, float32 reference.
//
// Forward, per query row i of sequence s and head h (kv head g = h / group):
//   s_j = q_i . k_j / sqrt(D) for j in [start_s, i];  lse_i = log sum_j exp(s_j);  out_i = sum_j exp(s_j - lse_i) v_j
// Backward, with P_ij = exp(s_ij - lse_i) and D_i = dout_i . out_i (softmax's Jacobian trick):
//   dS_ij = P_ij (dout_i . v_j - D_i);  dq_i += dS_ij k_j / sqrt(D);  dk_j += dS_ij q_i / sqrt(D);  dv_j += P_ij dout_i
//
// Work is split into (token, kv head) items: the Hq/Hkv query heads of a group share every K and V row they
// read, which is where GQA saves memory traffic. The backward runs two passes that each recompute P: one owns
// the dq rows (items = query rows), the other owns the dk/dv rows (items = key rows). Recomputing costs two
// extra dot products per pair, but no two threads ever write the same element, so there are no atomics, the
// result does not depend on the thread count, and even a single long sequence spreads over every core.
// Only per-thread scratch of (group x one sequence length) is held: never a [T x T] matrix.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/ops.h"
#include "backend/cpu/vec.h"

namespace r1::cpu {

namespace {

struct Layout {
  int T, Hq, Hkv, D, group;
  float scale;
  const float* q_row(const float* q, int i, int h) const { return q + (size_t(i) * Hq + h) * D; }
  const float* kv_row(const float* kv, int j, int g) const { return kv + (size_t(j) * Hkv + g) * D; }
};

// For each token, the [start, end) of its own sequence.
void sequence_bounds(std::vector<int32_t>& start, std::vector<int32_t>& end, const int32_t* cu, int B, int T) {
  start.resize(size_t(T));
  end.resize(size_t(T));
  for (int b = 0; b < B; b++)
    for (int t = cu[b]; t < cu[b + 1]; t++) start[size_t(t)] = cu[b], end[size_t(t)] = cu[b + 1];
}

int max_seqlen(const int32_t* cu, int B) {
  int m = 1;
  for (int b = 0; b < B; b++) m = std::max(m, cu[b + 1] - cu[b]);
  return m;
}

// Total multiply-adds of a causal pass: below this, waking a thread team costs more than the work.
bool worth_threads(const int32_t* cu, int B, int Hq, int D) {
  int64_t pairs = 0;
  for (int b = 0; b < B; b++) pairs += int64_t(cu[b + 1] - cu[b]) * (cu[b + 1] - cu[b] + 1) / 2;
  return pairs * Hq * D > kMinParallelWork;
}

}  // namespace

void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       const int32_t* cu_seqlens, int B, int T, int Hq, int Hkv, int D) {
  const Layout L{T, Hq, Hkv, D, Hq / Hkv, 1.0f / std::sqrt(float(D))};
  const int G = L.group, S = max_seqlen(cu_seqlens, B);
  std::vector<int32_t> start, end;
  sequence_bounds(start, end, cu_seqlens, B, T);
#pragma omp parallel if (worth_threads(cu_seqlens, B, Hq, D))
  {
    std::vector<float> p(size_t(G) * S);  // scores, then weights, of the group's heads
    std::vector<float> acc(size_t(G) * D);
#pragma omp for collapse(2) schedule(dynamic, 4)
    for (int i = 0; i < T; i++)
      for (int g = 0; g < Hkv; g++) {
        const int s0 = start[size_t(i)], n = i - s0 + 1;
        for (int j = 0; j < n; j++) {
          const float* kj = L.kv_row(k, s0 + j, g);
          for (int a = 0; a < G; a++) p[size_t(a) * S + j] = vec::dot(L.q_row(q, i, g * G + a), kj, D) * L.scale;
        }
        for (int a = 0; a < G; a++) {
          float* pa = p.data() + size_t(a) * S;
          const float m = *std::max_element(pa, pa + n);
          double z = 0;
          for (int j = 0; j < n; j++) z += (pa[j] = std::exp(pa[j] - m));
          const float inv = float(1.0 / z);
          for (int j = 0; j < n; j++) pa[j] *= inv;
          lse[size_t(i) * Hq + g * G + a] = m + float(std::log(z));
        }
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int j = 0; j < n; j++) {
          const float* vj = L.kv_row(v, s0 + j, g);
          for (int a = 0; a < G; a++) vec::axpy(acc.data() + size_t(a) * D, p[size_t(a) * S + j], vj, D);
        }
        std::copy(acc.begin(), acc.end(), out + (size_t(i) * Hq + g * G) * D);
      }
  }
}

void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                        const float* v, const float* out, const float* lse, const int32_t* cu_seqlens, int B, int T,
                        int Hq, int Hkv, int D) {
  const Layout L{T, Hq, Hkv, D, Hq / Hkv, 1.0f / std::sqrt(float(D))};
  const int G = L.group;
  std::vector<int32_t> start, end;
  sequence_bounds(start, end, cu_seqlens, B, T);
  const bool threads = worth_threads(cu_seqlens, B, Hq, D);
  // D_i = dout_i . out_i for every (token, query head).
  std::vector<float> delta(size_t(T) * Hq);
#pragma omp parallel for schedule(static) if (threads)
  for (int i = 0; i < T; i++)
    for (int h = 0; h < Hq; h++) delta[size_t(i) * Hq + h] = vec::dot(L.q_row(dout, i, h), L.q_row(out, i, h), D);

  // The gradient of score (i, j) of head h, already multiplied by the 1/sqrt(D) of the forward; P returned too.
  auto score_grad = [&](int i, int j, int h, int g, float* P) {
    const size_t ih = size_t(i) * Hq + h;
    const float* kj = L.kv_row(k, j, g);
    const float* vj = L.kv_row(v, j, g);
    *P = std::exp(vec::dot(L.q_row(q, i, h), kj, D) * L.scale - lse[ih]);
    return *P * (vec::dot(L.q_row(dout, i, h), vj, D) - delta[ih]) * L.scale;
  };

#pragma omp parallel if (threads)
  {
    std::vector<float> acc(size_t(2) * D);
    // Pass 1: dq_i += sum_{j <= i} dS_ij k_j.
#pragma omp for collapse(2) schedule(dynamic, 4) nowait
    for (int i = 0; i < T; i++)
      for (int h = 0; h < Hq; h++) {
        const int g = h / G;
        std::fill(acc.begin(), acc.begin() + D, 0.0f);
        for (int j = start[size_t(i)]; j <= i; j++) {
          float P;
          vec::axpy(acc.data(), score_grad(i, j, h, g, &P), L.kv_row(k, j, g), D);
        }
        vec::axpy(dq + (size_t(i) * Hq + h) * D, 1.0f, acc.data(), D);
      }
    // Pass 2: dk_j += sum_{i >= j} dS_ij q_i and dv_j += sum_{i >= j} P_ij dout_i, over the group's heads.
#pragma omp for collapse(2) schedule(dynamic, 4)
    for (int j = 0; j < T; j++)
      for (int g = 0; g < Hkv; g++) {
        float* dk_acc = acc.data();
        float* dv_acc = acc.data() + D;
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int i = j; i < end[size_t(j)]; i++)
          for (int h = g * G; h < (g + 1) * G; h++) {
            float P;
            const float dS = score_grad(i, j, h, g, &P);
            vec::axpy(dk_acc, dS, L.q_row(q, i, h), D);
            vec::axpy(dv_acc, P, L.q_row(dout, i, h), D);
          }
        vec::axpy(dk + (size_t(j) * Hkv + g) * D, 1.0f, dk_acc, D);
        vec::axpy(dv + (size_t(j) * Hkv + g) * D, 1.0f, dv_acc, D);
      }
  }
}

}  // namespace r1::cpu
