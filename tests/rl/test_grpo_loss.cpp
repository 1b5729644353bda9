#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/rng.h"
#include "rl/advantages.h"
#include "rl/grpo_loss.h"

using namespace r1;
using namespace r1::rl;

namespace {

template <typename T>
std::vector<T> vec(const nlohmann::json& j) {
  return j.get<std::vector<T>>();
}

}  // namespace

// The loss and its per-token gradients equal an independent PyTorch (float64 autograd) implementation of the
// same formulas, for every variant and aggregation mode: bench/reference/grpo_reference.py wrote the fixture.
TEST(GrpoLoss, MatchesPyTorchReferenceForEveryVariantAndAggregation) {
  const std::string path = std::string(R1_FIXTURES_DIR) + "/rl/grpo_reference.json";
  std::ifstream f(path);
  if (!f) GTEST_SKIP() << "fixture not generated yet: " << path;
  const auto doc = nlohmann::json::parse(f);
  int n_cases = 0;
  for (const auto& c : doc["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    // Advantages from the group rewards.
    AdvantageConfig ac;
    ac.divide_by_std = c["divide_by_std"];
    const auto adv = group_advantages(c["rewards"].get<std::vector<std::vector<double>>>(), ac);
    const auto want_adv = c["advantages"].get<std::vector<std::vector<double>>>();
    for (size_t g = 0; g < adv.size(); g++)
      for (size_t i = 0; i < adv[g].size(); i++) EXPECT_NEAR(adv[g][i], want_adv[g][i], 1e-9);

    PolicyLossInput in;
    in.logp = vec<float>(c["logp"]);
    in.logp_old = vec<float>(c["logp_old"]);
    in.logp_ref = vec<float>(c["logp_ref"]);
    in.entropy = vec<float>(c["entropy"]);
    in.advantage = vec<float>(c["advantage"]);
    in.seq = vec<int32_t>(c["seq"]);
    in.num_seqs = c["num_seqs"];
    const auto& cc = c["config"];
    PolicyLossConfig cfg;
    cfg.eps_low = cc["eps_low"];
    cfg.eps_high = cc["eps_high"];
    cfg.beta = cc["beta"];
    cfg.entropy_coef = cc["entropy_coef"];
    cfg.aggregation = parse_aggregation(cc["aggregation"]);
    cfg.max_len = cc["max_len"];
    const auto out = policy_loss(in, cfg);
    EXPECT_NEAR(out.loss, c["loss"].get<double>(), 1e-6);
    const auto dlogp = vec<double>(c["dlogp"]);
    const auto dent = vec<double>(c["dentropy"]);
    for (size_t t = 0; t < dlogp.size(); t++) EXPECT_NEAR(out.dlogp[t], dlogp[t], 1e-6) << "token " << t;
    if (cfg.entropy_coef != 0) {
      for (size_t t = 0; t < dent.size(); t++) EXPECT_NEAR(out.dentropy[t], dent[t], 1e-6) << "token " << t;
    }
    n_cases++;
  }
  EXPECT_EQ(n_cases, 16);
}

// Independent of the fixture: the analytic gradient equals central differences of the loss itself.
TEST(GrpoLoss, GradientMatchesFiniteDifferences) {
  Philox rng(3, 0);
  for (Aggregation agg : {Aggregation::SeqMeanTokenMean, Aggregation::TokenMean, Aggregation::SeqMeanTokenSum,
                          Aggregation::SeqMeanTokenSumNorm}) {
    PolicyLossInput in;
    in.num_seqs = 5;
    for (int s = 0; s < in.num_seqs; s++) {
      const int len = 1 + int(rng.below(6));
      const float a = rng.normal();
      for (int t = 0; t < len; t++) {
        in.seq.push_back(s);
        in.advantage.push_back(a);
        const float old = -2.0f * rng.uniform();
        in.logp_old.push_back(old);
        in.logp.push_back(old + 0.05f * rng.normal());  // ratios near 1: away from the clip's kinks
        in.logp_ref.push_back(old + 0.3f * rng.normal());
        in.entropy.push_back(rng.uniform());
      }
    }
    PolicyLossConfig cfg;
    cfg.beta = 0.1;
    cfg.entropy_coef = 0.01;
    cfg.eps_low = cfg.eps_high = 0.5;
    cfg.aggregation = agg;
    cfg.max_len = 8;
    const auto out = policy_loss(in, cfg);
    for (size_t t = 0; t < in.logp.size(); t++) {
      const float h = 1e-2f;
      auto shifted = in;
      shifted.logp[t] += h;
      const double up = policy_loss(shifted, cfg).loss;
      shifted.logp[t] -= 2 * h;
      const double down = policy_loss(shifted, cfg).loss;
      EXPECT_NEAR(out.dlogp[t], (up - down) / (2 * h), 2e-4) << aggregation_name(agg) << " token " << t;
    }
  }
}

TEST(GrpoLoss, ClippedTokensCarryNoGradient) {
  PolicyLossInput in;
  in.num_seqs = 2;
  in.seq = {0, 1};
  in.logp_old = {-1.0f, -1.0f};
  in.logp = {-1.0f + 0.5f, -1.0f - 0.5f};  // ratios e^0.5 and e^-0.5: both outside [0.8, 1.2]
  in.advantage = {1.0f, -1.0f};            // pushing further out on each side: clipped
  PolicyLossConfig cfg;
  const auto out = policy_loss(in, cfg);
  EXPECT_EQ(out.dlogp[0], 0.0f);
  EXPECT_EQ(out.dlogp[1], 0.0f);
  EXPECT_DOUBLE_EQ(out.clip_fraction, 1.0);
  in.advantage = {-1.0f, 1.0f};  // pulling back toward the trust region: not clipped
  const auto back = policy_loss(in, cfg);
  EXPECT_LT(back.dlogp[1], 0.0f);
  EXPECT_GT(back.dlogp[0], 0.0f);
  EXPECT_DOUBLE_EQ(back.clip_fraction, 0.0);
}

TEST(Advantages, GroupNormalisationAndDegenerateGroups) {
  const auto a = group_advantages({{1, 0, 0, 1}, {2, 2, 2}, {5}}, AdvantageConfig{});
  const double sd = std::sqrt(1.0 / 3.0);  // Bessel std of {1,0,0,1}
  EXPECT_NEAR(a[0][0], 0.5 / (sd + 1e-6), 1e-12);
  EXPECT_NEAR(a[0][1], -0.5 / (sd + 1e-6), 1e-12);
  for (double v : a[1]) EXPECT_EQ(v, 0.0);
  EXPECT_EQ(a[2][0], 0.0);
  const auto dr = group_advantages({{1, 0, 0, 1}}, AdvantageConfig{false, 1e-6});
  EXPECT_DOUBLE_EQ(dr[0][0], 0.5);
  EXPECT_TRUE(group_is_degenerate({1, 1, 1}));
  EXPECT_FALSE(group_is_degenerate({1, 1, 0}));
}

TEST(Advantages, OverlongPenaltyRampsToMinusOne) {
  EXPECT_EQ(overlong_penalty(80, 100, 20), 0.0);
  EXPECT_DOUBLE_EQ(overlong_penalty(90, 100, 20), -0.5);
  EXPECT_DOUBLE_EQ(overlong_penalty(100, 100, 20), -1.0);
  EXPECT_DOUBLE_EQ(overlong_penalty(130, 100, 20), -1.0);
}

TEST(GrpoLoss, RejectsUnknownAggregationAndMissingMaxLen) {
  EXPECT_THROW(parse_aggregation("mean"), Error);
  PolicyLossInput in;
  in.num_seqs = 1;
  in.seq = {0};
  in.logp = in.logp_old = in.advantage = {0.0f};
  PolicyLossConfig cfg;
  cfg.aggregation = Aggregation::SeqMeanTokenSumNorm;
  EXPECT_THROW(policy_loss(in, cfg), Error);
}
