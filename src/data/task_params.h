// Reads the knob overrides of a generated task (TaskOptions::params), checking types and ranges, and rejects
// knobs the task does not have, so a typo in a config cannot silently fall back to a default.
#pragma once
#include <cstdint>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

namespace r1::data {

class TaskParams {
 public:
  TaskParams(std::string task, const nlohmann::json& params);
  // params[key] if present (an integer in [lo, hi]), else `fallback`.
  int64_t integer(const std::string& key, int64_t fallback, int64_t lo, int64_t hi);
  // params[key] if present (a non-empty string whose characters are all in `allowed`), else `fallback`.
  std::string chars(const std::string& key, const std::string& fallback, const std::string& allowed);
  // Throws for every key that was not read: the task has no such knob.
  void reject_unknown() const;
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;

 private:
  std::string task_;
  const nlohmann::json& params_;
  std::set<std::string> known_;
};

// Clamps a difficulty to 1..5 after checking it (out of range is an error naming the task).
int checked_difficulty(const std::string& task, int difficulty);

}  // namespace r1::data
