// End-to-end GRPO runs on a very small model: a killed-and-resumed run reproduces the uninterrupted run's
// metrics (also when the kill left a half-written checkpoint behind), and config mistakes are clear errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <cmath>
#include <fstream>

#include "core/error.h"
#include "data/reasoning_corpus.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "rewards/reward.h"
#include "rl/grpo_trainer.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/tokenizer.h"
#include "train/metrics.h"
#include "train/run_dir.h"
#include "support/micro_model.h"

using namespace r1;
using r1::test::deterministic_metrics;
using r1::test::temp_dir;
namespace fs = std::filesystem;

namespace {

std::string yaml(const std::string& model) {
  return "model: {path: " + model +
         "}\n"
         "grpo: {steps: 4, prompts_per_step: 3, group_size: 4, beta: 0.05, minibatches: 2}\n"
         "rollout: {max_new_tokens: 12}\n"
         "optim: {lr: 0.01}\n"
         "eval: {every: 2, problems: 6, samples: 1}\n"
         "checkpoint: {every: 2, keep: 3}\n";
}

}  // namespace

TEST(GrpoTrainer, ResumeAfterKillMatchesUninterruptedRun) {
  const auto root = temp_dir("resume");
  const std::string model = r1::test::make_micro_model(root / "base");
  const Config config = parse_config(yaml(model), "test.yaml", rl::grpo_config_schema());

  rl::GrpoRunOptions full;
  full.run_dir = (root / "full").string();
  rl::run_grpo(config, full);

  // "Killed" after step 3: its last complete checkpoint is step 2, and step 3's metrics were logged.
  rl::GrpoRunOptions killed;
  killed.run_dir = (root / "killed").string();
  killed.max_steps_this_run = 3;
  rl::run_grpo(config, killed);
  // A kill during a checkpoint write leaves a staging directory without its marker: it must be ignored.
  const fs::path half_written = root / "killed" / "checkpoints" / (checkpoint_dir_name(4) + ".tmp");
  fs::create_directories(half_written / "model");
  std::ofstream(half_written / "optimizer.safetensors") << "garbage";
  rl::GrpoRunOptions resumed;
  resumed.run_dir = killed.run_dir;
  resumed.resume = true;
  rl::run_grpo(config, resumed);

  const auto a = deterministic_metrics(root / "full"), b = deterministic_metrics(root / "killed");
  ASSERT_EQ(a.size(), 5u);  // step 0 (base evaluation) and steps 1..4
  ASSERT_EQ(b.size(), a.size());
  for (const auto& [step, values] : a) {
    ASSERT_TRUE(b.count(step)) << "step " << step;
    for (const auto& [k, v] : values) {
      ASSERT_TRUE(b.at(step).count(k)) << k;
      if (std::isnan(v)) EXPECT_TRUE(std::isnan(b.at(step).at(k))) << k;
      else EXPECT_EQ(v, b.at(step).at(k)) << "step " << step << " " << k;
    }
  }
  EXPECT_TRUE(fs::exists(root / "full" / "report.html"));
  EXPECT_TRUE(fs::exists(root / "full" / "samples.jsonl"));
  EXPECT_TRUE(fs::exists(root / "full" / "config.yaml"));
  EXPECT_TRUE(fs::exists(root / "full" / "checkpoints" / checkpoint_dir_name(4) / "model" / "model.safetensors"));
}

TEST(GrpoTrainer, ConfigMistakesNameTheKey) {
  try {
    parse_config("grpo: {epsilon_hi: 0.3}\nmodel: {path: x}\n", "bad.yaml", rl::grpo_config_schema());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("grpo.epsilon_hi"), std::string::npos) << e.what();
  }
  try {
    parse_config("grpo: {variant: ppo}\nmodel: {path: x}\n", "bad.yaml", rl::grpo_config_schema());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("grpo.variant"), std::string::npos) << e.what();
  }
  const Config c = parse_config("model: {path: /nonexistent}\n", "ok.yaml", rl::grpo_config_schema());
  rl::GrpoRunOptions o;
  o.run_dir = (temp_dir("badmodel") / "run").string();
  try {
    rl::run_grpo(c, o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.path"), std::string::npos) << e.what();
  }
}

TEST(GrpoTrainer, ShippedConfigsValidate) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(fs::path(R1_SOURCE_DIR) / "configs")) {
    const std::string name = e.path().filename().string();
    const bool grpo = name.rfind("r1-zero", 0) == 0 || name.rfind("countdown", 0) == 0 || name.rfind("gsm8k", 0) == 0;
    if (!grpo || e.path().extension() != ".yaml") continue;
    EXPECT_NO_THROW(load_config(e.path().string(), rl::grpo_config_schema())) << name;
    n++;
  }
  EXPECT_GE(n, 3);
}

namespace {
// A broken reward: NaN for every completion.
class NanReward : public rewards::Reward {
 public:
  std::string name() const override { return "nan_reward"; }
  rewards::RewardResult score(const rewards::RewardInput&) const override { return {std::nan(""), "broken"}; }
};
}  // namespace

TEST(GrpoTrainer, NonFiniteLossSkipsTheUpdateStopsTheRunAndKeepsCheckpointsClean) {
  rewards::register_reward("nan_reward", [](rewards::RewardParams& p) {
    p.finish();
    return std::unique_ptr<rewards::Reward>(new NanReward());
  });
  const auto root = temp_dir("nan");
  const std::string model = r1::test::make_micro_model(root / "base");
  const Config config = parse_config(yaml(model) + "rewards: [{name: nan_reward}]\n", "nan.yaml",
                                     rl::grpo_config_schema(), {"checkpoint.every=1", "checkpoint.keep=5"});
  rl::GrpoRunOptions o;
  o.run_dir = (root / "run").string();
  try {
    rl::run_grpo(config, o);
    FAIL() << "a run whose every loss is NaN must stop";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("non-finite"), std::string::npos) << e.what();
  }
  // The skipped steps were logged, and the checkpoints hold the untouched base weights.
  const auto records = read_metrics(fs::path(o.run_dir) / "metrics.jsonl");
  ASSERT_GE(records.size(), 3u);
  EXPECT_GT(records.back().values.at("train/skipped_updates"), 0.0);
  const ModelConfig c = load_model_config(model + "/config.json");
  ParamLayout layout(c);
  std::vector<float> base(size_t(layout.total())), saved(size_t(layout.total()));
  load_hf_weights(model, layout, base.data());
  load_hf_weights((fs::path(o.run_dir) / "checkpoints" / checkpoint_dir_name(2) / "model").string(), layout,
                  saved.data());
  for (size_t i = 0; i < base.size(); i++) ASSERT_EQ(base[i], saved[i]) << "parameter " << i;
}

// Gradient accumulation: micro-batches of a few responses, weighted by their share of the minibatch's
// responses (or tokens for token_mean), give the whole-minibatch gradient, so the run's losses and evaluations
// match the unsplit run up to float summation order. (The untrained micro model earns no reward, so the
// entropy bonus is what makes the gradient non-zero.)
TEST(GrpoTrainer, MicroBatchesGiveTheSameUpdatesAsWholeMinibatches) {
  const auto root = temp_dir("micro");
  const std::string model = r1::test::make_micro_model(root / "base");
  for (const std::string aggregation : {"seq_mean_token_mean", "token_mean"}) {
    const std::string base = yaml(model) + "seed: 5\n";
    auto run = [&](int micro_tokens, const std::string& name) {
      std::string y = base;
      y.replace(y.find("minibatches: 2}"), 15,
                "minibatches: 2, aggregation: " + aggregation + ", entropy_coef: 0.01, micro_batch_tokens: " +
                    std::to_string(micro_tokens) + "}");
      const Config config = parse_config(y, "test.yaml", rl::grpo_config_schema());
      rl::GrpoRunOptions o;
      o.run_dir = (root / (aggregation + name)).string();
      rl::run_grpo(config, o);
      return deterministic_metrics(o.run_dir);
    };
    const auto whole = run(0, "whole"), split = run(40, "split");
    ASSERT_EQ(whole.size(), split.size());
    ASSERT_GT(whole.at(1).at("train/grad_norm"), 0.0);
    for (const auto& [step, values] : whole)
      for (const auto& k : {"train/loss", "train/grad_norm", "train/kl", "reward/mean", "eval/accuracy"}) {
        if (!values.count(k)) continue;
        EXPECT_NEAR(values.at(k), split.at(step).at(k), 1e-4 * (1 + std::fabs(values.at(k))))
            << aggregation << " step " << step << " " << k;
      }
  }
}

// When the engine's log-probs cannot serve as the old policy's (a rollout temperature other than 1: the engine
// reports T = 1 log-probs), the first minibatch of the first epoch takes them from its own training forward: with
// one minibatch every ratio is exactly 1, so nothing is clipped (with the engine's log-probs as old ones, 6% of one step's tokens were).
// Later epochs reuse those log-probs: such a run must go through with finite losses.
TEST(GrpoTrainer, OldLogprobsOfTheFirstMinibatchComeFromItsOwnForward) {
  const auto root = temp_dir("oldlp");
  const std::string model = r1::test::make_micro_model(root / "base");
  auto run = [&](const std::string& grpo, const std::string& name) {
    // The language-consistency reward varies between random completions: advantages are not all zero.
    std::string y = yaml(model) + "seed: 3\nrewards: [{name: language, weight: 1.0}]\n";
    y.replace(y.find("minibatches: 2}"), 15, grpo + ", micro_batch_tokens: 40}");
    y.replace(y.find("rollout: {"), 10, "rollout: {temperature: 0.7, ");
    const Config config = parse_config(y, "test.yaml", rl::grpo_config_schema());
    rl::GrpoRunOptions o;
    o.run_dir = (root / name).string();
    rl::run_grpo(config, o);
    return deterministic_metrics(o.run_dir);
  };
  const auto single = run("minibatches: 1", "single");
  ASSERT_FALSE(single.empty());
  ASSERT_GT(single.at(1).at("reward/std"), 0.0);  // non-zero advantages: the ratios matter
  for (const auto& [step, values] : single) {
    if (!values.count("train/clip_fraction")) continue;
    EXPECT_EQ(values.at("train/clip_fraction"), 0.0) << "step " << step;
    EXPECT_TRUE(std::isfinite(values.at("train/loss"))) << "step " << step;
  }
  const auto epochs = run("minibatches: 2, epochs: 2", "epochs");
  ASSERT_EQ(epochs.size(), single.size());
  for (const auto& [step, values] : epochs) {
    if (values.count("train/loss")) {
      EXPECT_TRUE(std::isfinite(values.at("train/loss"))) << "step " << step;
    }
  }
}
