#include "backend/cpu/paged_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace r1::cpu {

// One task per (sequence, kv head): the Hq/Hkv query heads of a group read each K and V row once, which is
// what makes GQA decode cheaper than Hq independent heads. Two passes (scores, then weighted values) with a
// per-thread scratch of group * seq_len scores.
void paged_attention_decode(float* out, float* lse, const float* q, const float* k_pool, const float* v_pool,
                            const int32_t* page_indptr, const int32_t* page_indices, const int32_t* seq_lens, int B,
                            int Hq, int Hkv, int D, int page_size) {
  const int G = Hq / Hkv;
  const float scale = 1.0f / std::sqrt(float(D));
  const int64_t slot = int64_t(Hkv) * D;
  int64_t work = 0;  // multiply-adds; below ~64k, waking a thread team costs more than it saves
  for (int b = 0; b < B; b++) work += int64_t(seq_lens[b]) * Hq * D * 2;
#pragma omp parallel if (work > 65536)
  {
    std::vector<float> scores, inv_sum(G);
#pragma omp for collapse(2) schedule(dynamic, 1)
    for (int b = 0; b < B; b++) {
      for (int g = 0; g < Hkv; g++) {
        const int L = seq_lens[b];
        const int32_t* pages = page_indices + page_indptr[b];
        scores.resize(size_t(G) * size_t(std::max(L, 1)));
        auto row = [&](const float* pool, int j) {
          return pool + (int64_t(pages[j / page_size]) * page_size + j % page_size) * slot + int64_t(g) * D;
        };
        // Pass 1: scaled scores s[h][j] = q_h . k_j / sqrt(D).
        for (int j = 0; j < L; j++) {
          const float* k = row(k_pool, j);
          for (int h = 0; h < G; h++) {
            const float* qh = q + (int64_t(b) * Hq + g * G + h) * D;
            float s = 0;
            for (int d = 0; d < D; d++) s += qh[d] * k[d];
            scores[size_t(h) * L + j] = s * scale;
          }
        }
        // Softmax per query head.
        for (int h = 0; h < G; h++) {
          float* s = scores.data() + size_t(h) * L;
          float m = -INFINITY;
          for (int j = 0; j < L; j++) m = std::max(m, s[j]);
          float sum = 0;
          for (int j = 0; j < L; j++) sum += (s[j] = std::exp(s[j] - m));
          inv_sum[size_t(h)] = L > 0 ? 1.0f / sum : 0.0f;
          if (lse) lse[int64_t(b) * Hq + g * G + h] = L > 0 ? m + std::log(sum) : -INFINITY;
        }
        // Pass 2: out_h = sum_j p[h][j] v_j.
        for (int h = 0; h < G; h++) std::memset(out + (int64_t(b) * Hq + g * G + h) * D, 0, size_t(D) * sizeof(float));
        for (int j = 0; j < L; j++) {
          const float* v = row(v_pool, j);
          for (int h = 0; h < G; h++) {
            float* o = out + (int64_t(b) * Hq + g * G + h) * D;
            const float p = scores[size_t(h) * L + j] * inv_sum[size_t(h)];
            for (int d = 0; d < D; d++) o[d] += p * v[d];
          }
        }
      }
    }
  }
}

}  // namespace r1::cpu
