// Reward interface of the R1 recipe: a reward is a pure function of (prompt, completion, reference answer or
// tests, metadata) -> score plus a short reason. Rewards are created by name from a registry with a params
// node (JSON, or YAML converted to JSON) and compose by weight:
//     rewards: [{name: accuracy, weight: 1}, {name: format, weight: 0.1, params: {mode: soft}}]
// A composite scores a batch on a thread pool and returns every part's score plus the weighted total.
// Unknown reward names and unknown keys are user errors (r1::Error naming the key), never silently ignored,
// because a misspelt option would otherwise train with a reward nobody asked for.
#pragma once
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace r1 {
class ThreadPool;
}

namespace r1::rewards {

struct RewardInput {
  std::string prompt, completion;
  std::string reference;    // gold answer, or a tests JSON for the code reward
  nlohmann::json metadata;  // task fields (countdown target/nums, language, ...); null when none
};

struct RewardResult {
  double score = 0.0;
  std::string reason;  // short: "exact match", "missing </think>", "3/5 tests passed", ...
};

class Reward {
 public:
  virtual ~Reward() = default;
  virtual std::string name() const = 0;
  // Must be safe to call from several threads at once (rewards hold no mutable state).
  virtual RewardResult score(const RewardInput& input) const = 0;
};

// Reads a reward's params object and remembers which keys were read, so that finish() can reject the rest
// by name. `source` and `path` place errors: "<source>: field '<path>.<key>': ...".
class RewardParams {
 public:
  RewardParams(const nlohmann::json& params, std::string source, std::string path);
  double get_number(const std::string& key, double fallback);
  bool get_bool(const std::string& key, bool fallback);
  std::string get_string(const std::string& key, const std::string& fallback);
  // One of `choices`; anything else is an error listing them.
  std::string get_choice(const std::string& key, const std::string& fallback, const std::vector<std::string>& choices);
  std::vector<std::string> get_strings(const std::string& key, const std::vector<std::string>& fallback);
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;
  void finish() const;  // throws on the first key that no getter asked for

 private:
  const nlohmann::json* find(const std::string& key);
  nlohmann::json params_;
  std::string source_, path_;
  std::set<std::string> used_;
};

using RewardFactory = std::function<std::unique_ptr<Reward>(RewardParams& params)>;

// Adds a reward to the registry (the built-ins — accuracy, format, language, countdown, code — are
// registered on first use). Registering a taken name is a programming error.
void register_reward(const std::string& name, RewardFactory factory);
std::vector<std::string> reward_names();  // sorted
// Creates `name` with `params` (null or an object). Errors name `source` and `path` (e.g. "rewards[1]").
std::unique_ptr<Reward> create_reward(const std::string& name, const nlohmann::json& params = nullptr,
                                      const std::string& source = "rewards", const std::string& path = "params");

// YAML text -> JSON (scalars become int, float, bool or string as YAML 1.2's core schema reads them).
nlohmann::json yaml_to_json(const std::string& yaml_text, const std::string& source);

struct ScoredInput {
  std::vector<RewardResult> parts;  // one per composite part, in order
  double total = 0.0;               // sum of weight * part score
};

class CompositeReward {
 public:
  struct Part {
    std::string label;  // "format", or the entry's `label` when one reward appears twice
    double weight = 1.0;
    std::unique_ptr<Reward> reward;
  };

  CompositeReward() = default;
  // `spec` is a list of entries {name, weight?, label?, params?} or an object {rewards: [...]}.
  static CompositeReward from_json(const nlohmann::json& spec, const std::string& source);
  static CompositeReward from_yaml(const std::string& yaml_text, const std::string& source);
  // "accuracy,format:0.1" — comma-separated names with optional ":weight" (the CLI's --rewards).
  static CompositeReward from_list(const std::string& list, const std::string& source = "--rewards");

  void add(std::string label, double weight, std::unique_ptr<Reward> reward);
  const std::vector<Part>& parts() const { return parts_; }
  std::vector<std::string> labels() const;

  ScoredInput score(const RewardInput& input) const;
  // Scores every input on `pool` (one task per input; parts of an input run in order on that task).
  std::vector<ScoredInput> score_batch(const std::vector<RewardInput>& inputs, ThreadPool& pool) const;
  // The same on a pool of `threads` workers made for the call (0: one per hardware thread).
  std::vector<ScoredInput> score_batch(const std::vector<RewardInput>& inputs, int threads = 0) const;

 private:
  std::vector<Part> parts_;
};

}  // namespace r1::rewards
