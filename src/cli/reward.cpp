// `r1 reward`: scores a JSONL file of completions with weighted rewards and prints per-reward statistics.
//   r1 reward --data completions.jsonl --rewards accuracy,format:0.1 --output scored.jsonl
//   r1 reward --data completions.jsonl --config rewards.yaml      (rewards: [{name, weight, params}])
// Thin over src/rewards (reward_jsonl.h).
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "core/error.h"
#include "rewards/reward.h"
#include "rewards/reward_jsonl.h"

namespace r1::cli {
namespace {

struct RewardArgs {
  std::string data, output, rewards, config;
  rewards::RewardFields fields;
  int threads = 0;
  double pass_threshold = 1.0;
  bool list = false;
};

void run_reward(const RewardArgs& a) {
  if (a.list) {
    for (const auto& name : rewards::reward_names()) std::printf("%s\n", name.c_str());
    return;
  }
  if (a.data.empty()) throw Error("--data is required");
  if (a.rewards.empty() == a.config.empty()) throw Error("give exactly one of --rewards and --config");
  rewards::CompositeReward reward;
  if (!a.config.empty()) {
    std::ifstream in(a.config);
    if (!in) fail_in_file(a.config, "cannot open file");
    std::ostringstream text;
    text << in.rdbuf();
    reward = rewards::CompositeReward::from_yaml(text.str(), a.config);
  } else {
    reward = rewards::CompositeReward::from_list(a.rewards);
  }
  const rewards::RewardSummary summary =
      rewards::score_jsonl(a.data, a.output, reward, a.fields, a.threads, a.pass_threshold);
  std::printf("%s", rewards::format_reward_summary(summary).c_str());
  if (!a.output.empty()) std::printf("scored rows written to %s\n", a.output.c_str());
}

}  // namespace

void register_reward(CLI::App& app) {
  auto a = std::make_shared<RewardArgs>();
  auto* cmd = app.add_subcommand("reward", "Score a JSONL file of completions with weighted rewards");
  cmd->add_option("--data", a->data, "JSONL input: one object per line with prompt, completion and answer");
  cmd->add_option("--rewards", a->rewards, "Comma-separated rewards with optional weights: accuracy,format:0.1");
  cmd->add_option("--config", a->config, "YAML file with rewards: [{name, weight, label, params}]");
  cmd->add_option("--output", a->output, "Scored JSONL: each row plus rewards, reward_reasons and reward");
  cmd->add_option("--field-prompt", a->fields.prompt, "Field holding the prompt")->capture_default_str();
  cmd->add_option("--field-completion", a->fields.completion, "Field holding the completion")->capture_default_str();
  cmd->add_option("--field-reference", a->fields.reference,
                  "Field holding the gold answer or tests (falls back to 'reference')")
      ->capture_default_str();
  cmd->add_option("--field-metadata", a->fields.metadata, "Field holding task metadata (default: the whole row)")
      ->capture_default_str();
  cmd->add_option("--threads", a->threads, "Worker threads (0: all cores)")->capture_default_str();
  cmd->add_option("--pass-threshold", a->pass_threshold, "A score counts as a pass at or above this")
      ->capture_default_str();
  cmd->add_flag("--list", a->list, "List the available rewards and exit");
  cmd->callback([a] { run_reward(*a); });
}

}  // namespace r1::cli
