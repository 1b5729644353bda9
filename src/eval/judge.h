// Turns a problem's sampled completions into the sample table that pass@k and cons@k are computed from:
// per completion, the extracted final answer (what votes in cons@k) and the verifier's verdict.
//   math-style tasks (gsm8k, math500, aime, arithmetic, linear_equation, any file with a gold answer):
//       rewards::verify_math; answers vote together when rewards::answers_equivalent says so
//   countdown: rewards::check_countdown against metadata {nums, target}; the answer is the expression, and
//       answers vote together when equal up to whitespace (different correct expressions are different answers)
// Code tasks (humaneval, mbpp) are judged by running tests (rewards::CodeReward); they have no answer to vote on
// and are rejected here.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "data/problem.h"
#include "eval/majority_vote.h"
#include "eval/results.h"

namespace r1::eval {

struct Judged {
  std::string answer;  // extracted final answer, "" when none
  bool correct = false;
};

bool is_code_task(const std::string& task);

Judged judge_completion(const data::Problem& problem, std::string_view completion);
ProblemSamples judge_samples(const data::Problem& problem, const std::vector<std::string>& completions);

// The equivalence used to group a task's answers for cons@k (see above).
AnswerEquivalence equivalence_for(const std::string& task);

}  // namespace r1::eval
