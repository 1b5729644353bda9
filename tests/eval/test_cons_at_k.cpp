#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "eval/majority_vote.h"
#include "eval/results.h"

namespace r1::eval {

namespace {

// Hand-made equivalence for the tests: these spellings of one half are one answer; otherwise strings.
bool half_aware(std::string_view a, std::string_view b) {
  static const std::map<std::string_view, std::string_view> canon = {
      {"0.5", "1/2"}, {"\\frac{1}{2}", "1/2"}, {".5", "1/2"}, {"1/2", "1/2"}};
  const auto c = [&](std::string_view s) {
    const auto it = canon.find(s);
    return it == canon.end() ? s : it->second;
  };
  return c(a) == c(b);
}

}  // namespace

TEST(ConsAtK, MajorityAnswerWins) {
  const std::vector<std::string> answers = {"3", "4", "3"};
  EXPECT_TRUE(cons_at_k(answers, {true, false, true}, exact_equivalence));
  EXPECT_FALSE(cons_at_k({"4", "3", "4"}, {false, true, false}, exact_equivalence));
  const VoteResult v = majority_vote(answers, exact_equivalence);
  EXPECT_EQ(v.class_sizes, (std::vector<int>{2, 1}));
  EXPECT_EQ(v.winner_sample(), 0);
}

TEST(ConsAtK, TieGoesToEarliestFirstOccurrence) {
  // "4" and "3" have two votes each; "4" appeared first.
  EXPECT_FALSE(cons_at_k({"4", "3", "3", "4"}, {false, true, true, false}, exact_equivalence));
  EXPECT_TRUE(cons_at_k({"3", "4", "4", "3"}, {true, false, false, true}, exact_equivalence));
  // Three-way tie of singletons: the first sample's answer.
  const VoteResult v = majority_vote({"9", "8", "7"}, exact_equivalence);
  EXPECT_EQ(v.winner_sample(), 0);
  // A later, larger class beats an earlier, smaller one.
  EXPECT_EQ(majority_vote({"1", "2", "2"}, exact_equivalence).winner_sample(), 1);
}

TEST(ConsAtK, EquivalentSpellingsVoteTogether) {
  const std::vector<std::string> answers = {"0.5", "1/3", "\\frac{1}{2}", "1/3", "1/2"};
  const std::vector<bool> correct = {true, false, true, false, true};
  // By string, "1/3" (2 votes) beats three different spellings of 1/2; grouped, 1/2 has 3 votes.
  EXPECT_FALSE(cons_at_k(answers, correct, exact_equivalence));
  EXPECT_TRUE(cons_at_k(answers, correct, half_aware));
  const VoteResult v = majority_vote(answers, half_aware);
  EXPECT_EQ(v.class_of, (std::vector<int>{0, 1, 0, 1, 0}));
  EXPECT_EQ(v.representatives, (std::vector<int>{0, 1}));
}

TEST(ConsAtK, EmptyAnswersCastNoVote) {
  EXPECT_TRUE(cons_at_k({"", "", "", "7"}, {false, false, false, true}, exact_equivalence));
  EXPECT_FALSE(cons_at_k({"", "", ""}, {false, false, false}, exact_equivalence));
  EXPECT_EQ(majority_vote({"", ""}, exact_equivalence).winner_sample(), -1);
}

TEST(ConsAtK, UsesOnlyTheFirstKSamples) {
  const std::vector<std::string> answers = {"1", "2", "2", "1", "1"};
  const std::vector<bool> correct = {true, false, false, true, true};
  EXPECT_FALSE(cons_at_k(answers, correct, exact_equivalence, 3));  // "2" leads 2-1
  EXPECT_TRUE(cons_at_k(answers, correct, exact_equivalence, 5));   // "1" leads 3-2
  EXPECT_TRUE(cons_at_k(answers, correct, exact_equivalence, 1));
  EXPECT_THROW(cons_at_k(answers, correct, exact_equivalence, 6), Error);
  EXPECT_THROW(cons_at_k(answers, {true}, exact_equivalence), Error);
}

TEST(ConsAtK, BenchmarkConsIsMeanOfPerProblemVotes) {
  const std::vector<ProblemSamples> problems = {
      {"a", {"0.5", "1/3", "\\frac{1}{2}", "1/3"}, {true, false, true, false}},  // tie 2-2 -> "0.5" first: right
      {"b", {"7", "8", "8", ""}, {true, false, false, false}},                    // "8" wins: wrong
      {"c", {"", "", "", ""}, {false, false, false, false}},                      // no votes: wrong
      {"d", {"5", "5", "6", "5"}, {true, true, false, true}},                     // right
  };
  EvalOptions o;
  o.pass_ks = {1};
  o.cons_ks = {4, 2};
  o.equivalent = half_aware;
  const BenchmarkResult r = evaluate_samples("hand", problems, o);
  EXPECT_DOUBLE_EQ(r.metric("cons@4")->value, 0.5);
  // First two samples: a -> "0.5" (tie, first) right; b -> "7" (tie, first) right; c wrong; d right.
  EXPECT_DOUBLE_EQ(r.metric("cons@2")->value, 0.75);
  EXPECT_DOUBLE_EQ(r.metric("pass@1")->value, (0.5 + 0.25 + 0 + 0.75) / 4);
  EXPECT_EQ(r.per_problem[1].scores, (std::vector<double>{0.25, 0.0, 1.0}));
}

}  // namespace r1::eval
