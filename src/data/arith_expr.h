// A tiny exact evaluator for arithmetic answers such as Countdown's "(44 + 19) - 35": non-negative integer
// literals, + - * / (also × and ÷), unary minus, parentheses. Evaluated with exact rationals, so "7 / 2 * 2"
// is 7 and "1 / 3 + 1 / 3 + 1 / 3" is 1. Anything else (decimals, letters, "**", unbalanced parentheses,
// division by zero, overflow) is "not an expression": nullopt.
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "data/rational.h"

namespace r1::data {

struct ArithValue {
  Rational value;
  std::vector<int64_t> literals;  // the integer literals in order of appearance (Countdown checks their multiset)
};

std::optional<ArithValue> evaluate_arithmetic(std::string_view expression);

}  // namespace r1::data
