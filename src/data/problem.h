// One verifiable problem, whatever its origin (a benchmark file or a built-in generator): the prompt a model
// sees, the gold answer a verifier checks against, and task-specific facts the verifier needs (Countdown's
// numbers and target, a code task's tests) in `metadata`.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace r1::data {

struct Problem {
  std::string id;           // unique within its dataset: "gsm8k/17", "HumanEval/3", "countdown/train/42"
  std::string prompt;       // the question only; chat templates are applied later by the tokenizer layer
  std::string answer;       // gold: a number, LaTeX or an expression; empty for code tasks (tests decide)
  std::string task;         // "gsm8k", "math500", "countdown", ... selects the verifier
  nlohmann::json metadata = nlohmann::json::object();
};

// {"id", "prompt", "answer", "task", "metadata"}: the form written to and read back from JSONL.
nlohmann::json to_json(const Problem& p);

}  // namespace r1::data
