// Equivalence of two extracted answers (verifier-anchors.md §6 "Equivalence"): exact string after
// normalisation, then exact integers without GiNaC, multiple-choice letters, word answers, then the parsed
// values: exact rationals (relative tolerance 1e-6 only when a side holds an inexact decimal), symbolic
// difference (expand(normal(a - b)) == 0, else agreement at random rational points / 50-digit evaluation),
// and structures (ordered tuples and intervals, unordered sets and lists, unions, matrices, equations).
#pragma once
#include <string>
#include <string_view>

namespace r1::rewards::math {

enum class MatchKind { None, Exact, Numeric, Symbolic, Structural, Text, Choice };

struct Equivalence {
  bool equal = false;
  MatchKind kind = MatchKind::None;
  std::string reason;  // "exact match", "numeric match", ..., "mismatch", "unparsable answer", "empty answer"
};

// Compares an extracted answer with a gold answer (both raw LaTeX / text, normalised here).
Equivalence compare_answers(std::string_view answer, std::string_view gold);

// Number of elements when the gold is an unordered list or set ("3, 5, 7" -> 3, "1 \pm \sqrt{2}" -> 2), else 1.
// Used to read the last k adjacent boxes of a response as one list answer.
size_t gold_list_size(std::string_view gold);

}  // namespace r1::rewards::math
