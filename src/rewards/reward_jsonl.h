// Scoring a JSONL file of completions with a composite reward (the library side of `r1 reward`): each line
// is an object holding the prompt, the completion and the reference (field names configurable); the scored
// file repeats every row with "rewards" {label: score}, "reward_reasons" {label: reason} and "reward" (the
// weighted total). Per-reward statistics: mean, standard deviation, min, max and pass rate (the share of
// rows scoring at least the pass threshold). A line that is not a JSON object, or lacks the completion,
// is an error naming file:line.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rewards/reward.h"

namespace r1::rewards {

struct RewardFields {
  std::string prompt = "prompt";
  std::string completion = "completion";
  std::string reference = "answer";  // when absent from a row, "reference" is tried; non-strings are dumped as JSON
  std::string metadata = "metadata";  // when absent from a row, the whole row is the metadata
};

// Reads `path`; `rows` (when given) receives each line's object.
std::vector<RewardInput> read_reward_inputs(const std::string& path, const RewardFields& fields,
                                            std::vector<nlohmann::json>* rows = nullptr);

struct RewardStats {
  std::string label;
  double weight = 1.0;
  size_t count = 0;
  double mean = 0, std = 0, min = 0, max = 0, pass_rate = 0;
};

// Statistics of one column of scores (population standard deviation).
RewardStats reward_stats(const std::string& label, double weight, const std::vector<double>& scores,
                         double pass_threshold);

struct RewardSummary {
  std::vector<RewardStats> parts;  // one per composite part
  RewardStats total;               // of the weighted totals (pass: total >= threshold * sum of weights)
  double seconds = 0;
};

// Scores `data` into `output` (written only when non-empty) on `threads` workers (0: all cores).
RewardSummary score_jsonl(const std::string& data, const std::string& output, const CompositeReward& reward,
                          const RewardFields& fields, int threads = 0, double pass_threshold = 1.0);

// A table: reward, weight, mean, std, min, max, pass rate.
std::string format_reward_summary(const RewardSummary& summary);

}  // namespace r1::rewards
