#include "data/arithmetic_task.h"

#include <algorithm>

#include "data/task_generator.h"
#include "data/task_params.h"

namespace r1::data {

namespace {

int64_t pow10i(int d) {
  int64_t p = 1;
  while (d-- > 0) p *= 10;
  return p;
}

int64_t random_operand(Philox& rng, const ArithmeticKnobs& k) {
  const int digits = k.min_digits + int(rng.below(uint64_t(k.max_digits - k.min_digits + 1)));
  const int64_t lo = digits == 1 ? 0 : pow10i(digits - 1);
  return lo + int64_t(rng.below(uint64_t(pow10i(digits) - lo)));
}

}  // namespace

ArithmeticKnobs arithmetic_knobs(int difficulty, const nlohmann::json& params) {
  struct Level {
    int min_digits, max_digits;
    const char* ops;
  };
  static constexpr Level kLevels[5] = {{1, 2, "+-"}, {2, 3, "+-"}, {2, 3, "+-*"}, {3, 4, "+-*/"}, {4, 6, "+-*/"}};
  const Level d = kLevels[checked_difficulty("arithmetic", difficulty) - 1];
  TaskParams p("arithmetic", params);
  ArithmeticKnobs k;
  k.min_digits = int(p.integer("min_digits", d.min_digits, 1, 9));
  k.max_digits = int(p.integer("max_digits", std::max(d.max_digits, k.min_digits), 1, 9));
  k.ops = p.chars("ops", d.ops, "+-*/");
  p.reject_unknown();
  if (k.max_digits < k.min_digits) p.fail("max_digits", "smaller than min_digits");
  return k;
}

TaskDraw arithmetic_task(int difficulty, const nlohmann::json& params) {
  const ArithmeticKnobs knobs = arithmetic_knobs(difficulty, params);
  return [knobs](Philox& rng) {
    const char op = knobs.ops[rng.below(knobs.ops.size())];
    int64_t a = random_operand(rng, knobs), b = random_operand(rng, knobs), result = 0;
    switch (op) {
      case '+': result = a + b; break;
      case '-': result = a - b; break;
      case '*': result = a * b; break;
      default:  // exact division: a = b * q, with a non-zero divisor
        b = std::max<int64_t>(b, 1);
        result = a;
        a = b * result;
        break;
    }
    TaskCandidate out;
    const std::string text = std::to_string(a) + " " + op + " " + std::to_string(b);
    out.problem.prompt = "What is " + text + "?";
    out.problem.answer = std::to_string(result);
    out.problem.metadata = {{"a", a}, {"b", b}, {"op", std::string(1, op)}};
    out.key = text;
    return out;
  };
}

}  // namespace r1::data
