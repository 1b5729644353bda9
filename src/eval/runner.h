// The benchmark runner behind `r1 eval`: for each problem draw k samples from a model (default temperature
// 0.6 and top-p 0.95, as the R1 paper evaluates), judge every sample (judge.h: the math verifier, Countdown's
// checker, or for code tasks the tests run by the code reward), and score the benchmark (results.h): pass@1
// averaged over the k samples, unbiased pass@k, cons@k, each with a 95% interval over problems.
// Writes into the output directory:
//   results.md     the table for people (one row per benchmark) and the settings that produced it
//   results.json   the same for scripts, with per-problem scores
//   samples.jsonl  every completion with its extracted answer and verdict
//   examples.jsonl / examples.md   the worst and best problems of each benchmark (lowest / highest c/n), each
//                  with a wrong (worst) or right (best) completion, for reading what the model does
// Benchmarks: the names of benchmarks.h (gsm8k, math500, aime24, aime25, aime, humaneval, mbpp, countdown,
// arithmetic, linear_equation, ...) and "addition", the built-in tiny model's task (the held-out addition
// problems GRPO evaluates on: "What is a + b?").
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "data/problem.h"
#include "eval/benchmarks.h"
#include "eval/results.h"
#include "generate/engine.h"
#include "model/transformer.h"
#include "tokenizer/chat_template.h"

namespace r1 {
class Tokenizer;
}

namespace r1::eval {

struct AdditionBenchmark {
  int count = 500;
  int min_digits = 1, max_digits = 2;
};

// The problems of `name`: benchmarks.h's benchmarks, or "addition". limit > 0 keeps the first `limit`.
std::vector<data::Problem> load_eval_problems(const std::string& name, const std::string& data_dir,
                                              const SyntheticBenchmark& synthetic, const AdditionBenchmark& addition,
                                              int limit = 0);

struct EvalSampling {
  int samples = 1;  // k: completions per problem
  float temperature = 0.6f, top_p = 0.95f;
  int max_new_tokens = 1024;
  std::vector<std::string> stop;
  uint64_t seed = 0;
  int batch_prompts = 64;  // problems generated together
  int max_slots = 256;
};

// One problem's samples and their verdicts.
struct SampledProblem {
  data::Problem problem;
  std::vector<std::string> completions;
  std::vector<int> tokens;
  std::vector<std::string> finish_reasons;
  ProblemSamples judged;  // answers + verdicts, what the metrics are computed from
  int correct() const;
};

struct BenchmarkRun {
  BenchmarkResult result;
  std::vector<SampledProblem> problems;
  int64_t generated_tokens = 0;
  double seconds = 0;
};

// Samples and judges every problem with an already-loaded model, then scores the benchmark with `metrics`
// (whose `equivalent` is replaced by the benchmark's own equivalence: equivalence_for(task)). Code tasks are
// judged by their tests (all must pass) and have no cons@k.
BenchmarkRun evaluate_benchmark(TrainableModel& model, const Tokenizer& tokenizer, const ChatTemplate& tmpl,
                                const std::string& name, const std::vector<data::Problem>& problems,
                                const EvalSampling& sampling, EvalOptions metrics);

// Indices of the `count` problems with the lowest (worst) or highest (best) c/n; ties keep problem order.
std::vector<size_t> worst_problems(const BenchmarkRun& run, size_t count);
std::vector<size_t> best_problems(const BenchmarkRun& run, size_t count);

// {"benchmark", "kind": "worst"|"best", "id", "prompt", "gold", "correct", "samples", "completion", "answer"}:
// the first wrong completion for a worst example, the first right one for a best example.
nlohmann::json example_record(const std::string& benchmark, const SampledProblem& p, bool best);

// ---- the `r1 eval` job ----

const ConfigSchema& eval_config_schema();

struct EvalRunResult {
  std::vector<BenchmarkResult> results;
  std::string output_dir, markdown;  // markdown: the contents of results.md
};

// Loads the model, evaluates every configured benchmark and writes the output directory (see above).
EvalRunResult run_eval(const Config& config);

}  // namespace r1::eval
