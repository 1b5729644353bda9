#include "eval/benchmarks.h"

#include <algorithm>

#include "core/error.h"
#include "data/dataset.h"
#include "data/tasks.h"

namespace r1::eval {

namespace {

// MBPP's README: task_ids 1-10 are for few-shot prompting, 11-510 the test set, 511-1000 training.
constexpr int kMbppTestFirst = 11, kMbppTestLast = 510;

}  // namespace

std::vector<BenchmarkSpec> benchmark_specs() {
  std::vector<BenchmarkSpec> specs = {
      {"gsm8k", "gsm8k/test.jsonl", "gsm8k"},
      {"math500", "math500/test.jsonl", "math500"},
      {"aime24", "aime/aime24.jsonl", "aime"},
      {"aime25", "aime/aime25.jsonl", "aime"},
      {"aime", "aime/matharena_aime_2024_2025.jsonl", "aime"},
      {"humaneval", "humaneval/HumanEval.jsonl", "humaneval"},
      {"mbpp", "mbpp/mbpp.jsonl", "mbpp"},
      {"mbpp-sanitized", "mbpp/sanitized-mbpp.json", "mbpp-sanitized"},
  };
  for (const auto& task : data::task_names()) specs.push_back({task, "", task, true});
  return specs;
}

std::vector<std::string> benchmark_names() {
  std::vector<std::string> names;
  for (const auto& s : benchmark_specs()) names.push_back(s.name);
  return names;
}

const BenchmarkSpec& benchmark_spec(const std::string& name) {
  static const std::vector<BenchmarkSpec> specs = benchmark_specs();
  for (const auto& s : specs)
    if (s.name == name) return s;
  std::string known;
  for (const auto& s : specs) known += (known.empty() ? "" : ", ") + s.name;
  throw Error("unknown benchmark '" + name + "' (known: " + known + ")");
}

std::vector<data::Problem> load_benchmark(const std::string& name, const std::string& data_dir,
                                          const SyntheticBenchmark& synthetic) {
  const BenchmarkSpec& spec = benchmark_spec(name);
  if (spec.synthetic) {
    data::TaskOptions o;
    o.count = synthetic.count;
    o.seed = synthetic.seed;
    o.difficulty = synthetic.difficulty;
    o.split = data::TaskSplit::HeldOut;
    return data::generate_task(spec.preset, o);
  }
  std::vector<data::Problem> problems = data::load_dataset(data_dir + "/" + spec.file, spec.preset);
  if (name == "mbpp") {
    std::erase_if(problems, [](const data::Problem& p) {
      const int id = std::stoi(p.id);
      return id < kMbppTestFirst || id > kMbppTestLast;
    });
  }
  return problems;
}

}  // namespace r1::eval
