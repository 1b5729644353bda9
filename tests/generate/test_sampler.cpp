// Sampler: the statistics of temperature / top-k / top-p sampling, the two log-probabilities it returns, and
// the determinism of its Philox draws.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "generate/sampler.h"

namespace r1::gen {
namespace {

// Independent reference of the sampling distribution: softmax(l / T), keep the top k, then the smallest
// descending prefix with mass >= top_p, renormalise. Written with a full sort, in double.
std::vector<double> reference_q(const std::vector<float>& logits, float T, int top_k, float top_p) {
  const int V = int(logits.size());
  std::vector<int> idx(V);
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return logits[a] > logits[b]; });
  const int k = top_k > 0 ? std::min(top_k, V) : V;
  std::vector<double> p(size_t(V), 0.0);
  double z = 0;
  for (int i = 0; i < k; i++) z += (p[idx[i]] = std::exp(double(logits[idx[i]]) / T));
  double cum = 0;
  int kept = 0;
  while (kept < k && cum < top_p * z) cum += p[idx[kept++]];
  std::vector<double> q(size_t(V), 0.0);
  for (int i = 0; i < kept; i++) q[idx[i]] = p[idx[i]] / cum;
  return q;
}

std::vector<float> random_logits(int V, uint64_t seed, float scale) {
  Philox rng(seed, 7);
  std::vector<float> l(V);
  for (auto& x : l) x = scale * rng.normal();
  return l;
}

// Pearson chi-square of observed counts against probabilities q (cells with q = 0 must have no counts).
double chi_square(const std::vector<int>& counts, const std::vector<double>& q, int n, int* dof) {
  double chi = 0;
  *dof = -1;
  for (size_t i = 0; i < q.size(); i++) {
    if (q[i] == 0) {
      EXPECT_EQ(counts[i], 0) << "token " << i << " is outside the sampling support";
      continue;
    }
    const double e = q[i] * n;
    chi += (counts[i] - e) * (counts[i] - e) / e;
    (*dof)++;
  }
  return chi;
}

// Upper 0.1% quantiles of chi-square: a correct sampler fails a given seed with probability 1e-3.
double chi_square_critical_999(int dof) {
  static const double table[] = {0, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32, 26.12, 27.88};
  return table[dof];
}

void expect_frequencies_match(const std::vector<float>& logits, const SamplingParams& p, uint64_t seed) {
  const int V = int(logits.size()), N = 40000;
  Sampler s;
  std::vector<int> counts(size_t(V), 0);
  for (int i = 0; i < N; i++)
    counts[size_t(s.sample(logits.data(), V, p, sampling_uniform(seed, 0, uint64_t(i))).token)]++;
  const auto q = reference_q(logits, p.temperature, p.top_k, p.top_p);
  int dof = 0;
  const double chi = chi_square(counts, q, N, &dof);
  ASSERT_GE(dof, 1);
  EXPECT_LT(chi, chi_square_critical_999(dof)) << "dof " << dof;
}

TEST(Sampler, FrequenciesPassChiSquareAtTemperature) {
  const std::vector<float> logits = {1.0f, 0.2f, -0.5f, 2.0f, 0.0f, 1.5f};
  SamplingParams p;
  p.temperature = 0.8f;
  expect_frequencies_match(logits, p, 11);
  p.temperature = 1.0f;
  expect_frequencies_match(logits, p, 12);
}

TEST(Sampler, FrequenciesPassChiSquareWithTopKAndTopP) {
  const std::vector<float> logits = {1.0f, 0.2f, -0.5f, 2.0f, 0.0f, 1.5f, 0.7f, -1.0f};
  SamplingParams p;
  p.temperature = 0.9f;
  p.top_k = 4;
  expect_frequencies_match(logits, p, 21);
  p.top_k = 0;
  p.top_p = 0.8f;
  expect_frequencies_match(logits, p, 22);
  p.top_k = 5;
  p.top_p = 0.9f;
  expect_frequencies_match(logits, p, 23);
}

TEST(Sampler, DistributionEqualsReference) {
  const auto logits = random_logits(3000, 5, 3.0f);
  Sampler s;
  for (const auto& [T, k, tp] : std::vector<std::tuple<float, int, float>>{
           {1.0f, 0, 1.0f}, {0.6f, 0, 0.95f}, {1.3f, 50, 1.0f}, {0.7f, 20, 0.5f}, {1.0f, 0, 0.999f}}) {
    SamplingParams p;
    p.temperature = T, p.top_k = k, p.top_p = tp;
    const auto q = s.distribution(logits.data(), int(logits.size()), p);
    const auto r = reference_q(logits, T, k, tp);
    // The sampler's weights are float32 exps (core/sampling_weight.h, relative error < 3e-7): q within 1e-6
    // relative of the double reference (and the same support).
    for (size_t v = 0; v < q.size(); v++)
      ASSERT_NEAR(q[v], r[v], 1e-6 * r[v] + 1e-15) << "T " << T << " k " << k << " p " << tp;
  }
}

TEST(Sampler, TopKNeverEmitsOutsideTopK) {
  const auto logits = random_logits(1000, 3, 2.0f);
  std::vector<int> idx(1000);
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](int a, int b) { return logits[a] > logits[b]; });
  const std::set<int> top(idx.begin(), idx.begin() + 5);
  SamplingParams p;
  p.temperature = 3.0f;  // flat: without the cut, most draws would land outside the top 5
  p.top_k = 5;
  Sampler s;
  std::set<int> seen;
  for (int i = 0; i < 3000; i++) {
    const int t = s.sample(logits.data(), 1000, p, sampling_uniform(4, 0, uint64_t(i))).token;
    ASSERT_TRUE(top.count(t)) << "token " << t << " is not in the top 5";
    seen.insert(t);
  }
  EXPECT_EQ(seen.size(), 5u);
}

TEST(Sampler, TopPNeverEmitsOutsideNucleus) {
  // A large, flat vocabulary makes the nucleus longer than the sampler's first partial sort (256).
  const int V = 20000;
  const auto logits = random_logits(V, 9, 1.0f);
  SamplingParams p;
  p.top_p = 0.9f;
  const auto q = reference_q(logits, 1.0f, 0, 0.9f);
  const int nucleus = int(std::count_if(q.begin(), q.end(), [](double x) { return x > 0; }));
  ASSERT_GT(nucleus, 1024);
  ASSERT_LT(nucleus, V);
  Sampler s;
  for (int i = 0; i < 300; i++) {
    const SampledToken t = s.sample(logits.data(), V, p, sampling_uniform(8, 3, uint64_t(i)));
    ASSERT_GT(q[t.token], 0.0) << "token " << t.token << " is outside the nucleus";
    ASSERT_NEAR(t.sampling_logprob, std::log(q[t.token]), 1e-5);
  }
}

TEST(Sampler, TinyTopPKeepsOnlyTheArgmax) {
  const std::vector<float> logits = {0.1f, 3.0f, 2.9f, -1.0f};
  SamplingParams p;
  p.top_p = 1e-6f;
  Sampler s;
  for (int i = 0; i < 100; i++) {
    const SampledToken t = s.sample(logits.data(), 4, p, sampling_uniform(1, 0, uint64_t(i)));
    EXPECT_EQ(t.token, 1);
    EXPECT_EQ(t.sampling_logprob, 0.0f);
  }
}

TEST(Sampler, LogprobIsPolicyAtTemperatureOneAndSamplingLogprobIsQ) {
  const auto logits = random_logits(500, 2, 2.5f);
  double z = 0;
  for (float l : logits) z += std::exp(double(l));
  SamplingParams p;
  p.temperature = 0.6f;
  p.top_k = 40;
  p.top_p = 0.9f;
  Sampler s;
  const auto q = reference_q(logits, p.temperature, p.top_k, p.top_p);
  for (int i = 0; i < 200; i++) {
    const SampledToken t = s.sample(logits.data(), 500, p, sampling_uniform(3, 1, uint64_t(i)));
    EXPECT_NEAR(t.logprob, double(logits[t.token]) - std::log(z), 1e-5);
    EXPECT_NEAR(t.sampling_logprob, std::log(q[t.token]), 1e-5);
  }
}

TEST(Sampler, GreedyPicksLowestIdAmongMaxima) {
  const std::vector<float> logits = {0.5f, 2.0f, -1.0f, 2.0f};
  SamplingParams p;
  p.temperature = 0.0f;
  Sampler s;
  const SampledToken t = s.sample(logits.data(), 4, p, 0.99);
  EXPECT_EQ(t.token, 1);
  EXPECT_EQ(t.sampling_logprob, 0.0f);
  double z = 0;
  for (float l : logits) z += std::exp(double(l));
  EXPECT_NEAR(t.logprob, 2.0 - std::log(z), 1e-6);
}

TEST(Sampler, UniformIsAPureFunctionOfSeedStreamStep) {
  std::set<double> seen;
  for (uint64_t stream = 0; stream < 4; stream++)
    for (uint64_t step = 0; step < 50; step++) {
      const double u = sampling_uniform(42, stream, step);
      EXPECT_EQ(u, sampling_uniform(42, stream, step));
      EXPECT_GE(u, 0.0);
      EXPECT_LT(u, 1.0);
      seen.insert(u);
    }
  EXPECT_EQ(seen.size(), 200u) << "streams and steps must not repeat draws";
  EXPECT_NE(sampling_uniform(42, 0, 0), sampling_uniform(43, 0, 0));
}

TEST(Sampler, RejectsInvalidParamsNamingTheField) {
  SamplingParams p;
  p.top_p = 0.0f;
  try {
    validate_sampling_params(p, "request 3");
    FAIL() << "top_p = 0 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("request 3: field 'top_p'"), std::string::npos) << e.what();
  }
  p = SamplingParams{};
  p.top_k = -1;
  EXPECT_THROW(validate_sampling_params(p, "r"), Error);
  p = SamplingParams{};
  p.stop = {""};
  EXPECT_THROW(validate_sampling_params(p, "r"), Error);
}

TEST(Sampler, NanLogitsAreAnError) {
  const std::vector<float> logits = {0.0f, NAN, 1.0f};
  Sampler s;
  EXPECT_THROW(s.sample(logits.data(), 3, SamplingParams{}, 0.5), Error);
}

}  // namespace
}  // namespace r1::gen
