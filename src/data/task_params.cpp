#include "data/task_params.h"

#include "core/error.h"

namespace r1::data {

TaskParams::TaskParams(std::string task, const nlohmann::json& params) : task_(std::move(task)), params_(params) {
  if (!params_.is_null() && !params_.is_object()) fail_in_field("task '" + task_ + "'", "params", "must be a mapping");
}

void TaskParams::fail(const std::string& key, const std::string& message) const {
  fail_in_field("task '" + task_ + "'", "params." + key, message);
}

int64_t TaskParams::integer(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) {
  known_.insert(key);
  if (params_.is_null() || !params_.contains(key)) return fallback;
  const auto& v = params_[key];
  if (!v.is_number_integer()) fail(key, "must be an integer");
  const int64_t x = v.get<int64_t>();
  if (x < lo || x > hi) fail(key, std::to_string(x) + " out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return x;
}

std::string TaskParams::chars(const std::string& key, const std::string& fallback, const std::string& allowed) {
  known_.insert(key);
  if (params_.is_null() || !params_.contains(key)) return fallback;
  const auto& v = params_[key];
  if (!v.is_string() || v.get<std::string>().empty()) fail(key, "must be a non-empty string");
  const std::string s = v.get<std::string>();
  for (char c : s)
    if (allowed.find(c) == std::string::npos) fail(key, "'" + std::string(1, c) + "' not one of \"" + allowed + "\"");
  return s;
}

void TaskParams::reject_unknown() const {
  if (params_.is_null()) return;
  for (const auto& [key, value] : params_.items())
    if (!known_.count(key)) {
      std::string names;
      for (const auto& k : known_) names += (names.empty() ? "" : ", ") + k;
      fail(key, "unknown knob (known: " + names + ")");
    }
}

int checked_difficulty(const std::string& task, int difficulty) {
  if (difficulty < 1 || difficulty > 5)
    fail_in_field("task '" + task + "'", "difficulty", std::to_string(difficulty) + " out of range [1, 5]");
  return difficulty;
}

}  // namespace r1::data
