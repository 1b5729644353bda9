// Language-consistency reward: share of the chain of thought's words in the target language's script.
#include <gtest/gtest.h>

#include "core/error.h"
#include "rewards/language_reward.h"

namespace r1::rewards {
namespace {

double score(const std::string& language, const std::string& completion) {
  LanguageReward::Options o;
  o.language = language;
  return LanguageReward(o).score({"", completion, "", nullptr}).score;
}

TEST(LanguageReward, PureEnglishAndPureChineseScoreOne) {
  EXPECT_DOUBLE_EQ(score("en", "<think>First we add the two numbers together.</think><answer>5</answer>"), 1.0);
  EXPECT_DOUBLE_EQ(score("zh", "<think>首先我们把两个数相加。</think><answer>5</answer>"), 1.0);
}

TEST(LanguageReward, WrongLanguageScoresZero) {
  EXPECT_DOUBLE_EQ(score("zh", "<think>First we add the two numbers together.</think>"), 0.0);
  EXPECT_DOUBLE_EQ(score("en", "<think>首先我们把两个数相加。</think>"), 0.0);
}

TEST(LanguageReward, MixedReasoningScoresTheShareOfTargetWords) {
  // 4 English words + 4 Han characters (each Han character is a word).
  const std::string mixed = "<think>we need to 计算这个 sum</think>";
  EXPECT_DOUBLE_EQ(score("en", mixed), 4.0 / 8.0);
  EXPECT_DOUBLE_EQ(score("zh", mixed), 4.0 / 8.0);
  const WordCounts c = count_words("hello 世界 world", scripts_of_language("en"));
  EXPECT_EQ(c.total, 4u);
  EXPECT_EQ(c.target, 2u);
}

TEST(LanguageReward, FormulasAndVariablesAreNotWords) {
  // Digits, operators and single-letter variables do not count against a Chinese CoT.
  EXPECT_DOUBLE_EQ(score("zh", "<think>设 x = 3，则 2x + 1 = 7，所以 y = x^2 = 9。</think>"), 1.0);
  const WordCounts c = count_words("x + y = 42, π r^2", scripts_of_language("en"));
  EXPECT_EQ(c.total, 0u);
}

TEST(LanguageReward, OnlyTheChainOfThoughtIsScored) {
  // The answer is in English but the CoT in Chinese: target zh scores 1.
  EXPECT_DOUBLE_EQ(score("zh", "<think>我们计算</think><answer>The answer is five</answer>"), 1.0);
  EXPECT_EQ(chain_of_thought("abc</think>rest", true), "abc");
  EXPECT_EQ(chain_of_thought("<think>abc", false), "abc");
  EXPECT_EQ(chain_of_thought("plain reasoning <answer>4</answer>", false), "plain reasoning ");
}

TEST(LanguageReward, AccentsAndOtherScriptsAreHandled) {
  EXPECT_DOUBLE_EQ(score("fr", "<think>déjà vu, café crème</think>"), 1.0);
  EXPECT_DOUBLE_EQ(score("ru", "<think>сначала сложим числа</think>"), 1.0);
  EXPECT_DOUBLE_EQ(score("en", "<think>сначала сложим числа</think>"), 0.0);
  EXPECT_DOUBLE_EQ(score("ja", "<think>まず数を足します</think>"), 1.0);
}

TEST(LanguageReward, EmptyReasoningGetsTheEmptyScore) {
  EXPECT_DOUBLE_EQ(score("en", "<think>  12 + 3 = 15 </think>"), 0.0);
}

TEST(LanguageReward, MetadataLanguageOverridesTheTarget) {
  LanguageReward r(LanguageReward::Options{});
  EXPECT_DOUBLE_EQ(r.score({"", "<think>我们计算</think>", "", {{"language", "zh"}}}).score, 1.0);
  EXPECT_DOUBLE_EQ(r.score({"", "<think>我们计算</think>", "", nullptr}).score, 0.0);
}

TEST(LanguageReward, UnknownLanguageIsAnError) { EXPECT_THROW(scripts_of_language("klingon"), Error); }

TEST(LanguageReward, MalformedUtf8DoesNotCrash) {
  const std::string bad = std::string("<think>abc \xff\xfe def \xe4\xb8") + "</think>";
  EXPECT_DOUBLE_EQ(score("en", bad), 1.0);
}

}  // namespace
}  // namespace r1::rewards
