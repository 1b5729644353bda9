// The math accuracy reward: a thin wrapper over verify_math (see accuracy_reward.h).
#include "rewards/accuracy_reward.h"

#include "rewards/math_verifier.h"

namespace r1::rewards {

RewardResult AccuracyReward::score(const RewardInput& input) const {
  const MathVerdict verdict = verify_math(input.completion, input.reference);
  if (!verdict.extracted) return {options_.no_answer, verdict.reason.empty() ? "no answer" : verdict.reason};
  return {verdict.correct ? options_.correct : options_.wrong, verdict.reason};
}

std::unique_ptr<Reward> make_accuracy_reward(RewardParams& params) {
  AccuracyReward::Options o;
  o.correct = params.get_number("correct", 1.0);
  o.wrong = params.get_number("wrong", 0.0);
  o.no_answer = params.get_number("no_answer", o.wrong);
  return std::make_unique<AccuracyReward>(o);
}

}  // namespace r1::rewards
