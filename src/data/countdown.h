// Countdown (TinyZero's task): reach a target with the given numbers, each used exactly once, and + - * /.
// Targets are reachable by construction: draw the numbers, build a random expression tree over all of them,
// and keep its exact value when it is a positive integer within range; that expression is the stored answer.
// Difficulty (numbers drawn from 1..max_number, target <= max_target):
//   1: 3 numbers, max_number 10, max_target 100     2: 3 numbers, 30, 200
//   3: 3-4 numbers, 100, 1000 (TinyZero's Countdown-Tasks-3to4)     4: 4 numbers, 100, 1000
//   5: 5 numbers, 100, 1000
// Knobs (params): min_numbers, max_numbers (2..6), max_number, max_target.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/rng.h"

namespace r1::data {

struct CountdownKnobs {
  int min_numbers = 3, max_numbers = 3;
  int64_t max_number = 10, max_target = 100;
};
CountdownKnobs countdown_knobs(int difficulty, const nlohmann::json& params);

struct CountdownProblem {
  std::vector<int64_t> numbers;  // in the order shown to the model
  int64_t target = 0;
  std::string solution;          // e.g. "(44 + 19) - 35"
};
CountdownProblem draw_countdown(Philox& rng, const CountdownKnobs& knobs);

// TinyZero's wording: "Using the numbers [44, 19, 35], create an equation that equals 98. ..."
std::string countdown_prompt(const std::vector<int64_t>& numbers, int64_t target);

// True iff `expression` is plain arithmetic, uses exactly the multiset `numbers` (each once) and evaluates
// exactly (rationals, no tolerance) to `target`.
bool countdown_solution_valid(std::string_view expression, const std::vector<int64_t>& numbers, int64_t target);

}  // namespace r1::data
