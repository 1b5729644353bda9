// Final-answer extraction from a model response (verifier-anchors.md §6, extraction rules 1-6): the last
// <answer> block, else the last \boxed{}/\fbox{} (brace-matched; an empty or unterminated final box is "no
// answer", never an earlier box), else the last "(final) answer is X", else the last "#### X". No bare
// last-number fallback: an unanchored number is not an answer.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace r1::rewards::math {

// A brace group's contents starting at s[open] == '{'; nullopt when the braces never balance.
std::optional<std::string_view> brace_group(std::string_view s, size_t open, size_t* end = nullptr);

// The final answer (raw text, trimmed) or nullopt.
std::optional<std::string> extract_final_answer(std::string_view response);

// The contents of the last `count` boxes when they are adjacent (separated only by spaces, "$", ",", ";",
// "and", "\quad") and the run of adjacent boxes is exactly `count` long: Math-Verify >= 0.8 reads
// "\boxed{3}, \boxed{5}" as the list {3, 5}. nullopt otherwise.
// Searches the same region as extract_final_answer (the last <answer> block when there is one).
std::optional<std::vector<std::string>> extract_adjacent_boxes(std::string_view response, size_t count);

// Gold field -> gold answer: text after the last "####" (GSM8K, commas kept for the normaliser), the contents
// of a \boxed{} when the gold carries one, else the trimmed field.
std::string gold_from_field(std::string_view field);

}  // namespace r1::rewards::math
