// String-level normalisation of a math answer before parsing (verifier-anchors.md §2 and §6): drops
// presentation that does not change the value — math delimiters, \left/\right, \dfrac/\tfrac, \text{}
// wrappers, trailing units, degrees, dollars, percent signs, thousands separators, trailing periods — so that
// two answers written differently reach the parser (or an exact string match) in one canonical form.
#pragma once
#include <string>
#include <string_view>

namespace r1::rewards::math {

// Canonical text of an answer; "" when nothing is left.
std::string normalize_answer(std::string_view raw);

// Removes thousands separators between digit groups: "1,234", "1{,}234", "1,\!234", "1\,234" -> "1234".
// A comma followed by a space ("2, 125") is a list separator and stays.
std::string strip_thousands_separators(std::string_view s);

// A word answer: only letters, spaces, hyphens, apostrophes and periods, with at least one run of three or
// more letters that is not a function name ("Evelyn", "east", "even"; not "sin x").
bool looks_like_words(std::string_view s);

}  // namespace r1::rewards::math
