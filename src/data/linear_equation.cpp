#include "data/linear_equation.h"

#include "data/task_generator.h"
#include "data/task_params.h"

namespace r1::data {

namespace {

// Uniform in [lo, hi].
int64_t uniform(Philox& rng, int64_t lo, int64_t hi) { return lo + int64_t(rng.below(uint64_t(hi - lo + 1))); }

}  // namespace

LinearEquationKnobs linear_equation_knobs(int difficulty, const nlohmann::json& params) {
  static constexpr LinearEquationKnobs kLevels[5] = {
      {5, 10, 20, false}, {9, 20, 50, false}, {9, 20, 50, true}, {20, 50, 200, true}, {99, 100, 1000, true}};
  const LinearEquationKnobs d = kLevels[checked_difficulty("linear_equation", difficulty) - 1];
  TaskParams p("linear_equation", params);
  LinearEquationKnobs k;
  k.max_coef = p.integer("max_coef", d.max_coef, 1, 1000000);
  k.max_solution = p.integer("max_solution", d.max_solution, 0, 1000000);
  k.max_constant = p.integer("max_constant", d.max_constant, 0, 1000000);
  k.negatives = p.integer("negatives", d.negatives ? 1 : 0, 0, 1) == 1;
  p.reject_unknown();
  return k;
}

std::string linear_equation_text(int64_t a, int64_t b, int64_t c) {
  std::string s = a == 1 ? "x" : a == -1 ? "-x" : std::to_string(a) + "x";
  if (b > 0) s += " + " + std::to_string(b);
  if (b < 0) s += " - " + std::to_string(-b);
  return s + " = " + std::to_string(c);
}

TaskDraw linear_equation_task(int difficulty, const nlohmann::json& params) {
  const LinearEquationKnobs k = linear_equation_knobs(difficulty, params);
  return [k](Philox& rng) {
    const int64_t x = uniform(rng, k.negatives ? -k.max_solution : 0, k.max_solution);
    int64_t b = uniform(rng, k.negatives ? -k.max_constant : 0, k.max_constant);
    int64_t a = uniform(rng, 1, k.max_coef);
    if (k.negatives && rng.below(2) == 1) a = -a;
    // "x = 7" would state its own answer: give it a constant to remove.
    if ((a == 1 || a == -1) && b == 0 && k.max_constant > 0) b = uniform(rng, 1, k.max_constant);
    const int64_t c = a * x + b;
    TaskCandidate out;
    out.key = linear_equation_text(a, b, c);
    out.problem.prompt = "Solve for x: " + out.key + ".";
    out.problem.answer = std::to_string(x);
    out.problem.metadata = {{"a", a}, {"b", b}, {"c", c}};
    return out;
  };
}

}  // namespace r1::data
