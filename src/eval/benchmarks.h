// Built-in benchmark definitions for `r1 eval`: which file of shared/data and which dataset preset make each
// benchmark, and the synthetic tasks' held-out splits. Names:
//   gsm8k (test, 1319)  math500 (500)  aime24 (30)  aime25 (30)  aime (MathArena 2024+2025, 60)
//   humaneval (164)  mbpp (the README's test split, task_ids 11-510: 500)  mbpp-sanitized (427)
//   countdown, arithmetic, linear_equation: SyntheticBenchmark.count held-out problems (never seen in training,
//   data/tasks.h) at the given difficulty and seed.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/problem.h"

namespace r1::eval {

struct BenchmarkSpec {
  std::string name;
  std::string file;    // relative to the data directory; empty for synthetic tasks
  std::string preset;  // data::dataset_preset name, or the task name for synthetic tasks
  bool synthetic = false;
};

struct SyntheticBenchmark {
  int count = 500;
  uint64_t seed = 0;
  int difficulty = 3;
};

std::vector<BenchmarkSpec> benchmark_specs();
std::vector<std::string> benchmark_names();
// Throws r1::Error listing the known names for an unknown one.
const BenchmarkSpec& benchmark_spec(const std::string& name);

// The problems of a benchmark. `data_dir` is the shared data folder (the repository's ../shared/data).
std::vector<data::Problem> load_benchmark(const std::string& name, const std::string& data_dir,
                                          const SyntheticBenchmark& synthetic = {});

}  // namespace r1::eval
