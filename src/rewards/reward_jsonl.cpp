// JSONL scoring and statistics for `r1 reward` (see reward_jsonl.h).
#include "rewards/reward_jsonl.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "core/error.h"
#include "rewards/thread_pool.h"

namespace r1::rewards {

std::vector<RewardInput> read_reward_inputs(const std::string& path, const RewardFields& fields,
                                            std::vector<nlohmann::json>* rows) {
  std::ifstream in(path);
  if (!in) fail_in_file(path, "cannot open file");
  std::vector<RewardInput> inputs;
  std::string line;
  long number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank lines are allowed
    nlohmann::json row;
    try {
      row = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      fail_at_line(path, number, std::string("invalid JSON: ") + e.what());
    }
    if (!row.is_object()) fail_at_line(path, number, "expected a JSON object");
    auto text = [&](const std::string& key, bool required) -> std::string {
      if (!row.contains(key) || row[key].is_null()) {
        if (required) fail_at_line(path, number, "field '" + key + "' is missing");
        return "";
      }
      if (row[key].is_string()) return row[key].get<std::string>();
      if (required) fail_at_line(path, number, "field '" + key + "' must be a string");
      return row[key].dump();
    };
    RewardInput input;
    input.prompt = text(fields.prompt, false);
    input.completion = text(fields.completion, true);
    input.reference = row.contains(fields.reference) ? text(fields.reference, false) : text("reference", false);
    input.metadata = row.contains(fields.metadata) ? row[fields.metadata] : row;
    inputs.push_back(std::move(input));
    if (rows) rows->push_back(std::move(row));
  }
  return inputs;
}

RewardStats reward_stats(const std::string& label, double weight, const std::vector<double>& scores,
                         double pass_threshold) {
  RewardStats s;
  s.label = label, s.weight = weight, s.count = scores.size();
  if (scores.empty()) return s;
  double sum = 0, passed = 0;
  s.min = s.max = scores[0];
  for (double x : scores) {
    sum += x;
    s.min = std::min(s.min, x), s.max = std::max(s.max, x);
    passed += x >= pass_threshold - 1e-12 ? 1 : 0;
  }
  s.mean = sum / double(scores.size());
  double var = 0;
  for (double x : scores) var += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(var / double(scores.size()));
  s.pass_rate = passed / double(scores.size());
  return s;
}

RewardSummary score_jsonl(const std::string& data, const std::string& output, const CompositeReward& reward,
                          const RewardFields& fields, int threads, double pass_threshold) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<nlohmann::json> rows;
  const std::vector<RewardInput> inputs = read_reward_inputs(data, fields, &rows);
  ThreadPool pool(threads);
  const std::vector<ScoredInput> scored = reward.score_batch(inputs, pool);
  const auto labels = reward.labels();

  if (!output.empty()) {
    std::ofstream out(output);
    if (!out) fail_in_file(output, "cannot write");
    for (size_t i = 0; i < rows.size(); ++i) {
      nlohmann::json row = rows[i];
      nlohmann::json scores = nlohmann::json::object(), reasons = nlohmann::json::object();
      for (size_t k = 0; k < labels.size(); ++k) {
        scores[labels[k]] = scored[i].parts[k].score;
        reasons[labels[k]] = scored[i].parts[k].reason;
      }
      row["rewards"] = scores;
      row["reward_reasons"] = reasons;
      row["reward"] = scored[i].total;
      out << row.dump() << '\n';
    }
    if (!out) fail_in_file(output, "write failed");
  }

  RewardSummary summary;
  double weight_sum = 0;
  for (size_t k = 0; k < labels.size(); ++k) {
    std::vector<double> column;
    for (const auto& s : scored) column.push_back(s.parts[k].score);
    summary.parts.push_back(reward_stats(labels[k], reward.parts()[k].weight, column, pass_threshold));
    weight_sum += reward.parts()[k].weight;
  }
  std::vector<double> totals;
  for (const auto& s : scored) totals.push_back(s.total);
  summary.total = reward_stats("total", weight_sum, totals, pass_threshold * weight_sum);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return summary;
}

std::string format_reward_summary(const RewardSummary& summary) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-16s %7s %8s %8s %8s %8s %9s\n", "reward", "weight", "mean", "std", "min", "max",
                "pass rate");
  out += line;
  auto row = [&](const RewardStats& s) {
    std::snprintf(line, sizeof line, "%-16s %7.3g %8.4f %8.4f %8.4f %8.4f %8.1f%%\n", s.label.c_str(), s.weight, s.mean,
                  s.std, s.min, s.max, 100.0 * s.pass_rate);
    out += line;
  };
  for (const auto& s : summary.parts) row(s);
  row(summary.total);
  std::snprintf(line, sizeof line, "%zu rows in %.2f s\n", summary.total.count, summary.seconds);
  out += line;
  return out;
}

}  // namespace r1::rewards
