// The built-in reasoning task of the tiny main job: multi-digit addition, solved by column addition in a
// chain of thought. Two uses:
//   * pretraining corpus: solutions in MIXED formats with injected mistakes, so the base model has "some
//     ability" but is unreliable and untidy — the state R1-Zero starts from;
//   * RL/eval problems: prompt + exact gold answer, split into train and held-out by a hash of the operands so
//     the two never overlap (and held-out problems never appear in the pretraining corpus).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/rng.h"

namespace r1::data {

struct AdditionProblem {
  int64_t a = 0, b = 0;
  std::string question() const;  // "What is 47 + 385?"
  int64_t answer() const { return a + b; }
};

struct AdditionTaskOptions {
  int min_digits = 1, max_digits = 3;  // difficulty knob: operand sizes
  uint64_t seed = 0;
};

enum class Split { Train, HeldOut };
// Held-out iff a hash of (a, b) falls in the held-out bucket (1 in 8): a property of the problem itself.
Split split_of(const AdditionProblem& p);
// `count` distinct problems of the split, deterministic in (options, split).
std::vector<AdditionProblem> addition_problems(const AdditionTaskOptions& options, Split split, int count);

// The chain of thought: one column at a time, right to left, with the carry. "7+5=12, 4+3+1=8, so 82"
std::string column_addition_steps(int64_t a, int64_t b);

// The well-formed R1 completion: " <think> steps </think> <answer>N</answer>"
std::string formatted_solution(const AdditionProblem& p);

struct CorpusOptions {
  AdditionTaskOptions task;
  int documents = 20000;
  // Mixture of solution styles (normalised). Bare answers are the most common style, so the base model's
  // likeliest reply skips the reasoning; the tidy, correct chain of thought is a minority that RL must elicit
  // (as R1-Zero elicits long reasoning from its base).
  double p_formatted = 0.2, p_formatted_slip = 0.15, p_plain = 0.35, p_plain_wrong = 0.15, p_untagged = 0.15;
};
// Documents "User: <question>\nAssistant:<solution>" drawn from the TRAIN split only.
std::vector<std::string> pretraining_corpus(const CorpusOptions& options, const std::string& user_prefix,
                                            const std::string& assistant_prefix);

}  // namespace r1::data
