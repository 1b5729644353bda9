// Job flags as torchrun passes them on. torchrun's own argument parser reads every option-like word of the job's
// command line too, and rejects `--run` as an ambiguous abbreviation of its --run-path / --run_path, so the job
// commands also accept the run directory as --run-dir (seen on the 2-GPU machine: `torchrun ... r1 sft --run D`
// exits with "ambiguous option: --run could match --run-path, --run_path").
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "dist_test_util.h"
#include "support/micro_model.h"

namespace r1 {
namespace {

namespace fs = std::filesystem;

TEST(TorchrunFlags, SftWritesTheRunDirectoryGivenAsRunDir) {
  const fs::path dir = test::scratch_dir("torchrun_flags");
  const std::string model = test::make_micro_model(dir / "model", 3, 200, 280);
  std::ofstream(dir / "sft.yaml") << "model: {path: " << model
                                  << "}\n"
                                     "data: {source: addition, count: 16, eval_count: 4, min_digits: 1, max_digits: 2}\n"
                                     "train: {max_steps: 1, batch_tokens: 400}\n";
  ASSERT_EQ(test::run_r1("sft --config " + (dir / "sft.yaml").string() + " --run-dir " + (dir / "run").string(),
                   dir / "sft.log"), 0);
  EXPECT_TRUE(fs::exists(dir / "run" / "metrics.jsonl"));
}

TEST(TorchrunFlags, EveryJobCommandAcceptsRunDir) {
  const fs::path dir = test::scratch_dir("torchrun_flags_parse");
  for (const std::string command : {"grpo", "sft", "pipeline", "distill"}) {
    EXPECT_EQ(test::run_r1(command + " --describe-config --run-dir " + (dir / "x").string(), dir / "log"), 0) << command;
    // An option the command does not know is an error: acceptance above is not the parser ignoring words.
    EXPECT_NE(test::run_r1(command + " --describe-config --run-folder " + (dir / "x").string(), dir / "log"), 0) << command;
  }
}

}  // namespace
}  // namespace r1
