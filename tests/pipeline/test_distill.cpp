// The distillation job (rl/distill.h) end to end on micro models: a teacher SFT-trained on the addition task
// writes traces, a random student is fine-tuned on exactly those traces, every row of the table is evaluated,
// and a re-run skips what is finished — all of it, or only the stages before one whose outputs were removed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/config.h"
#include "core/error.h"
#include "support/micro_model.h"
#include "rl/distill.h"
#include "train/run_dir.h"

using namespace r1;
namespace fs = std::filesystem;

namespace {

// Micro settings: one-digit sums; the teacher (150 SFT steps) gets some right, so some traces are kept.
std::string micro_yaml(const std::string& teacher, const std::string& student, const std::string& run) {
  return "teacher_model: " + teacher + "\nstudent_model: " + student + "\nrun_dir: " + run +
         "\n"
         "traces:\n"
         "  problems: {count: 32, min_digits: 1, max_digits: 1}\n"
         "  sampling: {n: 4, max_new_tokens: 24, temperature: 0.6}\n"
         "  filter: {max_per_prompt: 2}\n"
         "sft:\n"
         "  data: {eval_fraction: 0}\n"
         "  train: {epochs: 2, batch_tokens: 512}\n"
         "  optim: {lr: 0.01, warmup_steps: 2}\n"
         "  eval: {every: 1000}\n"
         "  checkpoint: {every: 1000}\n"
         "eval:\n"
         "  addition: {count: 12, min_digits: 1, max_digits: 1}\n"
         "  sampling: {samples: 2, max_new_tokens: 24, stop: [\"</answer>\"]}\n"
         "  metrics: {pass_k: [1, 2], cons_k: [2]}\n"
         "  output: {examples: 1, samples: false}\n";
}

size_t count_lines(const fs::path& p) {
  std::ifstream f(p);
  size_t n = 0;
  for (std::string line; std::getline(f, line);) n += !line.empty();
  return n;
}

class Distill : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(test::temp_dir("distill"));
    // The teacher is given as its SFT run directory (resolved to the final checkpoint), the student as a model.
    const std::string teacher_model = test::make_sft_trained_model(*root_ / "teacher");
    teacher_ = new std::string(teacher_model);
    student_ = new std::string(test::make_micro_model(*root_ / "student", 11));
    run_ = new fs::path(*root_ / "run");
    first_ = new rl::DistillResult(rl::run_distill(config()));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete first_;
    delete run_;
    delete student_;
    delete teacher_;
    delete root_;
  }
  static Config config() {
    return parse_config(micro_yaml((*root_ / "teacher" / "sft").string(), *student_, run_->string()),
                        "micro-distill.yaml", rl::distill_config_schema());
  }
  static fs::path* root_;
  static std::string *teacher_, *student_;
  static fs::path* run_;
  static rl::DistillResult* first_;
};
fs::path* Distill::root_ = nullptr;
std::string* Distill::teacher_ = nullptr;
std::string* Distill::student_ = nullptr;
fs::path* Distill::run_ = nullptr;
rl::DistillResult* Distill::first_ = nullptr;

}  // namespace

TEST_F(Distill, EvaluatesTeacherStudentBeforeAndAfterInOrder) {
  const auto& names = rl::distill_stage_names();
  ASSERT_EQ(first_->stages.size(), names.size());
  for (size_t i = 0; i < names.size(); i++) {
    const rl::StageResult& s = first_->stages[i];
    EXPECT_EQ(s.stage, names[i]);
    EXPECT_FALSE(s.skipped) << s.stage;
    ASSERT_TRUE(s.metrics.contains("pass@1")) << s.stage;
    const double p = s.metrics.at("pass@1").at("value").get<double>();
    EXPECT_GE(p, 0.0);
    EXPECT_LE(p, 1.0);
    EXPECT_TRUE(fs::exists(*run_ / "eval" / s.stage / "results.json")) << s.stage;
  }
  // The teacher run directory resolved to its final checkpoint's model.
  EXPECT_EQ(first_->stages[0].model_dir, *teacher_);
  EXPECT_EQ(first_->stages[1].model_dir, *student_);
  EXPECT_EQ(fs::path(first_->stages[2].model_dir).parent_path().parent_path().parent_path(), *run_ / "sft");
  // The teacher was SFT-trained on the task, the student is random: the teacher must score, and the table
  // must say so (it is what the student is distilled from).
  EXPECT_GT(first_->stages[0].metrics.at("pass@1").at("value").get<double>(), 0.0);
}

TEST_F(Distill, TracesComeFromTheTeacherAndTrainTheStudent) {
  ASSERT_GT(first_->traces_kept, 0);
  EXPECT_EQ(first_->traces_sampled, 32 * 4);
  EXPECT_EQ(count_lines(first_->traces_path), size_t(first_->traces_kept));
  const auto stats = nlohmann::json::parse(read_file(*run_ / "traces" / "samples.stats.json"));
  EXPECT_EQ(stats.at("model").get<std::string>(), *teacher_);
  // Every kept trace is correct and well formed (the default filters), at most 2 per prompt.
  EXPECT_LE(first_->traces_kept, 32 * 2);
  std::ifstream f(first_->traces_path);
  for (std::string line; std::getline(f, line);) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j.at("scores").at("accuracy").get<double>(), 1.0) << line;
    EXPECT_NE(j.at("response").get<std::string>().find("<answer>"), std::string::npos) << line;
  }
  // The SFT run started from the student and read exactly the traces (eval_fraction 0: all of them train).
  const std::string yaml = read_file(*run_ / "sft" / "config.yaml");
  EXPECT_NE(yaml.find(*student_), std::string::npos);
  EXPECT_NE(yaml.find(first_->traces_path), std::string::npos);
  const auto summary = nlohmann::json::parse(read_file(*run_ / "sft" / "summary.json"));
  EXPECT_EQ(summary.at("training conversations").get<int64_t>(), first_->traces_kept);
  EXPECT_NE(first_->stages.back().detail.find("kept " + std::to_string(first_->traces_kept)), std::string::npos);
}

TEST_F(Distill, TableHasOneRowPerStageInMarkdownAndJson) {
  const std::string md = read_file(*run_ / "stages.md");
  EXPECT_EQ(md, first_->markdown);
  for (const auto& name : rl::distill_stage_names()) EXPECT_NE(md.find("| " + name + " |"), std::string::npos);
  const auto j = nlohmann::json::parse(read_file(*run_ / "stages.json"));
  ASSERT_EQ(j.at("stages").size(), rl::distill_stage_names().size());
  for (size_t i = 0; i < j.at("stages").size(); i++)
    EXPECT_DOUBLE_EQ(j["stages"][i]["metrics"]["pass@1"]["value"].get<double>(),
                     first_->stages[i].metrics.at("pass@1").at("value").get<double>());
}

TEST_F(Distill, RerunSkipsEverythingAndRedoesOnlyARemovedSft) {
  const auto traces_time = fs::last_write_time(first_->traces_path);
  const rl::DistillResult again = rl::run_distill(config());
  ASSERT_EQ(again.stages.size(), first_->stages.size());
  for (size_t i = 0; i < again.stages.size(); i++) {
    EXPECT_TRUE(again.stages[i].skipped) << again.stages[i].stage;
    EXPECT_EQ(again.stages[i].model_dir, first_->stages[i].model_dir);
    EXPECT_EQ(again.stages[i].metrics, first_->stages[i].metrics);
  }
  EXPECT_EQ(again.stages.back().detail, first_->stages.back().detail);  // rebuilt from the files on disk
  EXPECT_EQ(fs::last_write_time(first_->traces_path), traces_time);

  // Remove the SFT run and the distilled student's evaluation: only they run again, on the same traces, and
  // (SFT being deterministic in its seed) reproduce the first run's scores.
  fs::remove_all(*run_ / "sft");
  fs::remove_all(*run_ / "eval" / "student_distilled");
  const rl::DistillResult resumed = rl::run_distill(config());
  ASSERT_EQ(resumed.stages.size(), first_->stages.size());
  EXPECT_TRUE(resumed.stages[0].skipped);
  EXPECT_TRUE(resumed.stages[1].skipped);
  EXPECT_FALSE(resumed.stages[2].skipped);
  EXPECT_EQ(fs::last_write_time(first_->traces_path), traces_time);
  EXPECT_EQ(resumed.stages[2].metrics, first_->stages[2].metrics);
}

TEST_F(Distill, WithoutTeacherEvaluationTheTableStartsAtTheStudent) {
  const Config c = parse_config(micro_yaml((*root_ / "teacher" / "sft").string(), *student_, run_->string()) +
                       "evaluate_teacher: false\n",
                   "micro-distill.yaml", rl::distill_config_schema());
  const rl::DistillResult r = rl::run_distill(c);
  ASSERT_EQ(r.stages.size(), 2u);
  EXPECT_EQ(r.stages[0].stage, "student_base");
  EXPECT_EQ(r.stages[1].stage, "student_distilled");
  EXPECT_EQ(read_file(*run_ / "stages.md").find("| teacher |"), std::string::npos);
  rl::run_distill(config());  // restore the full table for the other tests
}

TEST_F(Distill, ComparedModelIsARowEvaluatedLikeTheOthers) {
  // The teacher again, as a compared model given by its run directory: its row scores what the teacher's did.
  const Config c = parse_config(micro_yaml((*root_ / "teacher" / "sft").string(), *student_, run_->string()) +
                                    "compare: [{name: teacher_again, model: " + (*root_ / "teacher" / "sft").string() +
                                    "}]\n",
                                "micro-distill.yaml", rl::distill_config_schema());
  const rl::DistillResult r = rl::run_distill(c);
  ASSERT_EQ(r.stages.size(), 4u);
  EXPECT_EQ(r.stages[2].stage, "teacher_again");
  EXPECT_FALSE(r.stages[2].skipped);
  EXPECT_EQ(r.stages[2].model_dir, *teacher_);
  EXPECT_EQ(r.stages[2].metrics, first_->stages[0].metrics);
  EXPECT_TRUE(r.stages[3].skipped);  // the distillation itself was done already
  const Config clash = parse_config(micro_yaml(*teacher_, *student_, run_->string()) +
                                        "compare: [{name: student_base, model: " + *student_ + "}]\n",
                                    "micro-distill.yaml", rl::distill_config_schema());
  EXPECT_THROW(rl::run_distill(clash), Error);
  rl::run_distill(config());  // restore the full table for the other tests
}

TEST(DistillConfig, TeacherThatIsNotAModelIsAnErrorNamingTheKey) {
  const fs::path dir = test::temp_dir("distill_missing_teacher");
  const std::string student = test::make_micro_model(dir / "student");
  const Config c = parse_config("teacher_model: " + (dir / "nope").string() + "\nstudent_model: " + student +
                                    "\nrun_dir: " + (dir / "run").string() + "\n",
                                "d.yaml", rl::distill_config_schema());
  try {
    rl::run_distill(c);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("teacher_model"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(DistillConfig, ShippedTinyConfigLoads) {
  const Config c = load_config(std::string(R1_SOURCE_DIR) + "/configs/distill-tiny.yaml", rl::distill_config_schema());
  EXPECT_EQ(c.get_string("traces.problems.split"), "train");
  EXPECT_EQ(c.get_strings("eval.benchmarks").at(0), "addition");
}
