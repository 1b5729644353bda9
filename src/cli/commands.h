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
void register_convert(CLI::App& app);   // convert: write a complete Hugging Face model directory
void register_debug_forward(CLI::App& app);  // debug-forward: per-token log-probs and loss (parity checks)
void register_sft(CLI::App& app);       // sft: supervised fine-tuning
void register_rejection_sample(CLI::App& app);  // rejection-sample: SFT data from a model's passing samples
void register_eval(CLI::App& app);      // eval: pass@k / cons@k on benchmarks
void register_pipeline(CLI::App& app);  // pipeline: the R1 stages in order, per-stage eval table
void register_distill(CLI::App& app);   // distill: teacher traces -> SFT of a student, eval before/after

void register_launch(CLI::App& app);     // launch: N local data-parallel ranks (torchrun's variables)

}  // namespace r1::cli
