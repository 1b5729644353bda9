// `r1 rejection-sample --config FILE [--model DIR] [--output FILE] [-n N] [--set key=value ...]`: sample N
// completions per prompt, keep those passing the configured rewards and filters, write SFT-ready JSONL and its
// statistics (also distillation data: sample from a teacher, then `r1 sft` a student). See rl/rejection_sampling.h.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/config.h"
#include "rl/rejection_sampling.h"

namespace r1::cli {

namespace {

struct RejectionArgs {
  std::string config, model, output;
  int n = 0;
  std::vector<std::string> overrides;
  bool describe = false;
};

void run_rejection_command(const RejectionArgs& a) {
  const auto& schema = rl::rejection_sampling_config_schema();
  if (a.describe) {
    std::printf("%s", schema.describe().c_str());
    return;
  }
  // Flags are shorthands for --set; JSON strings are valid YAML scalars, so paths need no escaping rules.
  std::vector<std::string> overrides;
  if (!a.model.empty()) overrides.push_back("model.path=" + nlohmann::json(a.model).dump());
  if (!a.output.empty()) overrides.push_back("output.path=" + nlohmann::json(a.output).dump());
  if (a.n > 0) overrides.push_back("sampling.n=" + std::to_string(a.n));
  overrides.insert(overrides.end(), a.overrides.begin(), a.overrides.end());
  const Config config = a.config.empty() ? parse_config("{}", "(command line)", schema, overrides)
                                         : load_config(a.config, schema, overrides);
  const auto r = rl::run_rejection_sampling(config);
  const auto& s = r.stats;
  std::printf("\nrejection sampling: kept %lld of %lld samples (%.1f%%); %lld of %lld prompts kept at least one\n",
              (long long)s.kept, (long long)s.samples, s.samples ? 100.0 * double(s.kept) / double(s.samples) : 0.0,
              (long long)s.prompts_with_kept, (long long)s.prompts);
  for (size_t i = 0; i < s.reward_labels.size(); i++)
    std::printf("  pass rate %-10s %5.1f%%\n", s.reward_labels[i].c_str(),
                s.samples ? 100.0 * double(s.reward_passes[i]) / double(s.samples) : 0.0);
  std::printf("  removed: %lld truncated, %lld too short, %lld too long, %lld failed a reward, %lld duplicates, "
              "%lld over the cap\n",
              (long long)s.truncated, (long long)s.too_short, (long long)s.too_long, (long long)s.failed_reward,
              (long long)s.duplicates, (long long)s.over_cap);
  std::printf("  data   %s\n  stats  %s\n", r.output_path.c_str(), r.stats_path.c_str());
}

}  // namespace

void register_rejection_sample(CLI::App& app) {
  auto a = std::make_shared<RejectionArgs>();
  auto* cmd = app.add_subcommand("rejection-sample",
                                 "Sample, keep what passes the rewards, write SFT data (rejection sampling, distillation)");
  cmd->add_option("--config", a->config, "YAML config (empty: defaults, the built-in addition task)");
  cmd->add_option("--model", a->model, "Model to sample from (sets model.path)");
  cmd->add_option("--output", a->output, "Output JSONL (sets output.path)");
  cmd->add_option("-n", a->n, "Samples per prompt (sets sampling.n)");
  cmd->add_option("--set", a->overrides, "Override a config key: --set filter.max_per_prompt=2 (repeatable)");
  cmd->add_flag("--describe-config", a->describe, "List every config key with its default and help");
  cmd->callback([a] { run_rejection_command(*a); });
}

}  // namespace r1::cli
