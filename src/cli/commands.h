// Each `r1` subcommand lives in its own file and registers itself here. The CLI stays thin: it parses
// arguments and calls libr1, nothing more.
#pragma once
#include <CLI/CLI.hpp>

namespace r1::cli {

void register_info(CLI::App& app);
void register_pretrain(CLI::App& app);
void register_grpo(CLI::App& app);
void register_tokenize(CLI::App& app);  // tokenize, tokenizer-train
void register_sample(CLI::App& app);    // sample: generation with the rollout engine
void register_reward(CLI::App& app);    // reward: score a JSONL of completions

}  // namespace r1::cli
