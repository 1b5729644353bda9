#include "eval/majority_vote.h"

#include "core/error.h"

namespace r1::eval {

VoteResult majority_vote(const std::vector<std::string>& answers, const AnswerEquivalence& equivalent) {
  VoteResult r;
  r.class_of.assign(answers.size(), -1);
  for (size_t i = 0; i < answers.size(); ++i) {
    if (answers[i].empty()) continue;
    int cls = -1;
    for (size_t c = 0; c < r.representatives.size() && cls < 0; ++c)
      if (equivalent(answers[i], answers[r.representatives[c]])) cls = int(c);
    if (cls < 0) {
      cls = int(r.representatives.size());
      r.representatives.push_back(int(i));
      r.class_sizes.push_back(0);
    }
    r.class_of[i] = cls;
    ++r.class_sizes[cls];
  }
  // Strictly larger wins, so among equal sizes the earliest class (lowest index = earliest first occurrence) stays.
  for (size_t c = 0; c < r.class_sizes.size(); ++c)
    if (r.winning_class < 0 || r.class_sizes[c] > r.class_sizes[r.winning_class]) r.winning_class = int(c);
  return r;
}

bool cons_at_k(const std::vector<std::string>& answers, const std::vector<bool>& correct,
               const AnswerEquivalence& equivalent, size_t k) {
  if (answers.size() != correct.size())
    throw Error("cons@k: " + std::to_string(answers.size()) + " answers but " + std::to_string(correct.size()) +
                " verdicts");
  if (k > answers.size())
    throw Error("cons@k: k=" + std::to_string(k) + " but only " + std::to_string(answers.size()) + " samples");
  if (k == 0) k = answers.size();
  const std::vector<std::string> first(answers.begin(), answers.begin() + k);
  const VoteResult vote = majority_vote(first, equivalent);
  return vote.winning_class >= 0 && correct[vote.winner_sample()];
}

bool exact_equivalence(std::string_view a, std::string_view b) { return a == b; }

}  // namespace r1::eval
