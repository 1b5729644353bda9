// The building blocks shared by `r1 pipeline` and `r1 distill` (rl/pipeline.h): how a job's section becomes a
// stage's own config (model link, job-level device, set values) and how model paths resolve.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "core/config.h"
#include "core/error.h"
#include "support/error_of.h"
#include "support/micro_model.h"
#include "rl/pipeline.h"

using namespace r1;
using r1::test::error_of;
namespace fs = std::filesystem;

namespace {

Config job(nlohmann::ordered_json v) { return Config(std::move(v), "job.yaml"); }

}  // namespace

TEST(StageLinks, SectionGetsModelAndSetValuesAtDottedPaths) {
  const Config j = job({{"device", nullptr}, {"sft", {{"model", {{"path", ""}, {"template", "t"}}}, {"seed", 3}}}});
  const Config c = rl::linked_section(j, "sft", "/m", {{"data.path", "/d.jsonl"}, {"seed", 5}});
  EXPECT_EQ(c.get_string("model.path"), "/m");
  EXPECT_EQ(c.get_string("model.template"), "t");
  EXPECT_EQ(c.get_string("data.path"), "/d.jsonl");
  EXPECT_EQ(c.get_int("seed"), 5);
  EXPECT_FALSE(c.has("device"));  // null job device: the section keeps its own (none here)
  EXPECT_NE(c.source().find("sft"), std::string::npos);
}

TEST(StageLinks, JobDeviceOverridesEverySectionsDevice) {
  const Config j = job({{"device", "cuda"}, {"rl", {{"device", "cpu"}, {"model", {{"path", ""}}}}}});
  EXPECT_EQ(rl::linked_section(j, "rl", "/m").get_string("device"), "cuda");
}

TEST(StageLinks, JobDeviceForASectionWithoutDeviceKeyIsAnErrorNamingIt) {
  const Config j = job({{"device", "cuda"}, {"eval", {{"model", {{"path", ""}}}}}});
  const std::string e = error_of([&] { rl::linked_section(j, "eval", "/m"); });
  EXPECT_NE(e.find("device"), std::string::npos) << e;
  EXPECT_NE(e.find("eval"), std::string::npos) << e;
}

TEST(StageLinks, DeviceKeyAcceptsOnlyKnownDevicesOrNull) {
  ConfigSchema s;
  rl::add_job_device_key(s);
  EXPECT_TRUE(parse_config("{}", "d.yaml", s).is_null("device"));
  EXPECT_EQ(parse_config("device: cuda", "d.yaml", s).get_string("device"), "cuda");
  EXPECT_THROW(parse_config("device: tpu", "d.yaml", s), Error);
}

TEST(StageLinks, ModelPathResolvesModelDirsAndRejectsOthersNamingTheField) {
  const fs::path dir = test::temp_dir("stage_links");
  const std::string model = test::make_micro_model(dir / "m");
  EXPECT_EQ(rl::resolve_model_dir(model, "job.yaml", "teacher_model"), model);
  const std::string e = error_of([&] { rl::resolve_model_dir((dir / "none").string(), "job.yaml", "teacher_model"); });
  EXPECT_NE(e.find("teacher_model"), std::string::npos) << e;
  fs::create_directories(dir / "run" / "checkpoints");  // a run directory that never finished a checkpoint
  const std::string e2 = error_of([&] { rl::resolve_model_dir((dir / "run").string(), "job.yaml", "student_model"); });
  EXPECT_NE(e2.find("without a complete checkpoint"), std::string::npos) << e2;
  fs::remove_all(dir);
}

TEST(StageLinks, ShippedGpuPipelineConfigLoadsWithCudaDevice) {
  const Config c =
      load_config(std::string(R1_SOURCE_DIR) + "/configs/r1-qwen2.5-0.5b-gpu.yaml", rl::pipeline_config_schema());
  EXPECT_EQ(c.get_string("device"), "cuda");
  EXPECT_GE(c.get_int("reasoning_rl.grpo.group_size"), 8);
}
