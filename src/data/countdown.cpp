#include "data/countdown.h"

#include <algorithm>
#include <optional>

#include "core/error.h"
#include "data/arith_expr.h"
#include "data/task_generator.h"
#include "data/task_params.h"

namespace r1::data {

namespace {

struct Node {
  Rational value;
  std::string text;
  bool leaf = true;
};

std::string operand_text(const Node& n) { return n.leaf ? n.text : "(" + n.text + ")"; }

// A random binary tree over numbers[lo, hi): a random split point, a random operator at each inner node.
std::optional<Node> random_tree(Philox& rng, const std::vector<int64_t>& numbers, size_t lo, size_t hi) {
  if (hi - lo == 1) return Node{Rational{numbers[lo], 1}, std::to_string(numbers[lo]), true};
  const size_t mid = lo + 1 + size_t(rng.below(hi - lo - 1));
  const auto left = random_tree(rng, numbers, lo, mid);
  const auto right = random_tree(rng, numbers, mid, hi);
  if (!left || !right) return std::nullopt;
  static constexpr char kOps[] = {'+', '-', '*', '/'};
  const char op = kOps[rng.below(4)];
  std::optional<Rational> v;
  switch (op) {
    case '+': v = add(left->value, right->value); break;
    case '-': v = sub(left->value, right->value); break;
    case '*': v = mul(left->value, right->value); break;
    default: v = div(left->value, right->value); break;
  }
  if (!v) return std::nullopt;
  return Node{*v, operand_text(*left) + " " + op + " " + operand_text(*right), false};
}

}  // namespace

CountdownKnobs countdown_knobs(int difficulty, const nlohmann::json& params) {
  static constexpr CountdownKnobs kLevels[5] = {
      {3, 3, 10, 100}, {3, 3, 30, 200}, {3, 4, 100, 1000}, {4, 4, 100, 1000}, {5, 5, 100, 1000}};
  const CountdownKnobs d = kLevels[checked_difficulty("countdown", difficulty) - 1];
  TaskParams p("countdown", params);
  CountdownKnobs k;
  k.min_numbers = int(p.integer("min_numbers", d.min_numbers, 2, 6));
  k.max_numbers = int(p.integer("max_numbers", std::max<int64_t>(d.max_numbers, k.min_numbers), 2, 6));
  k.max_number = p.integer("max_number", d.max_number, 1, 1000000);
  k.max_target = p.integer("max_target", d.max_target, 1, 1000000000);
  p.reject_unknown();
  if (k.max_numbers < k.min_numbers) p.fail("max_numbers", "smaller than min_numbers");
  return k;
}

CountdownProblem draw_countdown(Philox& rng, const CountdownKnobs& k) {
  // A sum of positive numbers is always a positive integer, so success is certain unless max_target is below
  // every reachable value; the bound turns that misconfiguration into an error instead of a hang.
  constexpr int kMaxAttempts = 100000;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    const int n = k.min_numbers + int(rng.below(uint64_t(k.max_numbers - k.min_numbers + 1)));
    std::vector<int64_t> numbers(n);
    for (auto& x : numbers) x = 1 + int64_t(rng.below(uint64_t(k.max_number)));
    // The tree uses the numbers in a shuffled order, so the answer is not read off left to right.
    std::vector<int64_t> order = numbers;
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
    for (int tree = 0; tree < 16; ++tree) {
      const auto root = random_tree(rng, order, 0, order.size());
      if (root && root->value.is_integer() && root->value.num > 0 && root->value.num <= k.max_target)
        return CountdownProblem{numbers, root->value.num, root->text};
    }
  }
  throw Error("task 'countdown': no reachable target within max_target " + std::to_string(k.max_target));
}

std::string countdown_prompt(const std::vector<int64_t>& numbers, int64_t target) {
  std::string list;
  for (size_t i = 0; i < numbers.size(); ++i) list += (i ? ", " : "") + std::to_string(numbers[i]);
  return "Using the numbers [" + list + "], create an equation that equals " + std::to_string(target) +
         ". You can use basic arithmetic operations (+, -, *, /) and each number can only be used once.";
}

bool countdown_solution_valid(std::string_view expression, const std::vector<int64_t>& numbers, int64_t target) {
  const auto v = evaluate_arithmetic(expression);
  if (!v) return false;
  std::vector<int64_t> used = v->literals, given = numbers;
  std::sort(used.begin(), used.end());
  std::sort(given.begin(), given.end());
  return used == given && v->value == Rational{target, 1};
}

TaskDraw countdown_task(int difficulty, const nlohmann::json& params) {
  const CountdownKnobs knobs = countdown_knobs(difficulty, params);
  return [knobs](Philox& rng) {
    const CountdownProblem c = draw_countdown(rng, knobs);
    TaskCandidate out;
    out.problem.prompt = countdown_prompt(c.numbers, c.target);
    out.problem.answer = c.solution;
    // "nums"/"target": TinyZero's field names, which the countdown reward reads.
    out.problem.metadata = {{"nums", c.numbers}, {"target", c.target}};
    // The same multiset and target is the same puzzle whatever order the numbers are listed in.
    std::vector<int64_t> sorted = c.numbers;
    std::sort(sorted.begin(), sorted.end());
    for (auto x : sorted) out.key += std::to_string(x) + ",";
    out.key += "=" + std::to_string(c.target);
    return out;
  };
}

}  // namespace r1::data
