#include "eval/judge.h"

#include "core/error.h"
#include "rewards/countdown_reward.h"
#include "rewards/math_verifier.h"

namespace r1::eval {

namespace {

std::string without_spaces(std::string_view s) {
  std::string out;
  for (char c : s)
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') out += c;
  return out;
}

bool same_expression(std::string_view a, std::string_view b) { return without_spaces(a) == without_spaces(b); }

bool math_equivalent(std::string_view a, std::string_view b) { return rewards::answers_equivalent(a, b); }

}  // namespace

bool is_code_task(const std::string& task) { return task == "humaneval" || task == "mbpp"; }

Judged judge_completion(const data::Problem& problem, std::string_view completion) {
  if (is_code_task(problem.task))
    throw Error("problem '" + problem.id + "': code tasks are judged by running their tests (the code reward)");
  if (problem.task == "countdown") {
    if (!problem.metadata.contains("nums") || !problem.metadata.contains("target"))
      throw Error("problem '" + problem.id + "': countdown needs metadata 'nums' and 'target'");
    const auto check = rewards::check_countdown(completion, problem.metadata["nums"].get<std::vector<int64_t>>(),
                                                problem.metadata["target"].get<int64_t>());
    return {check.expression, check.status == rewards::CountdownCheck::Status::Correct};
  }
  const rewards::MathVerdict v = rewards::verify_math(completion, problem.answer);
  return {v.extracted ? v.answer : std::string(), v.correct};
}

ProblemSamples judge_samples(const data::Problem& problem, const std::vector<std::string>& completions) {
  ProblemSamples s;
  s.id = problem.id;
  for (const auto& c : completions) {
    Judged j = judge_completion(problem, c);
    s.answers.push_back(std::move(j.answer));
    s.correct.push_back(j.correct);
  }
  return s;
}

AnswerEquivalence equivalence_for(const std::string& task) {
  if (task == "countdown") return same_expression;
  return math_equivalent;
}

}  // namespace r1::eval
