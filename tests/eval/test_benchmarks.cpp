#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "data/tasks.h"
#include "eval/benchmarks.h"
#include "eval/judge.h"

using ::testing::HasSubstr;

namespace r1::eval {

namespace {
const std::string kData = R1_SHARED_DATA_DIR;
}

TEST(Benchmarks, BuiltInBenchmarksHaveTheirPublishedSizes) {
  const std::vector<std::pair<std::string, size_t>> sizes = {
      {"gsm8k", 1319}, {"math500", 500}, {"aime24", 30}, {"aime25", 30}, {"aime", 60},
      {"humaneval", 164}, {"mbpp", 500}, {"mbpp-sanitized", 427}};
  for (const auto& [name, size] : sizes) EXPECT_EQ(load_benchmark(name, kData).size(), size) << name;
  const auto mbpp = load_benchmark("mbpp", kData);
  EXPECT_EQ(mbpp.front().id, "11");
  EXPECT_EQ(mbpp.back().id, "510");
}

TEST(Benchmarks, SyntheticBenchmarksAreHeldOut) {
  SyntheticBenchmark s;
  s.count = 50;
  s.seed = 4;
  const auto problems = load_benchmark("countdown", kData, s);
  ASSERT_EQ(problems.size(), 50u);
  EXPECT_EQ(problems[0].id, "countdown/heldout/0");
  EXPECT_THAT(benchmark_names(), ::testing::Contains("linear_equation"));
  EXPECT_THROW(benchmark_spec("gsm9k"), Error);
}

TEST(ConsAtK, JudgedMathSamplesVoteByVerifiedEquivalence) {
  data::Problem p;
  p.id = "half";
  p.task = "math500";
  p.answer = "\\frac{1}{2}";
  const auto s = judge_samples(p, {"<answer>0.5</answer>", "<answer>1/3</answer>", "\\boxed{\\frac12}",
                                   "<answer>1/3</answer>", "I give up"});
  EXPECT_EQ(s.correct, (std::vector<bool>{true, false, true, false, false}));
  EXPECT_EQ(s.answers[4], "");
  EXPECT_TRUE(cons_at_k(s.answers, s.correct, equivalence_for("math500")));  // 0.5 ~ \frac12: 2 votes, tie, first
  EXPECT_FALSE(cons_at_k(s.answers, s.correct, exact_equivalence, 4));      // by string "1/3" has the most votes
}

TEST(ConsAtK, JudgedCountdownSamplesUseTheStoredTask) {
  data::TaskOptions o;
  o.count = 5;
  for (const auto& p : data::generate_task("countdown", o)) {
    const auto s = judge_samples(p, {"<answer>" + p.answer + "</answer>", "<answer>1 + 1</answer>", "nothing"});
    EXPECT_EQ(s.correct, (std::vector<bool>{true, false, false})) << p.prompt << " / " << p.answer;
  }
  data::Problem code;
  code.task = "humaneval";
  EXPECT_THROW(judge_completion(code, "def f(): pass"), Error);
}

}  // namespace r1::eval
