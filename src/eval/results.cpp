#include "eval/results.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"
#include "eval/pass_at_k.h"

namespace r1::eval {

const MetricEstimate* BenchmarkResult::metric(const std::string& name) const {
  for (const auto& m : metrics)
    if (m.name == name) return &m;
  return nullptr;
}

BenchmarkResult evaluate_samples(const std::string& benchmark, const std::vector<ProblemSamples>& problems,
                                 const EvalOptions& options) {
  BenchmarkResult r;
  r.benchmark = benchmark;
  r.problems = int64_t(problems.size());
  for (int k : options.pass_ks) r.metrics.push_back({"pass@" + std::to_string(k)});
  for (int k : options.cons_ks) r.metrics.push_back({"cons@" + std::to_string(k)});

  const auto fail = [&](const ProblemSamples& p, const std::string& message) {
    throw Error(benchmark + ": problem '" + p.id + "': " + message);
  };
  std::vector<std::vector<double>> columns(r.metrics.size());
  for (const auto& p : problems) {
    const int64_t n = int64_t(p.correct.size());
    if (int64_t(p.answers.size()) != n)
      fail(p, std::to_string(p.answers.size()) + " answers but " + std::to_string(n) + " verdicts");
    if (n == 0) fail(p, "no samples");
    ProblemScore s{p.id, n, int64_t(std::count(p.correct.begin(), p.correct.end(), true)), {}};
    for (int k : options.pass_ks) {
      if (k < 1 || k > n) fail(p, "pass@" + std::to_string(k) + " needs k in [1, " + std::to_string(n) + "]");
      s.scores.push_back(pass_at_k(n, s.correct, k));
    }
    for (int k : options.cons_ks) {
      if (k < 1 || k > n) fail(p, "cons@" + std::to_string(k) + " needs k in [1, " + std::to_string(n) + "]");
      s.scores.push_back(cons_at_k(p.answers, p.correct, options.equivalent, size_t(k)) ? 1.0 : 0.0);
    }
    for (size_t m = 0; m < s.scores.size(); ++m) columns[m].push_back(s.scores[m]);
    r.min_samples = r.per_problem.empty() ? n : std::min(r.min_samples, n);
    r.max_samples = std::max(r.max_samples, n);
    r.per_problem.push_back(std::move(s));
  }
  for (size_t m = 0; m < r.metrics.size(); ++m) {
    const Estimate e = options.ci == CiMethod::Normal
                           ? normal_ci(columns[m])
                           : bootstrap_ci(columns[m], options.bootstrap_resamples, options.bootstrap_seed);
    r.metrics[m].value = e.mean;
    r.metrics[m].ci_low = e.low;
    r.metrics[m].ci_high = e.high;
  }
  return r;
}

namespace {

std::string percent(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", 100.0 * x);
  return buf;
}

}  // namespace

std::string to_markdown(const std::vector<BenchmarkResult>& results) {
  std::vector<std::string> names;
  for (const auto& r : results)
    for (const auto& m : r.metrics)
      if (std::find(names.begin(), names.end(), m.name) == names.end()) names.push_back(m.name);
  std::string out = "| benchmark | problems | samples |";
  for (const auto& n : names) out += " " + n + " (%) |";
  out += "\n|---|---:|---:|";
  for (size_t i = 0; i < names.size(); ++i) out += "---:|";
  out += "\n";
  for (const auto& r : results) {
    const std::string samples = r.min_samples == r.max_samples
                                    ? std::to_string(r.min_samples)
                                    : std::to_string(r.min_samples) + "-" + std::to_string(r.max_samples);
    out += "| " + r.benchmark + " | " + std::to_string(r.problems) + " | " + samples + " |";
    for (const auto& n : names) {
      const MetricEstimate* m = r.metric(n);
      out += m ? " " + percent(m->value) + " [" + percent(m->ci_low) + ", " + percent(m->ci_high) + "] |" : " – |";
    }
    out += "\n";
  }
  return out;
}

nlohmann::json to_json(const BenchmarkResult& r, bool with_per_problem) {
  nlohmann::json j = {{"benchmark", r.benchmark},
                      {"problems", r.problems},
                      {"samples", {{"min", r.min_samples}, {"max", r.max_samples}}},
                      {"metrics", nlohmann::json::object()}};
  for (const auto& m : r.metrics)
    j["metrics"][m.name] = {{"value", m.value}, {"ci_low", m.ci_low}, {"ci_high", m.ci_high}};
  if (with_per_problem) {
    j["per_problem"] = nlohmann::json::array();
    for (const auto& p : r.per_problem) {
      nlohmann::json scores = nlohmann::json::object();
      for (size_t m = 0; m < r.metrics.size(); ++m) scores[r.metrics[m].name] = p.scores[m];
      j["per_problem"].push_back({{"id", p.id}, {"samples", p.samples}, {"correct", p.correct}, {"scores", scores}});
    }
  }
  return j;
}

nlohmann::json to_json(const std::vector<BenchmarkResult>& results, bool with_per_problem) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& r : results) j.push_back(to_json(r, with_per_problem));
  return j;
}

}  // namespace r1::eval
