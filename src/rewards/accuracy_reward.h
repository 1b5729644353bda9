// "accuracy": the rule-based math reward of the R1 recipe — 1 when the completion's final answer is equivalent
// to the reference (r1::rewards::verify_math: <answer> block, \boxed{}, "the answer is", "#### N"), else 0.
// Params: correct (score for a right answer, default 1), wrong (default 0), no_answer (score when nothing could
// be extracted, default = wrong) — e.g. DAPO's +1/-1 scheme is {correct: 1, wrong: -1}.
#pragma once
#include <memory>

#include "rewards/reward.h"

namespace r1::rewards {

class AccuracyReward : public Reward {
 public:
  struct Options {
    double correct = 1.0, wrong = 0.0, no_answer = 0.0;
  };
  AccuracyReward() = default;
  explicit AccuracyReward(Options options) : options_(options) {}
  std::string name() const override { return "accuracy"; }
  RewardResult score(const RewardInput& input) const override;

 private:
  Options options_;
};

std::unique_ptr<Reward> make_accuracy_reward(RewardParams& params);

}  // namespace r1::rewards
