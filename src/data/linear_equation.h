// Linear equations with an integer solution: "Solve for x: 3x - 7 = 8.", answer "5". Built backwards from
// the solution: draw x, a != 0 and b, then c = a*x + b.
// Difficulty (|a| <= max_coef, |x| <= max_solution, |b| <= max_constant; without negatives all are >= 0):
//   1: 5, 10, 20, no negatives    2: 9, 20, 50, no negatives    3: 9, 20, 50, negatives
//   4: 20, 50, 200, negatives     5: 99, 100, 1000, negatives
// Knobs (params): max_coef, max_solution, max_constant, negatives (0 or 1).
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace r1::data {

struct LinearEquationKnobs {
  int64_t max_coef = 5, max_solution = 10, max_constant = 20;
  bool negatives = false;
};
LinearEquationKnobs linear_equation_knobs(int difficulty, const nlohmann::json& params);

// "3x - 7 = 8", "-x + 4 = 0", "12x = 36"
std::string linear_equation_text(int64_t a, int64_t b, int64_t c);

}  // namespace r1::data
