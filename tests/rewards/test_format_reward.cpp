// Format reward: strict template check and soft partial credit.
#include <gtest/gtest.h>

#include "rewards/format_reward.h"

namespace r1::rewards {
namespace {

double strict(const std::string& completion, bool prefilled = false) {
  return FormatReward(FormatOptions{false, prefilled}).score({"", completion, "", nullptr}).score;
}
double soft(const std::string& completion, bool prefilled = false) {
  return FormatReward(FormatOptions{true, prefilled}).score({"", completion, "", nullptr}).score;
}

TEST(FormatReward, StrictAcceptsTheTemplate) {
  EXPECT_EQ(strict("<think>2+2 is 4</think><answer>4</answer>"), 1.0);
  EXPECT_EQ(strict("<think>\nreasoning\n</think>\n<answer>\n4\n</answer>"), 1.0);
  EXPECT_EQ(strict("  <think>a</think> \n\t <answer>b</answer>\n"), 1.0);  // surrounding whitespace
  EXPECT_EQ(strict("<think></think><answer></answer>"), 1.0);
}

TEST(FormatReward, StrictRejectsEverythingElse) {
  EXPECT_EQ(strict("The answer is 4."), 0.0);
  EXPECT_EQ(strict("<think>a</think>"), 0.0);                                        // no answer
  EXPECT_EQ(strict("<answer>4</answer>"), 0.0);                                      // no think
  EXPECT_EQ(strict("Sure! <think>a</think><answer>4</answer>"), 0.0);                // text before
  EXPECT_EQ(strict("<think>a</think><answer>4</answer> Hope this helps"), 0.0);      // text after
  EXPECT_EQ(strict("<think>a</think> so <answer>4</answer>"), 0.0);                  // text between
  EXPECT_EQ(strict("<answer>4</answer><think>a</think>"), 0.0);                      // order
  EXPECT_EQ(strict("<think>a<think>b</think><answer>4</answer>"), 0.0);              // tag twice
  EXPECT_EQ(strict("<think>a</think><answer>4</answer><answer>5</answer>"), 0.0);    // answer twice
  EXPECT_EQ(strict("<think>a</think><answer>4</answer></think>"), 0.0);
  EXPECT_EQ(strict("<think>a <answer>4</answer></think>"), 0.0);
}

TEST(FormatReward, StrictReasonNamesTheProblem) {
  std::string why;
  EXPECT_FALSE(has_strict_format("<think>a</think><answer>4</answer> ok", false, &why));
  EXPECT_EQ(why, "text after </answer>");
  EXPECT_FALSE(has_strict_format("<think>a</think>", false, &why));
  EXPECT_EQ(why, "'<answer>' appears 0 times");
}

TEST(FormatReward, ThinkPrefilledCompletionStartsInsideTheReasoning) {
  EXPECT_EQ(strict("reasoning here</think>\n<answer>4</answer>", true), 1.0);
  EXPECT_EQ(strict("reasoning here</think>\n<answer>4</answer>", false), 0.0);
  // Opening <think> again after the template opened it is a second tag.
  EXPECT_EQ(strict("<think>reasoning</think><answer>4</answer>", true), 0.0);
}

TEST(FormatReward, SoftGivesPartialCreditPerTag) {
  EXPECT_DOUBLE_EQ(soft("no tags at all"), 0.0);
  EXPECT_DOUBLE_EQ(soft("<think>a</think> no answer"), 0.4);
  EXPECT_DOUBLE_EQ(soft("<think>a</think><answer>4"), 0.6);
  EXPECT_DOUBLE_EQ(soft("x <think>a</think><answer>4</answer>"), 0.8);  // all tags once, but text before
  EXPECT_DOUBLE_EQ(soft("<think>a</think><answer>4</answer>"), 1.0);
  EXPECT_DOUBLE_EQ(soft("<think>a</think><think>b</think><answer>4</answer>"), 0.4);  // duplicated tags earn nothing
}

TEST(FormatReward, SoftIsOneExactlyWhenStrictIsOne) {
  const char* cases[] = {"<think>a</think><answer>4</answer>", "x<think>a</think><answer>4</answer>",
                         "<answer>4</answer><think>a</think>", "<think>a</think>b<answer>4</answer>",
                         "<think>a</think>\n<answer>4</answer>\n", ""};
  for (const char* c : cases) EXPECT_EQ(soft(c) == 1.0, strict(c) == 1.0) << c;
}

}  // namespace
}  // namespace r1::rewards
