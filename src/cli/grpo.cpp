// `r1 grpo --config FILE [--set key=value ...] [--run runs/NAME] [--resume]`: the R1-Zero RL job.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "core/config.h"
#include "rl/grpo_trainer.h"

namespace r1::cli {

namespace {

struct GrpoArgs {
  std::string config = "configs/r1-zero-tiny.yaml", run = "runs/r1-zero-tiny";
  std::vector<std::string> overrides;
  bool resume = false, describe = false;
};

void run_grpo_command(const GrpoArgs& a) {
  const auto& schema = rl::grpo_config_schema();
  if (a.describe) {
    std::printf("%s", schema.describe().c_str());
    return;
  }
  const Config config = load_config(a.config, schema, a.overrides);
  rl::GrpoRunOptions o;
  o.run_dir = a.run;
  o.resume = a.resume;
  const auto s = rl::run_grpo(config, o);
  std::printf("\nR1-Zero result after %lld steps (held-out problems, pass@1):\n", (long long)s.steps);
  std::printf("  accuracy     %5.1f%% -> %5.1f%%  (%+.1f points)\n", 100 * s.base_accuracy, 100 * s.final_accuracy,
              100 * (s.final_accuracy - s.base_accuracy));
  std::printf("  format rate  %5.1f%% -> %5.1f%%\n", 100 * s.base_format_rate, 100 * s.final_format_rate);
  std::printf("  report       %s\n", (std::filesystem::path(a.run) / "report.html").c_str());
}

}  // namespace

void register_grpo(CLI::App& app) {
  auto a = std::make_shared<GrpoArgs>();
  auto* cmd = app.add_subcommand("grpo", "Reinforcement learning with GRPO (R1-Zero) on verifiable rewards");
  cmd->add_option("--config", a->config, "YAML config")->capture_default_str();
  cmd->add_option("--set", a->overrides, "Override a config key: --set grpo.beta=0.04 (repeatable)");
  cmd->add_option("--run,--run-dir", a->run, "Run directory (--run-dir under torchrun, whose own parser mistakes --run for its --run-path)")->capture_default_str();
  cmd->add_flag("--resume", a->resume, "Continue the run from its latest complete checkpoint");
  cmd->add_flag("--describe-config", a->describe, "List every config key with its default and help");
  cmd->callback([a] { run_grpo_command(*a); });
}

}  // namespace r1::cli
