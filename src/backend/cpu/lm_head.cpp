// The chunked LM head: per-token log-probabilities (and entropies) of targets without ever holding the
// [tokens x vocab] logits. Forward and backward each walk the tokens `chunk` rows at a time; the backward
// recomputes the chunk's logits (cheaper in memory than keeping them: at a 152k vocabulary, 64k tokens of
// float32 logits are 40 GB) and immediately turns them into gradients for x and W.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/ops.h"
#include "backend/cpu/vec.h"

namespace r1::cpu {

namespace {

// logits[rows, V] = x[rows, C] W^T * inv_temperature
void chunk_logits(float* logits, const float* x, const float* W, int rows, int C, int V, float inv_temperature) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, V, C, inv_temperature, x, C, W, C, 0.0f, logits, V);
}

// log-sum-exp and sum p*z of one row. The exponentials are float (expf is several times cheaper than exp and
// these are the only per-vocabulary-entry transcendentals); the sums over the vocabulary are kept in double.
void row_stats(const float* z, int V, double* lse, double* p_dot_z) {
  const float m = *std::max_element(z, z + V);
  double s = 0, sz = 0;
  for (int v = 0; v < V; v++) {
    const float e = std::exp(z[v] - m);
    s += e;
    sz += double(e) * z[v];
  }
  *lse = m + std::log(s);
  *p_dot_z = sz / s;
}

}  // namespace

void lm_head_logits(float* logits, const float* x, const float* W, int n, int C, int V) {
  if (n > 0) chunk_logits(logits, x, W, n, C, V, 1.0f);
}

void lm_head_forward(float* logprob, float* entropy, const float* x, const float* W, const int32_t* targets, int T,
                     int C, int V, float inv_temperature, int chunk) {
  chunk = std::max(1, std::min(chunk, T));
  std::vector<float> logits(size_t(chunk) * V);
  for (int t0 = 0; t0 < T; t0 += chunk) {
    const int rows = std::min(chunk, T - t0);
    chunk_logits(logits.data(), x + size_t(t0) * C, W, rows, C, V, inv_temperature);
#pragma omp parallel for schedule(static) if (int64_t(rows) * V > kMinParallelWork)
    for (int r = 0; r < rows; r++) {
      const int t = t0 + r;
      if (targets[t] < 0) {
        logprob[t] = 0;
        if (entropy) entropy[t] = 0;
        continue;
      }
      const float* z = logits.data() + size_t(r) * V;
      double lse, pz;
      row_stats(z, V, &lse, &pz);
      logprob[t] = float(double(z[targets[t]]) - lse);
      if (entropy) entropy[t] = float(lse - pz);  // H = -sum p (z - lse) = lse - sum p z
    }
  }
}

void lm_head_backward(float* dx, float* dW, const float* dlogprob, const float* dentropy, const float* x,
                      const float* W, const int32_t* targets, int T, int C, int V, float inv_temperature, int chunk) {
  chunk = std::max(1, std::min(chunk, T));
  std::vector<float> logits(size_t(chunk) * V);
  for (int t0 = 0; t0 < T; t0 += chunk) {
    const int rows = std::min(chunk, T - t0);
    chunk_logits(logits.data(), x + size_t(t0) * C, W, rows, C, V, inv_temperature);
    // Overwrite the chunk's logits with d(loss)/d(raw logits) in place.
#pragma omp parallel for schedule(static) if (int64_t(rows) * V > kMinParallelWork)
    for (int r = 0; r < rows; r++) {
      const int t = t0 + r;
      float* z = logits.data() + size_t(r) * V;
      if (targets[t] < 0) {
        std::fill(z, z + V, 0.0f);
        continue;
      }
      double lse, pz;
      row_stats(z, V, &lse, &pz);
      const double H = lse - pz;
      const double gl = dlogprob ? dlogprob[t] : 0.0, ge = dentropy ? dentropy[t] : 0.0;
      // dlogit_v = p_v * (-gl - ge * (logp_v + H)), all times the temperature's chain-rule factor.
      const float a = float(-gl * inv_temperature), b = float(-ge * inv_temperature), c = float(H - lse);
      const float lse_f = float(lse);
      for (int v = 0; v < V; v++) {
        const float p = std::exp(z[v] - lse_f);
        z[v] = p * (a + b * (z[v] + c));
      }
      z[targets[t]] += float(gl * inv_temperature);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, C, V, 1.0f, logits.data(), V, W, C, 1.0f,
                dx + size_t(t0) * C, C);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, V, C, rows, 1.0f, logits.data(), V, x + size_t(t0) * C, C, 1.0f,
                dW, C);
  }
}

}  // namespace r1::cpu
