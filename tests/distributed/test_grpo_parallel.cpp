// Data-parallel GRPO through the real job code (run_grpo): 2 torchrun-style ranks, each rolling out half of every
// step's prompts and training on half of every minibatch, give the metrics of 1 process (rewards, dynamic
// sampling's kept groups, losses, KL, clip fractions, gradient norms, held-out accuracy); the 2-rank run directory
// is complete (report, samples, checkpoints); and a checkpoint written by 2 ranks resumes on 1 to the same end.
#include <gtest/gtest.h>

#include <fstream>

#include "core/config.h"
#include "dist_test_util.h"
#include "rewards/reward.h"
#include "rl/grpo_trainer.h"
#include "support/micro_model.h"

namespace r1 {
namespace {

namespace fs = std::filesystem;

// The untrained micro model never answers right; a reward that grows with the completion's length varies within
// a group, so the advantages (and the policy gradient) are not zero and dynamic sampling has groups to keep.
class LengthReward : public rewards::Reward {
 public:
  std::string name() const override { return "test_length"; }
  rewards::RewardResult score(const rewards::RewardInput& in) const override {
    return {double(in.completion.size()) / 40.0, "length"};
  }
};

void register_length_reward() {
  static const bool once = [] {
    rewards::register_reward("test_length", [](rewards::RewardParams& p) {
      p.finish();
      return std::unique_ptr<rewards::Reward>(new LengthReward());
    });
    return true;
  }();
  (void)once;
}

// token_mean weighs micro-batches by completion tokens (the ranks' shares differ), micro_batch_tokens splits each
// rank's share further, beta > 0 brings the reference model, the entropy bonus keeps gradients non-zero.
std::string grpo_yaml(const std::string& model) {
  return "model: {path: " + model +
         "}\n"
         "seed: 3\n"
         "grpo: {steps: 4, prompts_per_step: 4, group_size: 4, beta: 0.05, minibatches: 2, entropy_coef: 0.01,\n"
         "       aggregation: token_mean, micro_batch_tokens: 40, dynamic_sampling: true, max_sampling_rounds: 2}\n"
         "rollout: {max_new_tokens: 10}\n"
         "optim: {lr: 0.01}\n"
         "rewards: [{name: test_length, weight: 1.0}, {name: format, weight: 0.2}]\n"
         "eval: {every: 2, problems: 5, samples: 2}\n"
         "checkpoint: {every: 2, keep: 3}\n";
}

rl::GrpoSummary run(const std::string& yaml, const std::string& run_dir, bool resume = false, int max_steps = -1) {
  register_length_reward();
  rl::GrpoRunOptions o;
  o.run_dir = run_dir, o.resume = resume, o.max_steps_this_run = max_steps;
  return rl::run_grpo(parse_config(yaml, "grpo.yaml", rl::grpo_config_schema()), o);
}

TEST(DistWorker, Grpo) {
  R1_DIST_WORKER_ONLY();
  const test::JobArgs a = test::worker_job_args();
  run(a.yaml, a.run_dir, false, a.max_steps);
}

TEST(DistGrpo, TwoRanksMatchOneAndTheirCheckpointResumesOnOne) {
  const fs::path dir = test::scratch_dir("grpo");
  const std::string model = test::make_micro_model(dir / "model");
  const std::string yaml = grpo_yaml(model);
  { std::ofstream(dir / "grpo.yaml") << yaml; }

  run(yaml, (dir / "one").string());  // one process (no launcher variables): the reference
  const auto one = test::deterministic_metrics(dir / "one");
  ASSERT_EQ(one.size(), 5u);  // step 0 (the base model's evaluation) and steps 1..4
  // The test exercises what it means to: real policy-gradient updates on kept groups.
  EXPECT_GT(one.at(1).at("train/grad_norm"), 0.0);
  EXPECT_GT(one.at(1).at("rollout/groups_kept"), 1.0);
  EXPECT_GT(one.at(1).at("reward/std"), 0.0);

  ASSERT_TRUE(test::ranks_ok(test::spawn_ranks("Grpo", 2, dir, test::job_env(dir / "grpo.yaml", dir / "two"))));
  test::expect_same_metrics(dir / "one", dir / "two", 1e-5);
  EXPECT_TRUE(fs::exists(dir / "two" / "report.html"));
  EXPECT_TRUE(fs::exists(dir / "two" / "samples.jsonl"));
  EXPECT_TRUE(fs::exists(dir / "two" / "checkpoints" / "step_000004" / "optimizer.safetensors"));

  // Killed after 3 steps with 2 ranks (last checkpoint: step 2); resumed by one process.
  ASSERT_TRUE(
      test::ranks_ok(test::spawn_ranks("Grpo", 2, dir, test::job_env(dir / "grpo.yaml", dir / "resumed", 3))));
  const rl::GrpoSummary s = run(yaml, (dir / "resumed").string(), true);
  EXPECT_EQ(s.steps, 4);
  test::expect_same_metrics(dir / "one", dir / "resumed", 1e-5);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace r1
