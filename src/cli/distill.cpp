// `r1 distill --config FILE [--set key=value ...] [--run DIR]`: sample a teacher's correct reasoning traces and
// fine-tune a student on them, with the teacher / student-before / student-after evaluation table.
// See rl/distill.h.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "core/config.h"
#include "rl/distill.h"

namespace r1::cli {

namespace {

struct DistillArgs {
  std::string config = "configs/distill-tiny.yaml", run;
  std::vector<std::string> overrides;
  bool describe = false;
};

void run_distill_command(const DistillArgs& a) {
  const auto& schema = rl::distill_config_schema();
  if (a.describe) {
    std::printf("%s", schema.describe().c_str());
    return;
  }
  const Config config = load_config(a.config, schema, a.overrides);
  rl::DistillOptions o;
  o.run_dir = a.run;
  const rl::DistillResult r = rl::run_distill(config, o);
  std::printf("\n%s\nTraces: %s (%lld of %lld teacher samples kept)\nTable: %s/stages.md and stages.json\n",
              r.markdown.c_str(), r.traces_path.c_str(), (long long)r.traces_kept, (long long)r.traces_sampled,
              r.run_dir.c_str());
}

}  // namespace

void register_distill(CLI::App& app) {
  auto a = std::make_shared<DistillArgs>();
  auto* cmd = app.add_subcommand("distill", "Distillation: a teacher's correct traces fine-tune a student, evaluated before/after");
  cmd->add_option("--config", a->config, "YAML config (teacher_model, student_model, traces, sft, eval)")
      ->capture_default_str();
  cmd->add_option("--set", a->overrides, "Override a config key: --set sft.train.epochs=4 (repeatable)");
  cmd->add_option("--run,--run-dir", a->run, "Run directory (default: the config's run_dir; --run-dir under torchrun); re-running resumes");
  cmd->add_flag("--describe-config", a->describe, "List every config key with its default and help");
  cmd->callback([a] { run_distill_command(*a); });
}

}  // namespace r1::cli
