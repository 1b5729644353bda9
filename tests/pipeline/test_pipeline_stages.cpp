// The R1 pipeline job (rl/pipeline.h): a micro pipeline runs every stage in order with each stage's model
// feeding the next, writes one table row per stage, and a re-run skips what is finished — all of it, or only
// the stages before one whose outputs were removed.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "core/config.h"
#include "core/error.h"
#include "support/micro_model.h"
#include "rl/pipeline.h"
#include "train/run_dir.h"

using namespace r1;
namespace fs = std::filesystem;

namespace {

// Micro settings: one-digit sums, a cold start long enough that the model gets some right (so rejection
// sampling keeps samples), a couple of steps for every other stage.
std::string micro_yaml(const std::string& base, const std::string& run) {
  return "base_model: " + base + "\nrun_dir: " + run +
         "\n"
         "cold_start:\n"
         "  data: {source: addition, count: 2000, eval_count: 8, min_digits: 1, max_digits: 1}\n"
         "  train: {max_steps: 150, batch_tokens: 1024}\n"
         "  optim: {lr: 0.01, warmup_steps: 5}\n"
         "  eval: {every: 1000}\n"
         "  checkpoint: {every: 1000}\n"
         "reasoning_rl:\n"
         "  task: {min_digits: 1, max_digits: 1}\n"
         "  grpo: {steps: 2, prompts_per_step: 4, group_size: 4}\n"
         "  rollout: {max_new_tokens: 24}\n"
         "  eval: {every: 10, problems: 8, samples: 1}\n"
         "  checkpoint: {every: 10}\n"
         "rejection:\n"
         "  problems: {count: 24, min_digits: 1, max_digits: 1}\n"
         "  sampling: {n: 4, max_new_tokens: 24, temperature: 0.6}\n"
         "rejection_sft:\n"
         "  data: {eval_fraction: 0}\n"
         "  train: {max_steps: 3, batch_tokens: 1024}\n"
         "  optim: {lr: 0.001}\n"
         "  eval: {every: 1000}\n"
         "  checkpoint: {every: 1000}\n"
         "final_rl:\n"
         "  task: {min_digits: 1, max_digits: 1}\n"
         "  grpo: {steps: 2, prompts_per_step: 4, group_size: 4}\n"
         "  rollout: {max_new_tokens: 24}\n"
         "  eval: {every: 10, problems: 8, samples: 1}\n"
         "  checkpoint: {every: 10}\n"
         "eval:\n"
         "  addition: {count: 12, min_digits: 1, max_digits: 1}\n"
         "  sampling: {samples: 2, max_new_tokens: 24, stop: [\"</answer>\"]}\n"
         "  metrics: {pass_k: [1, 2], cons_k: [2]}\n"
         "  output: {examples: 1, samples: false}\n";
}

class PipelineStages : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(test::temp_dir("pipeline_stages"));
    base_ = new std::string(test::make_micro_model(*root_ / "base"));
    run_ = new fs::path(*root_ / "run");
    first_ = new rl::PipelineResult(rl::run_pipeline(config()));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete first_;
    delete run_;
    delete base_;
    delete root_;
  }
  static Config config() {
    return parse_config(micro_yaml(*base_, run_->string()), "micro-pipeline.yaml", rl::pipeline_config_schema());
  }
  static fs::path* root_;
  static std::string* base_;
  static fs::path* run_;
  static rl::PipelineResult* first_;
};
fs::path* PipelineStages::root_ = nullptr;
std::string* PipelineStages::base_ = nullptr;
fs::path* PipelineStages::run_ = nullptr;
rl::PipelineResult* PipelineStages::first_ = nullptr;

}  // namespace

TEST_F(PipelineStages, RunsEveryStageInOrderEachFromThePreviousModel) {
  const auto& names = rl::pipeline_stage_names();
  ASSERT_EQ(first_->stages.size(), names.size());
  for (size_t i = 0; i < names.size(); i++) {
    const rl::StageResult& s = first_->stages[i];
    EXPECT_EQ(s.stage, names[i]);
    EXPECT_FALSE(s.skipped) << s.stage;
    EXPECT_TRUE(fs::exists(fs::path(s.model_dir) / "config.json")) << s.stage << ": " << s.model_dir;
    ASSERT_TRUE(s.metrics.contains("pass@1")) << s.stage;
    const double p = s.metrics.at("pass@1").at("value").get<double>();
    EXPECT_GE(p, 0.0);
    EXPECT_LE(p, 1.0);
    EXPECT_TRUE(s.metrics.contains("pass@2") && s.metrics.contains("cons@2")) << s.stage;
    EXPECT_TRUE(fs::exists(*run_ / "eval" / s.stage / "results.json")) << s.stage;
  }
  EXPECT_EQ(first_->stages[0].model_dir, *base_);
  // Each training stage wrote its own run and its model is its own final checkpoint, not the previous one.
  for (size_t i = 1; i < names.size(); i++) {
    EXPECT_TRUE(fs::exists(*run_ / names[i] / "summary.json")) << names[i];
    EXPECT_EQ(fs::path(first_->stages[i].model_dir).parent_path().parent_path().parent_path(), *run_ / names[i]);
  }
  // Each stage started from the previous stage's model (the resolved config the stage's run wrote says so).
  for (size_t i = 1; i < names.size(); i++) {
    const std::string yaml = read_file(*run_ / names[i] / "config.yaml");
    EXPECT_NE(yaml.find(first_->stages[i - 1].model_dir), std::string::npos) << names[i];
  }
  EXPECT_TRUE(fs::exists(*run_ / "rejection" / "samples.jsonl"));
  EXPECT_TRUE(fs::exists(*run_ / "rejection" / "samples.stats.json"));
}

TEST_F(PipelineStages, TableHasOneRowPerStageInMarkdownAndJson) {
  const std::string md = read_file(*run_ / "stages.md");
  EXPECT_EQ(md, first_->markdown);
  size_t rows = 0;
  for (size_t pos = 0; (pos = md.find("\n| ", pos)) != std::string::npos; pos++) rows++;
  EXPECT_EQ(rows, rl::pipeline_stage_names().size());  // the header is the first line, not after a newline
  for (const auto& name : rl::pipeline_stage_names()) EXPECT_NE(md.find("| " + name + " |"), std::string::npos);
  EXPECT_NE(md.find("pass@1"), std::string::npos);
  const auto j = nlohmann::json::parse(read_file(*run_ / "stages.json"));
  ASSERT_EQ(j.at("stages").size(), rl::pipeline_stage_names().size());
  for (size_t i = 0; i < j.at("stages").size(); i++) {
    EXPECT_EQ(j["stages"][i]["stage"], rl::pipeline_stage_names()[i]);
    EXPECT_DOUBLE_EQ(j["stages"][i]["metrics"]["pass@1"]["value"].get<double>(),
                     first_->stages[i].metrics.at("pass@1").at("value").get<double>());
  }
}

TEST_F(PipelineStages, RerunSkipsFinishedStagesAndResumesAtARemovedOne) {
  const auto summary_time = fs::last_write_time(*run_ / "cold_start" / "summary.json");
  const rl::PipelineResult again = rl::run_pipeline(config());
  ASSERT_EQ(again.stages.size(), first_->stages.size());
  for (size_t i = 0; i < again.stages.size(); i++) {
    EXPECT_TRUE(again.stages[i].skipped) << again.stages[i].stage;
    EXPECT_EQ(again.stages[i].model_dir, first_->stages[i].model_dir);
    EXPECT_EQ(again.stages[i].metrics, first_->stages[i].metrics);
  }
  EXPECT_EQ(fs::last_write_time(*run_ / "cold_start" / "summary.json"), summary_time);

  // Remove the last stage's outputs: only it runs again, from the same rejection-SFT model.
  fs::remove_all(*run_ / "final_rl");
  fs::remove_all(*run_ / "eval" / "final_rl");
  const rl::PipelineResult resumed = rl::run_pipeline(config());
  ASSERT_EQ(resumed.stages.size(), first_->stages.size());
  for (size_t i = 0; i + 1 < resumed.stages.size(); i++) EXPECT_TRUE(resumed.stages[i].skipped);
  EXPECT_FALSE(resumed.stages.back().skipped);
  EXPECT_TRUE(fs::exists(*run_ / "final_rl" / "summary.json"));
  // GRPO is deterministic in (seed, step): the re-run final stage scores what the first one did.
  EXPECT_EQ(resumed.stages.back().metrics, first_->stages.back().metrics);
}

TEST(PipelineConfig, UnknownKeyInAStageSectionNamesItsFullPath) {
  try {
    parse_config("base_model: x\nreasoning_rl: {grpo: {stepz: 3}}\n", "p.yaml", rl::pipeline_config_schema());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("reasoning_rl.grpo.stepz"), std::string::npos) << e.what();
  }
}

TEST(PipelineConfig, MissingBaseModelIsAnErrorNamingTheKey) {
  const fs::path dir = test::temp_dir("pipeline_missing_base");
  const Config c = parse_config("base_model: " + (dir / "nope").string() + "\nrun_dir: " + (dir / "run").string() + "\n",
                                "p.yaml", rl::pipeline_config_schema());
  try {
    rl::run_pipeline(c);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("base_model"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(PipelineConfig, ShippedTinyConfigLoads) {
  const Config c = load_config(std::string(R1_SOURCE_DIR) + "/configs/r1-tiny.yaml", rl::pipeline_config_schema());
  EXPECT_EQ(c.get_string("cold_start.data.source"), "addition");
  EXPECT_EQ(c.get_string("rejection.problems.split"), "train");
  EXPECT_EQ(rl::pipeline_section(c, "final_rl").get_int("grpo.steps"), 30);
}
