#include <algorithm>
#include <cstdio>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "data/arith_expr.h"
#include "data/countdown.h"
#include "data/linear_equation.h"
#include "data/tasks.h"
#include "support/error_of.h"

using ::testing::HasSubstr;

namespace r1::data {

namespace {

TaskOptions options(int count, uint64_t seed, TaskSplit split = TaskSplit::Train, int difficulty = 3) {
  TaskOptions o;
  o.count = count;
  o.seed = seed;
  o.split = split;
  o.difficulty = difficulty;
  return o;
}

std::vector<int64_t> numbers_of(const Problem& p) { return p.metadata["nums"].get<std::vector<int64_t>>(); }

// The test's own notion of "the same problem": Countdown is the same puzzle for any order of its numbers;
// the other tasks are identified by their prompt.
std::string identity(const Problem& p) {
  if (p.task != "countdown") return p.prompt;
  auto nums = numbers_of(p);
  std::sort(nums.begin(), nums.end());
  std::string s;
  for (auto x : nums) s += std::to_string(x) + " ";
  return s + "-> " + std::to_string(p.metadata["target"].get<int64_t>());
}

std::string error_of(const std::string& task, const TaskOptions& o) {
  return test::error_of([&] { generate_task(task, o); });
}

}  // namespace

TEST(Tasks, SameSeedGivesSameProblems) {
  for (const auto& task : task_names()) {
    const auto a = generate_task(task, options(100, 42)), b = generate_task(task, options(100, 42));
    ASSERT_EQ(a.size(), 100u);
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].prompt, b[i].prompt) << task;
      EXPECT_EQ(a[i].answer, b[i].answer) << task;
      EXPECT_EQ(a[i].metadata, b[i].metadata) << task;
      EXPECT_EQ(a[i].id, task + "/train/" + std::to_string(i));
      EXPECT_EQ(a[i].task, task);
    }
  }
}

TEST(Tasks, DifferentSeedGivesDifferentProblems) {
  for (const auto& task : task_names()) {
    const auto a = generate_task(task, options(100, 1)), b = generate_task(task, options(100, 2));
    int same = 0;
    for (size_t i = 0; i < a.size(); ++i) same += a[i].prompt == b[i].prompt;
    EXPECT_LT(same, 10) << task;
  }
}

TEST(Tasks, ShorterListIsPrefixOfLongerList) {
  for (const auto& task : task_names()) {
    const auto shortl = generate_task(task, options(50, 9, TaskSplit::HeldOut));
    const auto longl = generate_task(task, options(300, 9, TaskSplit::HeldOut));
    for (size_t i = 0; i < shortl.size(); ++i) EXPECT_EQ(shortl[i].prompt, longl[i].prompt) << task << " " << i;
  }
}

TEST(Tasks, TrainAndHeldOutNeverOverlap) {
  for (const auto& task : task_names()) {
    const int difficulty = task == "linear_equation" ? 4 : 3;
    // Different seeds on purpose: the split is a property of the problem, not of the seed.
    const auto train = generate_task(task, options(10000, 1, TaskSplit::Train, difficulty));
    const auto test = generate_task(task, options(1000, 2, TaskSplit::HeldOut, difficulty));
    std::set<std::string> train_ids, test_ids;
    for (const auto& p : train) train_ids.insert(identity(p));
    for (const auto& p : test) test_ids.insert(identity(p));
    EXPECT_EQ(train_ids.size(), train.size()) << task << ": duplicates inside train";
    EXPECT_EQ(test_ids.size(), test.size()) << task << ": duplicates inside held-out";
    int shared = 0;
    for (const auto& id : test_ids) shared += int(train_ids.count(id));
    EXPECT_EQ(shared, 0) << task;
  }
}

TEST(Tasks, CountdownTargetsAreReachableWithEveryNumberOnce) {
  for (int difficulty = 1; difficulty <= 5; ++difficulty) {
    const CountdownKnobs k = countdown_knobs(difficulty, nlohmann::json::object());
    for (const auto& p : generate_task("countdown", options(300, 7, TaskSplit::Train, difficulty))) {
      const auto nums = numbers_of(p);
      const int64_t target = p.metadata["target"].get<int64_t>();
      ASSERT_GE(int(nums.size()), k.min_numbers);
      ASSERT_LE(int(nums.size()), k.max_numbers);
      for (auto x : nums) ASSERT_TRUE(x >= 1 && x <= k.max_number) << x;
      ASSERT_TRUE(target >= 1 && target <= k.max_target) << target;
      // Exact rational evaluation of the stored answer, and the literals it uses are exactly the numbers.
      const auto v = evaluate_arithmetic(p.answer);
      ASSERT_TRUE(v.has_value()) << p.answer;
      EXPECT_EQ(v->value, (Rational{target, 1})) << p.answer << " = " << v->value.str() << " != " << target;
      auto used = v->literals, given = nums;
      std::sort(used.begin(), used.end());
      std::sort(given.begin(), given.end());
      EXPECT_EQ(used, given) << p.answer;
      EXPECT_TRUE(countdown_solution_valid(p.answer, nums, target));
      EXPECT_THAT(p.prompt, HasSubstr("equals " + std::to_string(target) + "."));
    }
  }
}

TEST(Tasks, CountdownCheckerRejectsReuseOmissionAndWrongValue) {
  const std::vector<int64_t> nums = {44, 19, 35};
  EXPECT_TRUE(countdown_solution_valid("44 + 19 + 35", nums, 98));
  EXPECT_TRUE(countdown_solution_valid("(35 + 19) + 44", nums, 98));
  EXPECT_FALSE(countdown_solution_valid("44 + 19 + 35", nums, 97));   // wrong value
  EXPECT_FALSE(countdown_solution_valid("44 + 54", nums, 98));        // numbers not used
  EXPECT_FALSE(countdown_solution_valid("44 + 44 + 10", nums, 98));   // reuse
  EXPECT_FALSE(countdown_solution_valid("44 + 19 + 35 + 0", nums, 98));  // extra literal
  EXPECT_TRUE(countdown_solution_valid("6 / (1 - 3 / 4)", {6, 1, 3, 4}, 24));  // needs exact fractions
}

TEST(Tasks, ArithmeticAnswersAreExact) {
  TaskOptions o = options(500, 3, TaskSplit::Train, 5);
  for (const auto& p : generate_task("arithmetic", o)) {
    long long a = 0, b = 0;
    char op = 0;
    ASSERT_EQ(std::sscanf(p.prompt.c_str(), "What is %lld %c %lld?", &a, &op, &b), 3) << p.prompt;
    const long long expected = op == '+' ? a + b : op == '-' ? a - b : op == '*' ? a * b : a / b;
    if (op == '/') {
      EXPECT_EQ(a % b, 0) << p.prompt;
    }
    EXPECT_EQ(p.answer, std::to_string(expected)) << p.prompt;
  }
}

TEST(Tasks, ArithmeticDigitsKnobBoundsOperands) {
  TaskOptions o = options(300, 5, TaskSplit::Train, 1);
  o.params = {{"min_digits", 4}, {"max_digits", 4}, {"ops", "+"}};
  for (const auto& p : generate_task("arithmetic", o)) {
    const int64_t a = p.metadata["a"], b = p.metadata["b"];
    EXPECT_TRUE(a >= 1000 && a <= 9999 && b >= 1000 && b <= 9999) << p.prompt;
    EXPECT_EQ(p.metadata["op"], "+");
  }
}

TEST(Tasks, LinearEquationSolutionsSatisfyTheEquation) {
  for (int difficulty = 1; difficulty <= 5; ++difficulty)
    for (const auto& p : generate_task("linear_equation", options(200, 11, TaskSplit::Train, difficulty))) {
      const int64_t a = p.metadata["a"], b = p.metadata["b"], c = p.metadata["c"];
      const int64_t x = std::stoll(p.answer);
      EXPECT_NE(a, 0);
      EXPECT_EQ(a * x + b, c) << p.prompt;
      EXPECT_EQ(p.prompt, "Solve for x: " + linear_equation_text(a, b, c) + ".");
      if (difficulty <= 2) {
        EXPECT_TRUE(a > 0 && b >= 0 && x >= 0) << p.prompt;
      }
      EXPECT_FALSE((a == 1 || a == -1) && b == 0) << "states its own answer: " << p.prompt;
    }
  EXPECT_EQ(linear_equation_text(3, -7, 8), "3x - 7 = 8");
  EXPECT_EQ(linear_equation_text(-1, 0, -4), "-x = -4");
}

TEST(Tasks, TooSmallProblemSpaceIsAnError) {
  TaskOptions o = options(200, 0, TaskSplit::Train, 1);
  o.params = {{"max_digits", 1}, {"ops", "+"}};  // only 100 distinct problems exist
  EXPECT_THAT(error_of("arithmetic", o), HasSubstr("requested"));
}

TEST(Tasks, BadKnobsAreRejectedByName) {
  TaskOptions o = options(5, 0);
  o.params = {{"max_nuber", 50}};
  EXPECT_THAT(error_of("countdown", o), HasSubstr("params.max_nuber"));
  o.params = {{"max_digits", "three"}};
  EXPECT_THAT(error_of("arithmetic", o), HasSubstr("params.max_digits"));
  o.params = {{"ops", "+^"}};
  EXPECT_THAT(error_of("arithmetic", o), HasSubstr("params.ops"));
  o.params = nlohmann::json::object();
  o.difficulty = 6;
  EXPECT_THAT(error_of("linear_equation", o), HasSubstr("difficulty"));
  EXPECT_THAT(error_of("sudoku", options(5, 0)), HasSubstr("countdown"));
}

TEST(Tasks, SplitNamesParse) {
  EXPECT_EQ(parse_split("train"), TaskSplit::Train);
  EXPECT_EQ(parse_split("test"), TaskSplit::HeldOut);
  EXPECT_EQ(parse_split(split_name(TaskSplit::HeldOut)), TaskSplit::HeldOut);
  EXPECT_THROW(parse_split("validation"), Error);
}

TEST(Tasks, ArithmeticEvaluatorIsExact) {
  const auto value = [](const char* s) {
    const auto v = evaluate_arithmetic(s);
    return v ? v->value.str() : std::string("invalid");
  };
  EXPECT_EQ(value("2 + 3 * 4"), "14");
  EXPECT_EQ(value("(2 + 3) * 4"), "20");
  EXPECT_EQ(value("7 / 2 * 2"), "7");
  EXPECT_EQ(value("1/3 + 1/3 + 1/3"), "1");
  EXPECT_EQ(value("10 - 4 - 3"), "3");  // left associative
  EXPECT_EQ(value("-(3 - 5) / 4"), "1/2");
  EXPECT_EQ(value("6 \xC3\x97 7 \xC3\xB7 2"), "21");  // × and ÷
  EXPECT_EQ(value("1 / 0"), "invalid");
  EXPECT_EQ(value("2 ** 3"), "invalid");
  EXPECT_EQ(value("1.5 + 1"), "invalid");
  EXPECT_EQ(value("(1 + 2"), "invalid");
  EXPECT_EQ(value("x + 1"), "invalid");
  EXPECT_EQ(value(""), "invalid");
  EXPECT_EQ(value("99999999999 * 99999999999"), "invalid");  // overflow, not a wrong number
  EXPECT_EQ(value(std::string(10000, '(').c_str()), "invalid");  // deep nesting does not crash
  const auto v = evaluate_arithmetic("(44 + 19) - 35");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->literals, (std::vector<int64_t>{44, 19, 35}));
}

}  // namespace r1::data
