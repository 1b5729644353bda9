// "countdown": the Countdown task reward of TinyZero (shared/guide/verifier-anchors.md §7). The completion's
// last <answer>...</answer> must hold an arithmetic expression over the given numbers with + - * / and
// parentheses only, using each given number exactly once, whose value equals the target:
//   no <answer>                                   -> 0
//   illegal characters, bad syntax, a number reused or missing, division by zero, wrong value -> format_score (0.1)
//   correct                                       -> correct_score (1)
// The expression is parsed and evaluated here in exact rational arithmetic (no eval(), no floating point), so
// (1 + 2) / 3 == 1 exactly and 7 / 3 * 3 == 7. Differences from TinyZero's Python eval, on purpose: '**' and
// decimals ("3.5") are rejected; unary minus is allowed (eval allows it). TinyZero also only looks at the last
// line of the response; we take the last <answer> anywhere, which differs only for answers split over lines.
// Task data: metadata {"target": 24, "nums": [3, 8, 1, 1]}, or the reference as that JSON object.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rewards/reward.h"

namespace r1::rewards {

struct CountdownCheck {
  enum class Status { NoAnswer, IllegalCharacters, SyntaxError, WrongNumbers, DivisionByZero, WrongValue, Correct };
  Status status = Status::NoAnswer;
  std::string expression;  // the extracted answer
  std::string detail;      // human-readable reason
};

// Checks `expression` (the text inside <answer>) against the task.
CountdownCheck check_countdown_expression(std::string_view expression, const std::vector<int64_t>& nums, int64_t target);
// Extracts the last <answer> block of `completion` and checks it.
CountdownCheck check_countdown(std::string_view completion, const std::vector<int64_t>& nums, int64_t target);

class CountdownReward : public Reward {
 public:
  struct Options {
    double correct_score = 1.0, format_score = 0.1;
  };
  CountdownReward() = default;
  explicit CountdownReward(Options options) : options_(options) {}
  std::string name() const override { return "countdown"; }
  RewardResult score(const RewardInput& input) const override;

 private:
  Options options_;
};

// params: correct_score (default 1), format_score (default 0.1)
std::unique_ptr<Reward> make_countdown_reward(RewardParams& params);

}  // namespace r1::rewards
