// "format": does the completion follow the R1 template <think> reasoning </think> <answer> answer </answer>?
//   strict: the whole completion (surrounding whitespace aside) is ^<think>.*</think>\s*<answer>.*</answer>$
//           with each of the four tags exactly once (the R1 format reward, open-r1's format_reward without
//           its newline requirements) -> 1, else 0.
//   soft:   partial credit for partial structure: 0.2 for each tag that appears exactly once, plus 0.2 when the
//           strict check passes, so soft == 1 exactly when strict == 1 (cf. TRL/open-r1 tag_count_reward).
// think_prefilled: the chat template already opened <think> in the prompt (R1-distill templates, TinyZero's
// "Assistant: Let me solve this step by step.\n<think>"), so the completion starts inside the reasoning and
// must not open <think> again; it is checked as "<think>" + completion.
// Hand-written scanning rather than std::regex: completions run to tens of thousands of characters and
// std::regex's backtracking recurses per character.
#pragma once
#include <memory>
#include <string_view>

#include "rewards/reward.h"

namespace r1::rewards {

struct FormatOptions {
  bool soft = false;
  bool think_prefilled = false;
};

// The strict check; on failure `reason` (when given) says what is wrong.
bool has_strict_format(std::string_view completion, bool think_prefilled, std::string* reason = nullptr);

class FormatReward : public Reward {
 public:
  explicit FormatReward(FormatOptions options = {}) : options_(options) {}
  std::string name() const override { return "format"; }
  RewardResult score(const RewardInput& input) const override;

 private:
  FormatOptions options_;
};

// params: mode (strict | soft, default strict), think_prefilled (bool, default false)
std::unique_ptr<Reward> make_format_reward(RewardParams& params);

}  // namespace r1::rewards
