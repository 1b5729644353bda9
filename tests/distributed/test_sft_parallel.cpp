// Data-parallel SFT through the real job code (run_sft): 2 torchrun-style ranks give the metrics of 1 process
// on the same global batches, only rank 0 writes the run directory, and a checkpoint written by 2 ranks
// resumes on 1 to the same end.
#include <gtest/gtest.h>

#include <fstream>

#include "core/config.h"
#include "dist_test_util.h"
#include "support/micro_model.h"
#include "train/metrics.h"
#include "train/sft.h"

namespace r1 {
namespace {

namespace fs = std::filesystem;

// The shared micro model (tests/support) with a smaller tokenizer: one random transformer block of width 32.
std::string micro_model(const fs::path& dir) { return test::make_micro_model(dir, 3, 200, 280); }

std::string sft_yaml(const std::string& model) {
  return "model: {path: " + model +
         "}\n"
         "data: {source: addition, count: 64, eval_count: 12, min_digits: 1, max_digits: 2}\n"
         "train: {max_steps: 4, batch_tokens: 400}\n"
         "optim: {lr: 0.01, warmup_steps: 1}\n"
         "eval: {every: 2, batch_tokens: 200}\n"
         "checkpoint: {every: 2}\n";
}

SftSummary run(const std::string& yaml, const std::string& run_dir, bool resume = false, int max_steps = -1) {
  SftRunOptions o;
  o.run_dir = run_dir, o.resume = resume, o.max_steps_this_run = max_steps;
  return run_sft(parse_config(yaml, "sft.yaml", sft_config_schema()), o);
}

TEST(DistWorker, Sft) {
  R1_DIST_WORKER_ONLY();
  const test::JobArgs a = test::worker_job_args();
  run(a.yaml, a.run_dir, false, a.max_steps);
}

TEST(DistSft, TwoRanksMatchOneAndTheirCheckpointResumesOnOne) {
  const fs::path dir = test::scratch_dir("sft");
  const std::string model = micro_model(dir / "model");
  const std::string yaml = sft_yaml(model);
  { std::ofstream(dir / "sft.yaml") << yaml; }

  run(yaml, (dir / "one").string());  // one process (no launcher variables): the reference

  ASSERT_TRUE(test::ranks_ok(test::spawn_ranks("Sft", 2, dir, test::job_env(dir / "sft.yaml", dir / "two"))));
  test::expect_same_metrics(dir / "one", dir / "two", 1e-5);
  // Both ranks had sequences to share.
  EXPECT_GT(test::deterministic_metrics(dir / "two").at(1).at("train/sequences"), 1.0);
  EXPECT_TRUE(fs::exists(dir / "two" / "report.html"));
  // ZeRO-1: each of the 2 ranks holds about half of the AdamW moments the single process holds.
  const auto optimizer_gib = [](const fs::path& run) {
    for (const MetricsRecord& r : read_metrics(run / "metrics.jsonl"))
      if (r.values.contains("memory/optimizer_gib")) return r.values.at("memory/optimizer_gib");
    return 0.0;
  };
  EXPECT_NEAR(optimizer_gib(dir / "two") / optimizer_gib(dir / "one"), 0.5, 0.02);
  EXPECT_TRUE(fs::exists(dir / "two" / "checkpoints" / "step_000004" / "optimizer.safetensors"));

  // Killed after 2 steps with 2 ranks; resumed by one process.
  ASSERT_TRUE(test::ranks_ok(test::spawn_ranks("Sft", 2, dir, test::job_env(dir / "sft.yaml", dir / "resumed", 2))));
  const SftSummary s = run(yaml, (dir / "resumed").string(), true);
  EXPECT_EQ(s.steps, 4);
  test::expect_same_metrics(dir / "one", dir / "resumed", 1e-5);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace r1
