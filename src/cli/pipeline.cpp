// `r1 pipeline --config FILE [--set key=value ...] [--run DIR]`: the DeepSeek-R1 pipeline (cold-start SFT,
// reasoning RL, rejection sampling + SFT, final RL) with a per-stage evaluation table. See rl/pipeline.h.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "core/config.h"
#include "rl/pipeline.h"

namespace r1::cli {

namespace {

struct PipelineArgs {
  std::string config = "configs/r1-tiny.yaml", run;
  std::vector<std::string> overrides;
  bool describe = false;
};

void run_pipeline_command(const PipelineArgs& a) {
  const auto& schema = rl::pipeline_config_schema();
  if (a.describe) {
    std::printf("%s", schema.describe().c_str());
    return;
  }
  const Config config = load_config(a.config, schema, a.overrides);
  rl::PipelineOptions o;
  o.run_dir = a.run;
  const rl::PipelineResult r = rl::run_pipeline(config, o);
  std::printf("\n%s\nTable: %s/stages.md and stages.json\n", r.markdown.c_str(), r.run_dir.c_str());
}

}  // namespace

void register_pipeline(CLI::App& app) {
  auto a = std::make_shared<PipelineArgs>();
  auto* cmd = app.add_subcommand("pipeline", "The R1 pipeline: cold-start SFT, RL, rejection sampling + SFT, final RL");
  cmd->add_option("--config", a->config, "YAML config (one section per stage)")->capture_default_str();
  cmd->add_option("--set", a->overrides, "Override a config key: --set final_rl.grpo.steps=10 (repeatable)");
  cmd->add_option("--run,--run-dir", a->run, "Run directory (default: the config's run_dir; --run-dir under torchrun); re-running resumes");
  cmd->add_flag("--describe-config", a->describe, "List every config key with its default and help");
  cmd->callback([a] { run_pipeline_command(*a); });
}

}  // namespace r1::cli
