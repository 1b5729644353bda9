// Math answer verifier: the accuracy reward of the R1 recipe. Extracts the final answer from a model response,
// normalises it and the gold answer, and decides equivalence by exact string, exact rational / toleranced
// numeric, symbolic (GiNaC) and structural (tuples, sets, intervals, matrices, equations, choices) comparison.
// A false negative or a false positive both train the wrong thing, so every rule follows the conventions of
// shared/guide/verifier-anchors.md §6. Pipeline: math_extract -> math_normalize -> math_parse -> math_equivalence.
// Thread-safe; the GiNaC stages serialise on one mutex (GiNaC itself is not thread-safe).
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace r1::rewards {

struct MathVerdict {
  bool correct = false;
  bool extracted = false;
  std::string answer;  // extracted response answer (raw, before normalisation)
  std::string reason;  // short: "no answer", "exact match", "numeric match", "symbolic match", "mismatch"...
};

// Extracts the final answer from a model response (conventions §6 extraction rules): the last <answer> block,
// else the last \boxed{}/\fbox{}, else the last "the answer is X", else the last "#### X"; otherwise nullopt.
// An empty or unterminated final box is "no answer".
std::optional<std::string> extract_answer(std::string_view response);

// Normalises a gold answer field: GSM8K "... #### 1,234" -> "1234"; MATH LaTeX is kept as LaTeX (trimmed).
std::string gold_answer(std::string_view gold_field);

// Is `answer` (already extracted) equivalent to `gold` (already passed through gold_answer)?
bool answers_equivalent(std::string_view answer, std::string_view gold);

// extract + compare. `gold` may be a raw dataset field (it is passed through gold_answer).
MathVerdict verify_math(std::string_view response, std::string_view gold);

}  // namespace r1::rewards
