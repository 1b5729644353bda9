// Countdown reward (TinyZero rules) with exact rational evaluation.
#include <gtest/gtest.h>

#include "core/error.h"
#include "rewards/countdown_reward.h"

namespace r1::rewards {
namespace {

using S = CountdownCheck::Status;

S check(const std::string& expr, std::vector<int64_t> nums, int64_t target) {
  return check_countdown_expression(expr, nums, target).status;
}

double reward(const std::string& completion, const nlohmann::json& task) {
  return CountdownReward().score({"", completion, "", task}).score;
}

TEST(Countdown, CorrectExpressionsScoreOne) {
  EXPECT_EQ(check("(1 + 2) / 3", {1, 2, 3}, 1), S::Correct);
  EXPECT_EQ(check("(6 - 2) * (3 + 3)", {6, 2, 3, 3}, 24), S::Correct);
  EXPECT_EQ(check("7 / 3 * 3", {7, 3, 3}, 7), S::Correct);  // exact rationals: no 6.9999
  EXPECT_EQ(check("8 / (3 - 8 / 3)", {8, 3, 8, 3}, 24), S::Correct);
  EXPECT_EQ(check("-(2 - 7) * 5", {2, 7, 5}, 25), S::Correct);
  const nlohmann::json task = {{"target", 24}, {"nums", {4, 6, 1}}};
  EXPECT_DOUBLE_EQ(reward("<think>try 4*6</think>\n<answer> 4 * 6 * 1 </answer>", task), 1.0);
}

TEST(Countdown, WrongValueGetsTheFormatScore) {
  EXPECT_EQ(check("1 + 2 + 3", {1, 2, 3}, 7), S::WrongValue);
  EXPECT_EQ(check("7 / 2", {7, 2}, 3), S::WrongValue);  // 7/2 is not 3 (no integer division)
  EXPECT_DOUBLE_EQ(reward("<answer>1 + 2 + 3</answer>", {{"target", 7}, {"nums", {1, 2, 3}}}), 0.1);
}

TEST(Countdown, EachNumberExactlyOnce) {
  EXPECT_EQ(check("3 * 3 + 1", {3, 1, 2}, 10), S::WrongNumbers);    // 3 reused, 2 unused
  EXPECT_EQ(check("3 * 2", {3, 1, 2}, 6), S::WrongNumbers);         // 1 missing
  EXPECT_EQ(check("32 + 1", {3, 2, 1}, 33), S::WrongNumbers);       // digits glued into another number
  EXPECT_EQ(check("3 + 2 + 1 + 4", {3, 2, 1}, 10), S::WrongNumbers);  // number not given
  EXPECT_EQ(check("3 * 3", {3, 3}, 9), S::Correct);                 // duplicates given twice may be used twice
}

TEST(Countdown, IllegalCharactersAndSyntax) {
  EXPECT_EQ(check("2 ** 3", {2, 3}, 8), S::SyntaxError);
  EXPECT_EQ(check("__import__('os')", {1}, 1), S::IllegalCharacters);
  EXPECT_EQ(check("2 x 3", {2, 3}, 6), S::IllegalCharacters);
  EXPECT_EQ(check("2 = 2", {2}, 2), S::IllegalCharacters);
  EXPECT_EQ(check("(2 + 3", {2, 3}, 5), S::SyntaxError);
  EXPECT_EQ(check("2 + ", {2}, 2), S::SyntaxError);
  EXPECT_EQ(check("2.5 * 2", {2, 5, 2}, 5), S::SyntaxError);
  EXPECT_EQ(check("", {2}, 2), S::SyntaxError);
  EXPECT_EQ(check("4 / (2 - 2)", {4, 2, 2}, 1), S::DivisionByZero);
  EXPECT_EQ(check("99999999999999999999999 - 99999999999999999999999", {1}, 0), S::SyntaxError);
  EXPECT_EQ(check(std::string(500, '(') + "1" + std::string(500, ')'), {1}, 1), S::SyntaxError);  // too deep
}

TEST(Countdown, LastAnswerBlockCountsAndMissingAnswerScoresZero) {
  const nlohmann::json task = {{"target", 5}, {"nums", {2, 3}}};
  EXPECT_DOUBLE_EQ(reward("<answer>2 * 3</answer> no wait <answer>2 + 3</answer>", task), 1.0);
  EXPECT_DOUBLE_EQ(reward("<answer>2 + 3</answer> no wait <answer>2 * 3</answer>", task), 0.1);
  EXPECT_DOUBLE_EQ(reward("2 + 3 = 5", task), 0.0);
  EXPECT_DOUBLE_EQ(reward("<answer>2 + 3", task), 0.0);
}

TEST(Countdown, TaskComesFromMetadataOrReference) {
  CountdownReward r;
  EXPECT_DOUBLE_EQ(r.score({"", "<answer>2+3</answer>", R"({"target": 5, "nums": [3, 2]})", nullptr}).score, 1.0);
  EXPECT_THROW(r.score({"", "<answer>2+3</answer>", "5", nullptr}), Error);
  EXPECT_THROW(r.score({"", "<answer>2+3</answer>", "", {{"target", 5}, {"nums", "2,3"}}}), Error);
}

}  // namespace
}  // namespace r1::rewards
