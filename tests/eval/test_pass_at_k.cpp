#include <cmath>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "eval/pass_at_k.h"
#include "eval/results.h"

namespace r1::eval {

namespace {

// The definition, computed directly: the fraction of k-subsets of the samples that contain a correct one.
double pass_at_k_by_enumeration(const std::vector<bool>& correct, int k) {
  const int n = int(correct.size());
  long subsets = 0, hits = 0;
  for (unsigned mask = 0; mask < (1u << n); ++mask) {
    if (__builtin_popcount(mask) != k) continue;
    ++subsets;
    bool any = false;
    for (int i = 0; i < n; ++i) any |= (mask >> i & 1u) && correct[i];
    hits += any;
  }
  return double(hits) / double(subsets);
}

const std::vector<std::vector<bool>> kTables = {
    {true},
    {false},
    {false, true, false, false},
    {true, true, false, true, false},
    {false, false, false, false, false, false, true, false},
    {true, false, true, false, true, false, true, false, true, false},
    {false, false, false, false, false, false, false, false, false, false, false, true},
};

}  // namespace

TEST(PassAtK, EqualsEnumerationOfAllSubsets) {
  for (const auto& table : kTables) {
    const int n = int(table.size());
    const int c = int(std::count(table.begin(), table.end(), true));
    for (int k = 1; k <= n; ++k)
      EXPECT_NEAR(pass_at_k(n, c, k), pass_at_k_by_enumeration(table, k), 1e-12) << "n=" << n << " c=" << c << " k=" << k;
  }
}

TEST(PassAtK, KEqualsNIsAnyCorrect) {
  for (int n = 1; n <= 12; ++n) {
    EXPECT_EQ(pass_at_k(n, 0, n), 0.0);
    for (int c = 1; c <= n; ++c) EXPECT_EQ(pass_at_k(n, c, n), 1.0);
  }
}

TEST(PassAtK, NoCorrectSampleGivesZeroForEveryK) {
  for (int n = 1; n <= 20; ++n)
    for (int k = 1; k <= n; ++k) EXPECT_EQ(pass_at_k(n, 0, k), 0.0);
}

TEST(PassAtK, KOneIsTheFractionCorrect) {
  for (int n = 1; n <= 64; n += 7)
    for (int c = 0; c <= n; ++c) EXPECT_NEAR(pass_at_k(n, c, 1), double(c) / n, 1e-12);
  EXPECT_DOUBLE_EQ(mean_pass_at_1(8, 3), 0.375);
}

TEST(PassAtK, StableWhereBinomialsOverflow) {
  // C(1000, 500) is ~1e299; the product form must still agree with a log-gamma evaluation of the ratio.
  const auto log_choose = [](double n, double k) { return std::lgamma(n + 1) - std::lgamma(k + 1) - std::lgamma(n - k + 1); };
  const double n = 1000, c = 37, k = 500;
  const double expected = 1 - std::exp(log_choose(n - c, k) - log_choose(n, k));
  EXPECT_NEAR(pass_at_k(1000, 37, 500), expected, 1e-9);
  EXPECT_NEAR(pass_at_k(1000, 1, 1), 0.001, 1e-15);
  EXPECT_GT(pass_at_k(1000, 1, 999), 0.998);
}

TEST(PassAtK, InvalidCountsAreErrors) {
  EXPECT_THROW(pass_at_k(4, 5, 1), Error);
  EXPECT_THROW(pass_at_k(4, 1, 5), Error);
  EXPECT_THROW(pass_at_k(4, 1, 0), Error);
  EXPECT_THROW(pass_at_k(0, 0, 1), Error);
  EXPECT_THROW(pass_at_k(4, -1, 1), Error);
}

TEST(PassAtK, BenchmarkScoreIsMeanOverProblemsOfDirectComputation) {
  std::vector<ProblemSamples> problems;
  for (size_t i = 0; i < kTables.size(); ++i)
    if (kTables[i].size() >= 4)
      problems.push_back({"p" + std::to_string(i), std::vector<std::string>(kTables[i].size(), "x"), kTables[i]});
  EvalOptions o;
  o.pass_ks = {1, 2, 4};
  const BenchmarkResult r = evaluate_samples("hand", problems, o);
  ASSERT_EQ(r.metrics.size(), 3u);
  for (size_t m = 0; m < 3; ++m) {
    const int k = o.pass_ks[m];
    double sum = 0;
    for (const auto& p : problems) sum += pass_at_k_by_enumeration(p.correct, k);
    EXPECT_NEAR(r.metrics[m].value, sum / problems.size(), 1e-12) << "pass@" << k;
    EXPECT_LE(r.metrics[m].ci_low, r.metrics[m].value);
    EXPECT_GE(r.metrics[m].ci_high, r.metrics[m].value);
  }
  EXPECT_EQ(r.metric("pass@2")->name, "pass@2");
  EXPECT_EQ(r.min_samples, 4);
  EXPECT_EQ(r.max_samples, 12);
}

TEST(PassAtK, KBeyondAProblemsSamplesNamesTheProblem) {
  std::vector<ProblemSamples> problems = {{"short-one", {"1", "2"}, {true, false}}};
  EvalOptions o;
  o.pass_ks = {4};
  try {
    evaluate_samples("bench", problems, o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("short-one"));
  }
}

}  // namespace r1::eval
