// Shared helpers of the job-level tests (tests/rl, tests/pipeline, tests/distributed; library r1_test_support):
// temporary directories and a micro model (a BPE tokenizer trained on a little of the built-in corpus, one
// transformer block of width 32) that every job can load from disk.
#pragma once
#include <filesystem>
#include <map>
#include <string>

namespace r1::test {

// A fresh, empty directory under the system temp dir, unique to this process.
std::filesystem::path temp_dir(const std::string& name);

// Writes a randomly initialised micro model (config.json, model.safetensors, tokenizer files) into dir.
// The tokenizer is trained on `documents` corpus documents up to `vocab_size` tokens.
std::string make_micro_model(const std::filesystem::path& dir, uint64_t seed = 3, int documents = 300,
                             int vocab_size = 300);

// A micro model SFT-trained on the addition task's well-formed solutions for `steps` steps (run directory
// `dir`); returns its model directory. It writes "<think> ... </think> <answer>N</answer>" and gets some
// one-digit sums right: enough for rejection sampling and evaluation to have both passes and failures.
std::string make_sft_trained_model(const std::filesystem::path& dir, int steps = 150);

// The metrics of a run that depend neither on wall-clock time nor on the world size (no time/, perf/ or memory/
// values): step -> name -> value.
std::map<int64_t, std::map<std::string, double>> deterministic_metrics(const std::filesystem::path& run);

}  // namespace r1::test
