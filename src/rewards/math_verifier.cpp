// Math verifier entry points: extraction (math_extract) + equivalence (math_equivalence). Thread-safe: the
// GiNaC stages serialise on one mutex, the string and integer fast paths do not lock.
#include "rewards/math_verifier.h"

#include "rewards/math_equivalence.h"
#include "rewards/math_extract.h"

namespace r1::rewards {

std::optional<std::string> extract_answer(std::string_view response) { return math::extract_final_answer(response); }

std::string gold_answer(std::string_view gold_field) { return math::gold_from_field(gold_field); }

bool answers_equivalent(std::string_view answer, std::string_view gold) {
  return math::compare_answers(answer, gold).equal;
}

MathVerdict verify_math(std::string_view response, std::string_view gold_field) {
  MathVerdict verdict;
  std::string gold = gold_answer(gold_field);
  auto answer = extract_answer(response);
  if (!answer) {
    verdict.reason = "no answer";
    return verdict;
  }
  verdict.extracted = true;
  verdict.answer = *answer;
  math::Equivalence eq = math::compare_answers(*answer, gold);
  if (!eq.equal) {
    // "\boxed{3}, \boxed{5}" answers a two-element gold list as one list (Math-Verify >= 0.8 joins them).
    size_t k = math::gold_list_size(gold);
    if (k > 1) {
      if (auto boxes = math::extract_adjacent_boxes(response, k)) {
        std::string joined;
        for (const std::string& b : *boxes) joined += (joined.empty() ? "" : ", ") + b;
        math::Equivalence list_eq = math::compare_answers(joined, gold);
        if (list_eq.equal) {
          eq = list_eq;
          verdict.answer = joined;
        }
      }
    }
  }
  verdict.correct = eq.equal;
  verdict.reason = eq.reason;
  return verdict;
}

}  // namespace r1::rewards
