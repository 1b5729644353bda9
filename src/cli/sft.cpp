// `r1 sft --config FILE [--set key=value ...] [--run runs/NAME] [--resume]`: supervised fine-tuning with the loss
// on the assistant's tokens (cold start, rejection-sampling SFT, distillation). See train/sft.h.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "core/config.h"
#include "train/sft.h"

namespace r1::cli {

namespace {

struct SftArgs {
  std::string config = "configs/sft-tiny.yaml", run = "runs/sft-tiny";
  std::vector<std::string> overrides;
  bool resume = false, describe = false;
};

void run_sft_command(const SftArgs& a) {
  const auto& schema = sft_config_schema();
  if (a.describe) {
    std::printf("%s", schema.describe().c_str());
    return;
  }
  const Config config = load_config(a.config, schema, a.overrides);
  SftRunOptions o;
  o.run_dir = a.run;
  o.resume = a.resume;
  const SftSummary s = run_sft(config, o);
  std::printf("\nSFT after %lld steps on %lld conversations (%lld assistant tokens per epoch):\n", (long long)s.steps,
              (long long)s.train_examples, (long long)s.train_target_tokens);
  std::printf("  training loss  %.4f -> %.4f\n", s.first_loss, s.final_loss);
  if (std::isfinite(s.base_eval_loss) || std::isfinite(s.final_eval_loss))
    std::printf("  held-out loss  %.4f -> %.4f  (%lld conversations)\n", s.base_eval_loss, s.final_eval_loss,
                (long long)s.eval_examples);
  std::printf("  model          %s\n", s.model_dir.c_str());
  std::printf("  report         %s\n", (std::filesystem::path(a.run) / "report.html").c_str());
}

}  // namespace

void register_sft(CLI::App& app) {
  auto a = std::make_shared<SftArgs>();
  auto* cmd = app.add_subcommand("sft", "Supervised fine-tuning on conversations (loss on assistant tokens only)");
  cmd->add_option("--config", a->config, "YAML config")->capture_default_str();
  cmd->add_option("--set", a->overrides, "Override a config key: --set optim.lr=1e-4 (repeatable)");
  cmd->add_option("--run,--run-dir", a->run, "Run directory (--run-dir under torchrun, whose own parser mistakes --run for its --run-path)")->capture_default_str();
  cmd->add_flag("--resume", a->resume, "Continue the run from its latest complete checkpoint");
  cmd->add_flag("--describe-config", a->describe, "List every config key with its default and help");
  cmd->callback([a] { run_sft_command(*a); });
}

}  // namespace r1::cli
