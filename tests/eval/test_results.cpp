#include <cmath>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "eval/confidence.h"
#include "eval/results.h"

using ::testing::HasSubstr;

namespace r1::eval {

TEST(PassAtK, NormalIntervalIsMeanPlusMinusZTimesStandardError) {
  std::vector<double> scores;
  for (int i = 0; i < 100; ++i) scores.push_back(i % 10 < 3 ? 1.0 : 0.0);  // 30% correct
  const Estimate e = normal_ci(scores);
  const double se = std::sqrt(0.3 * 0.7 * 100 / 99 / 100);  // sample variance uses N - 1
  EXPECT_NEAR(e.mean, 0.3, 1e-12);
  EXPECT_NEAR(e.low, 0.3 - kZ95 * se, 1e-12);
  EXPECT_NEAR(e.high, 0.3 + kZ95 * se, 1e-12);
  const Estimate all = normal_ci({1, 1, 1});
  EXPECT_EQ(all.low, 1.0);  // zero spread
  const Estimate clamped = normal_ci({0, 1});
  EXPECT_EQ(clamped.low, 0.0);
  EXPECT_EQ(clamped.high, 1.0);
}

TEST(PassAtK, BootstrapIntervalIsReproducibleAndAgreesWithNormalForLargeN) {
  std::vector<double> scores;
  for (int i = 0; i < 400; ++i) scores.push_back(i % 4 == 0 ? 1.0 : (i % 4 == 1 ? 0.5 : 0.0));
  const Estimate a = bootstrap_ci(scores, 2000, 7), b = bootstrap_ci(scores, 2000, 7), c = bootstrap_ci(scores, 2000, 8);
  EXPECT_EQ(a.low, b.low);
  EXPECT_EQ(a.high, b.high);
  EXPECT_TRUE(a.low != c.low || a.high != c.high);
  const Estimate n = normal_ci(scores);
  EXPECT_LT(a.low, a.mean);
  EXPECT_GT(a.high, a.mean);
  EXPECT_NEAR(a.high - a.low, n.high - n.low, 0.15 * (n.high - n.low));
}

TEST(PassAtK, TablesCarryEveryMetricInMarkdownAndJson) {
  const std::vector<ProblemSamples> problems = {{"p0", {"1", "2"}, {true, false}}, {"p1", {"3", "3"}, {true, true}}};
  EvalOptions o;
  o.pass_ks = {1, 2};
  o.cons_ks = {2};
  const BenchmarkResult r = evaluate_samples("gsm8k", problems, o);
  EvalOptions only_pass;
  const BenchmarkResult r2 = evaluate_samples("aime24", {{"q", {"5"}, {false}}}, only_pass);
  const std::string md = to_markdown({r, r2});
  EXPECT_THAT(md, HasSubstr("| benchmark | problems | samples | pass@1 (%) | pass@2 (%) | cons@2 (%) |"));
  EXPECT_THAT(md, HasSubstr("| gsm8k | 2 | 2 | 75.0 ["));
  EXPECT_THAT(md, HasSubstr("| aime24 | 1 | 1 | 0.0 [0.0, 0.0] | – | – |"));
  const nlohmann::json j = to_json(r, true);
  EXPECT_EQ(j["benchmark"], "gsm8k");
  EXPECT_DOUBLE_EQ(j["metrics"]["pass@1"]["value"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(j["metrics"]["pass@2"]["value"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(j["metrics"]["cons@2"]["value"].get<double>(), 1.0);  // p0: tie -> "1" (right)
  EXPECT_EQ(j["per_problem"][0]["correct"], 1);
  EXPECT_FALSE(to_json(r).contains("per_problem"));
  EXPECT_EQ(to_json(std::vector<BenchmarkResult>{r, r2}).size(), 2u);
}

TEST(PassAtK, BootstrapOptionChangesOnlyTheInterval) {
  std::vector<ProblemSamples> problems;
  for (int i = 0; i < 30; ++i) problems.push_back({std::to_string(i), {"a", "b"}, {i % 3 == 0, i % 5 == 0}});
  EvalOptions normal, boot;
  boot.ci = CiMethod::Bootstrap;
  boot.bootstrap_seed = 3;
  const auto a = evaluate_samples("x", problems, normal), b = evaluate_samples("x", problems, boot);
  EXPECT_DOUBLE_EQ(a.metrics[0].value, b.metrics[0].value);
  EXPECT_NE(a.metrics[0].ci_low, b.metrics[0].ci_low);
}

}  // namespace r1::eval
