// Multi-digit arithmetic: "What is 482 * 37?", answer the exact integer (negative for some subtractions).
// Each operand has a digit count drawn from [min_digits, max_digits] (1-digit operands include 0). Division
// is always exact: the dividend is built as divisor * quotient, both with the drawn digit counts.
// Difficulty: 1: 1-2 digits, "+-"   2: 2-3 digits, "+-"   3: 2-3 digits, "+-*"   4: 3-4 digits, "+-*/"
//             5: 4-6 digits, "+-*/"
// Knobs (params): min_digits, max_digits (1..9), ops (a string over "+-*/").
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace r1::data {

struct ArithmeticKnobs {
  int min_digits = 1, max_digits = 2;
  std::string ops = "+-";
};
ArithmeticKnobs arithmetic_knobs(int difficulty, const nlohmann::json& params);

}  // namespace r1::data
