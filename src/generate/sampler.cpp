#include "generate/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/rng.h"
#include "core/sampling_weight.h"

namespace r1::gen {

void validate_sampling_params(const SamplingParams& p, const std::string& where) {
  auto bad = [&](const char* field, const std::string& why) { throw Error(where + ": field '" + field + "': " + why); };
  if (!std::isfinite(p.temperature)) bad("temperature", "must be a finite number (0 means greedy)");
  if (p.top_k < 0) bad("top_k", "must be >= 0 (0 disables it), got " + std::to_string(p.top_k));
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) bad("top_p", "must be in (0, 1], got " + std::to_string(p.top_p));
  if (p.max_new_tokens < 0) bad("max_new_tokens", "must be >= 0, got " + std::to_string(p.max_new_tokens));
  for (const auto& s : p.stop)
    if (s.empty()) bad("stop", "stop strings must not be empty");
}

double sampling_uniform(uint64_t seed, uint64_t stream, uint64_t step) {
  // Position 4*step starts a fresh Philox block, so step t reads block t of the stream.
  Philox rng(Philox::State{seed, stream, 4 * step});
  return rng.uniform_double();
}

double log_sum_exp(const float* logits, int vocab) {
  float m = -INFINITY;
  for (int v = 0; v < vocab; v++) {
    if (std::isnan(logits[v])) throw Error("sampler: logits contain NaN (token " + std::to_string(v) + ")");
    m = std::max(m, logits[v]);
  }
  double s = 0;
  for (int v = 0; v < vocab; v++) s += std::exp(double(logits[v]) - double(m));
  return double(m) + std::log(s);
}

double Sampler::build(const float* logits, int vocab, const SamplingParams& p) {
  // Higher logit first, lower id breaks ties: the canonical order that makes draws reproducible.
  auto before = [logits](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
  const float inv_t = 1.0f / p.temperature;
  float lmax = -INFINITY;
  for (int v = 0; v < vocab; v++) lmax = std::max(lmax, logits[v]);
  // float32 weights from the routine the GPU sampler runs too (core/sampling_weight.h): the same bits, so both
  // engines draw the same token; the sums below stay in double.
  auto w = [&](int32_t v) { return double(sampling_weight((logits[v] - lmax) * inv_t)); };

  order_.resize(size_t(vocab));
  std::iota(order_.begin(), order_.end(), 0);
  int n = vocab;
  bool sorted = false;
  if (p.top_k > 0 && p.top_k < vocab) {
    n = p.top_k;
    std::nth_element(order_.begin(), order_.begin() + n, order_.end(), before);
    order_.resize(size_t(n));
    std::sort(order_.begin(), order_.end(), before);
    sorted = true;
  }
  weight_.resize(size_t(n));
  double total = 0;
  for (int i = 0; i < n; i++) total += (weight_[size_t(i)] = w(order_[size_t(i)]));

  kept_ = n;
  if (p.top_p < 1.0f) {
    const double need = double(p.top_p) * total;
    if (!sorted) {
      // The nucleus is usually a short prefix of the order: select the top k (k = 256, 1024, ...) with
      // nth_element, each round only partitioning what the last one left, until they hold top_p of the mass,
      // then sort just those k. Linear in the vocabulary plus k log k.
      int done = 0;
      double mass = 0;
      int k = std::min(vocab, 256);
      for (;;) {
        if (k < vocab) std::nth_element(order_.begin() + done, order_.begin() + k, order_.end(), before);
        for (int i = done; i < k; i++) mass += w(order_[size_t(i)]);
        done = k;
        if (mass >= need || k == vocab) break;
        k = std::min(vocab, k * 4);
      }
      std::sort(order_.begin(), order_.begin() + done, before);
      n = done;
      for (int i = 0; i < n; i++) weight_[size_t(i)] = w(order_[size_t(i)]);
    }
    // Keep token i while the mass strictly before it is below top_p (so at least one token is kept); this is
    // HF's rule "drop tokens whose ascending cumulative probability is <= 1 - top_p".
    double before_mass = 0;
    int i = 0;
    while (i < n && before_mass < need) before_mass += weight_[size_t(i++)];
    kept_ = i;
  }
  double kept_total = 0;
  for (int i = 0; i < kept_; i++) kept_total += weight_[size_t(i)];
  return kept_total;
}

SampledToken Sampler::sample(const float* logits, int vocab, const SamplingParams& p, double u) {
  R1_CHECK(vocab > 0, "empty vocabulary");
  const double lse = log_sum_exp(logits, vocab);  // also rejects NaN logits
  SampledToken out;
  if (p.greedy()) {
    out.token = int32_t(std::max_element(logits, logits + vocab) - logits);  // first maximum: lowest id
    out.sampling_logprob = 0.0f;
  } else {
    const double kept_total = build(logits, vocab, p);
    // Inverse CDF over the kept tokens in canonical order.
    const double target = u * kept_total;
    double cum = 0;
    int pick = kept_ - 1;
    for (int i = 0; i < kept_; i++) {
      cum += weight_[i];
      if (cum > target) {
        pick = i;
        break;
      }
    }
    out.token = order_[pick];
    out.sampling_logprob = float(std::log(weight_[pick]) - std::log(kept_total));
  }
  out.logprob = float(double(logits[out.token]) - lse);
  return out;
}

std::vector<double> Sampler::distribution(const float* logits, int vocab, const SamplingParams& p) {
  std::vector<double> q(size_t(vocab), 0.0);
  if (p.greedy()) {
    q[size_t(std::max_element(logits, logits + vocab) - logits)] = 1.0;
    return q;
  }
  const double kept_total = build(logits, vocab, p);
  for (int i = 0; i < kept_; i++) q[size_t(order_[i])] = weight_[i] / kept_total;
  return q;
}

}  // namespace r1::gen
