// Rejection sampling (DeepSeek-R1 §2.3.3) and distillation data generation: for each prompt draw N samples
// from a model, keep those that pass every configured reward (a correct answer, the <think>/<answer> format,
// one language...) and the length limits, drop duplicates, keep at most max_per_prompt per prompt, and write
// an SFT-ready JSONL ({"prompt", "response"} or {"messages"}) that `r1 sft` reads, with statistics: pass rate
// of each reward, what each filter removed, and how many samples each prompt kept.
//
// Selection is a pure function of the scored candidates (select_samples), so it is tested without a model;
// run_rejection_sampling adds the generation (gen::Engine) and the rewards around it.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "data/problem.h"

namespace r1::rl {

// One sampled completion and the score each configured reward gave it.
struct Candidate {
  int prompt = 0;             // index of its prompt
  std::string text;           // the completion
  int tokens = 0;             // completion length in tokens
  std::string finish_reason;  // "eos", "stop" or "length" (cut off by the token limit)
  std::vector<double> scores;  // per reward, parallel to RejectionFilter::min_scores
};

struct RejectionFilter {
  std::vector<std::string> reward_labels;  // for the statistics
  std::vector<double> min_scores;          // a candidate passes reward r when scores[r] >= min_scores[r]
  int min_tokens = 0;                      // completions shorter than this are dropped
  int max_tokens = 0;                      // longer ones too (0: no limit)
  bool drop_truncated = true;              // drop completions cut off by the token limit
  bool dedupe = true;                      // drop repeats of a kept completion of the same prompt (dedupe_key)
  int max_per_prompt = 0;                  // keep at most this many per prompt (0: no cap)
  bool prefer_shortest = false;            // under the cap keep the shortest (else the first sampled)
};

// Why a candidate was not kept, in the order the filters apply: the first that applies is recorded.
enum class Rejection { Kept, Truncated, TooShort, TooLong, FailedReward, Duplicate, OverCap };
const char* rejection_name(Rejection r);  // "kept", "truncated", "too_short", "too_long", "failed_reward", ...

struct RejectionStats {
  int64_t prompts = 0, samples = 0, kept = 0, prompts_with_kept = 0;
  std::vector<std::string> reward_labels;
  std::vector<int64_t> reward_passes;  // per reward: samples that passed it (before any other filter)
  int64_t all_rewards_passed = 0;      // samples that passed every reward
  int64_t truncated = 0, too_short = 0, too_long = 0, failed_reward = 0, duplicates = 0, over_cap = 0;
  std::vector<int> kept_per_prompt;    // per prompt
  double kept_tokens_mean = 0;

  nlohmann::json to_json() const;  // pass rates, filter counts, kept-per-prompt histogram
};

// Whitespace-insensitive identity of a completion: trimmed, runs of whitespace collapsed to one space.
std::string dedupe_key(std::string_view text);

// Decides every candidate's fate. Candidates of a prompt are considered in the order given (sample order); with
// prefer_shortest the cap keeps the shortest passing ones (ties: earlier first). Returns one entry per candidate
// and fills `stats` (which must not be null) for `num_prompts` prompts.
std::vector<Rejection> select_samples(const std::vector<Candidate>& candidates, int num_prompts,
                                      const RejectionFilter& filter, RejectionStats* stats);

// One SFT record for a kept sample: {"prompt", "response"} or {"messages": [user, assistant]}, plus "id" (and
// "source" facts: scores) when given.
nlohmann::json sft_record(const data::Problem& problem, const std::string& response, const std::string& format,
                          const nlohmann::json& extra = nullptr);

// ---- the `r1 rejection-sample` job ----

const ConfigSchema& rejection_sampling_config_schema();

struct RejectionRunResult {
  RejectionStats stats;
  std::string output_path, stats_path;
};

// Loads the model and the problems, samples, scores, selects and writes output.path (atomically) and its
// statistics (output.stats, default "<output.path minus .jsonl>.stats.json").
RejectionRunResult run_rejection_sampling(const Config& config);

}  // namespace r1::rl
