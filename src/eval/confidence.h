// 95% confidence intervals for a benchmark score, which is a mean over problems of per-problem scores in
// [0, 1] (a problem's pass@k, its c/n, its cons@k 0/1). The problems are the sampling unit: a benchmark is one
// draw of problems, and the samples of one problem are not independent evidence.
//   Normal     mean +- z * s / sqrt(N), s the sample standard deviation (N - 1), clamped to [0, 1]. The default:
//              cheap and adequate for N in the hundreds; too narrow for tiny N or scores near 0 or 1.
//   Bootstrap  percentile interval of the means of `resamples` resamples of the problems with replacement,
//              drawn from Philox(seed) so the interval is reproducible; better for AIME-sized sets (N = 30).
#pragma once
#include <cstdint>
#include <vector>

namespace r1::eval {

enum class CiMethod { Normal, Bootstrap };

struct Estimate {
  double mean = 0, low = 0, high = 0;
};

inline constexpr double kZ95 = 1.959963984540054;  // two-sided 95% quantile of the standard normal

Estimate normal_ci(const std::vector<double>& scores, double z = kZ95);
Estimate bootstrap_ci(const std::vector<double>& scores, int resamples = 2000, uint64_t seed = 0, double level = 0.95);

}  // namespace r1::eval
