#include "eval/confidence.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"
#include "core/rng.h"

namespace r1::eval {

namespace {

double mean_of(const std::vector<double>& x) {
  double s = 0;
  for (double v : x) s += v;
  return x.empty() ? 0.0 : s / double(x.size());
}

}  // namespace

Estimate normal_ci(const std::vector<double>& scores, double z) {
  Estimate e;
  if (scores.empty()) return e;
  e.mean = mean_of(scores);
  double ss = 0;
  for (double v : scores) ss += (v - e.mean) * (v - e.mean);
  const size_t n = scores.size();
  const double std_error = n > 1 ? std::sqrt(ss / double(n - 1) / double(n)) : 0.0;
  e.low = std::clamp(e.mean - z * std_error, 0.0, 1.0);
  e.high = std::clamp(e.mean + z * std_error, 0.0, 1.0);
  return e;
}

Estimate bootstrap_ci(const std::vector<double>& scores, int resamples, uint64_t seed, double level) {
  if (resamples < 1) throw Error("bootstrap: resamples must be >= 1, got " + std::to_string(resamples));
  if (!(level > 0 && level < 1)) throw Error("bootstrap: level must be in (0, 1)");
  Estimate e;
  if (scores.empty()) return e;
  e.mean = mean_of(scores);
  Philox rng(seed, 0);
  std::vector<double> means(resamples);
  for (auto& m : means) {
    double s = 0;
    for (size_t i = 0; i < scores.size(); ++i) s += scores[rng.below(scores.size())];
    m = s / double(scores.size());
  }
  std::sort(means.begin(), means.end());
  // Percentile interval by order statistics: the alpha/2 and 1 - alpha/2 empirical quantiles.
  const double alpha = 1 - level;
  const auto at = [&](double q) {
    const auto i = size_t(std::clamp(std::floor(q * double(resamples)), 0.0, double(resamples - 1)));
    return means[i];
  };
  e.low = at(alpha / 2);
  e.high = at(1 - alpha / 2);
  return e;
}

}  // namespace r1::eval
