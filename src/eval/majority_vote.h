// cons@k (self-consistency, Wang et al. 2022; the R1 paper's cons@64): majority vote over the final answers of
// k samples, where answers are grouped by an equivalence function (e.g. rewards::answers_equivalent, so "1/2",
// "0.5" and "\frac{1}{2}" are one vote) rather than by string.
// Rules, chosen so the result is deterministic:
//   * classes are formed in sample order: an answer joins the FIRST existing class whose representative (its
//     first member) it is equivalent to, called as equivalent(answer, representative), else opens a new
//     class; equivalence need not be transitive;
//   * an empty answer (nothing extracted) casts no vote;
//   * the largest class wins; ties go to the class whose first occurrence is earliest;
//   * the vote is correct only if the winning class is: its representative's verdict decides (the verifier's
//     verdict per sample is passed in), and no votes at all is incorrect.
#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace r1::eval {

using AnswerEquivalence = std::function<bool(std::string_view, std::string_view)>;

struct VoteResult {
  std::vector<int> class_of;         // per sample: its class, -1 for an empty answer
  std::vector<int> representatives;  // per class (in order of first occurrence): index of its first sample
  std::vector<int> class_sizes;      // per class: votes
  int winning_class = -1;            // -1 when no sample had an answer
  int winner_sample() const { return winning_class < 0 ? -1 : representatives[winning_class]; }
};

VoteResult majority_vote(const std::vector<std::string>& answers, const AnswerEquivalence& equivalent);

// cons@k over the first k samples (k <= answers.size(); k = 0 means all). `correct[i]` is sample i's verdict.
bool cons_at_k(const std::vector<std::string>& answers, const std::vector<bool>& correct,
               const AnswerEquivalence& equivalent, size_t k = 0);

// Plain string equality, for tasks whose answers are canonical already.
bool exact_equivalence(std::string_view a, std::string_view b);

}  // namespace r1::eval
