// Format reward: strict and soft checks of the <think>/<answer> template (see format_reward.h).
#include "rewards/format_reward.h"

#include <array>
#include <cstdio>
#include <string>

namespace r1::rewards {

namespace {

constexpr std::array<std::string_view, 4> kTags = {"<think>", "</think>", "<answer>", "</answer>"};

size_t count_of(std::string_view text, std::string_view tag) {
  size_t n = 0;
  for (size_t at = text.find(tag); at != std::string_view::npos; at = text.find(tag, at + tag.size())) ++n;
  return n;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string checked_text(std::string_view completion, bool think_prefilled) {
  return think_prefilled ? "<think>" + std::string(completion) : std::string(completion);
}

}  // namespace

bool has_strict_format(std::string_view completion, bool think_prefilled, std::string* reason) {
  auto fail = [&](std::string why) {
    if (reason) *reason = std::move(why);
    return false;
  };
  const std::string full = checked_text(completion, think_prefilled);
  const std::string_view text = trimmed(full);
  for (std::string_view tag : kTags) {
    const size_t n = count_of(text, tag);
    if (n != 1) {
      std::string why(1, '\'');  // built piecewise: GCC 12 warns falsely (-Wrestrict) on "lit" + string
      why.append(tag).append("' appears ").append(std::to_string(n)).append(" times");
      return fail(why);
    }
  }
  const size_t think_close = text.find("</think>"), answer_open = text.find("<answer>");
  if (text.find("<think>") != 0) return fail("text before <think>");
  if (text.size() < 9 || text.find("</answer>") != text.size() - 9) return fail("text after </answer>");
  if (!(think_close < answer_open)) return fail("tags out of order");
  const size_t gap_begin = think_close + 8;
  if (!trimmed(text.substr(gap_begin, answer_open - gap_begin)).empty()) return fail("text between </think> and <answer>");
  if (reason) *reason = "well formatted";
  return true;
}

RewardResult FormatReward::score(const RewardInput& input) const {
  std::string why;
  const bool strict = has_strict_format(input.completion, options_.think_prefilled, &why);
  if (!options_.soft) return {strict ? 1.0 : 0.0, why};
  const std::string text = checked_text(input.completion, options_.think_prefilled);
  int once = 0;
  for (std::string_view tag : kTags) once += count_of(text, tag) == 1 ? 1 : 0;
  const double score = 0.2 * once + (strict ? 0.2 : 0.0);
  return {score, strict ? why : std::to_string(once) + "/4 tags once; " + why};
}

std::unique_ptr<Reward> make_format_reward(RewardParams& params) {
  FormatOptions o;
  o.soft = params.get_choice("mode", "strict", {"strict", "soft"}) == "soft";
  o.think_prefilled = params.get_bool("think_prefilled", false);
  return std::make_unique<FormatReward>(o);
}

}  // namespace r1::rewards
