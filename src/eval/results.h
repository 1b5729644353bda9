// Benchmark scores from a table of samples (per problem: each sample's extracted answer and verdict), and the
// result tables written by `r1 eval`: Markdown for people, JSON for scripts.
// Metrics, each a mean over problems with a 95% interval (confidence.h):
//   pass@1   c/n per problem: pass@1 averaged over the n samples (the R1 paper's number)
//   pass@k   unbiased estimator from all n samples (pass_at_k.h), for each requested k
//   cons@k   majority vote over the FIRST k samples (majority_vote.h), 1 if the winning class is correct
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/confidence.h"
#include "eval/majority_vote.h"

namespace r1::eval {

struct ProblemSamples {
  std::string id;
  std::vector<std::string> answers;  // extracted final answer per sample, "" when none was found
  std::vector<bool> correct;         // the verifier's verdict per sample
};

struct EvalOptions {
  std::vector<int> pass_ks = {1};
  std::vector<int> cons_ks;
  AnswerEquivalence equivalent = exact_equivalence;  // groups answers for cons@k
  CiMethod ci = CiMethod::Normal;
  int bootstrap_resamples = 2000;
  uint64_t bootstrap_seed = 0;
};

struct MetricEstimate {
  std::string name;  // "pass@1", "pass@8", "cons@8"
  double value = 0, ci_low = 0, ci_high = 0;
};

struct ProblemScore {
  std::string id;
  int64_t samples = 0, correct = 0;
  std::vector<double> scores;  // parallel to BenchmarkResult::metrics
};

struct BenchmarkResult {
  std::string benchmark;
  int64_t problems = 0, min_samples = 0, max_samples = 0;
  std::vector<MetricEstimate> metrics;
  std::vector<ProblemScore> per_problem;
  const MetricEstimate* metric(const std::string& name) const;  // nullptr when absent
};

// Throws r1::Error naming the problem when its answers and verdicts differ in count, it has no samples, or a
// requested k exceeds its samples.
BenchmarkResult evaluate_samples(const std::string& benchmark, const std::vector<ProblemSamples>& problems,
                                 const EvalOptions& options);

// One row per benchmark, one column per metric (union, in order of appearance): "45.2 [43.1, 47.3]" in percent.
std::string to_markdown(const std::vector<BenchmarkResult>& results);

// {"benchmark", "problems", "samples": {"min", "max"}, "metrics": {"pass@1": {"value", "ci_low", "ci_high"}},
//  "per_problem": [{"id", "samples", "correct", "scores": {...}}]} (per_problem only when asked).
nlohmann::json to_json(const BenchmarkResult& result, bool with_per_problem = false);
nlohmann::json to_json(const std::vector<BenchmarkResult>& results, bool with_per_problem = false);

}  // namespace r1::eval
