#include "rl/advantages.h"

#include <cmath>

namespace r1::rl {

std::vector<std::vector<double>> group_advantages(const std::vector<std::vector<double>>& rewards,
                                                  const AdvantageConfig& config) {
  std::vector<std::vector<double>> out;
  out.reserve(rewards.size());
  for (const auto& group : rewards) {
    const size_t n = group.size();
    std::vector<double> adv(n, 0.0);
    if (n > 1) {
      double mean = 0;
      for (double r : group) mean += r;
      mean /= double(n);
      double var = 0;
      for (double r : group) var += (r - mean) * (r - mean);
      const double std = std::sqrt(var / double(n - 1));
      for (size_t i = 0; i < n; i++)
        adv[i] = config.divide_by_std ? (group[i] - mean) / (std + config.eps) : group[i] - mean;
    }
    out.push_back(std::move(adv));
  }
  return out;
}

bool group_is_degenerate(const std::vector<double>& rewards) {
  for (double r : rewards)
    if (std::fabs(r - rewards.front()) > 1e-12) return false;
  return true;
}

double overlong_penalty(int length, int max_len, int cache_len) {
  const int threshold = max_len - cache_len;
  if (length <= threshold || cache_len <= 0) return 0.0;
  const double p = -double(length - threshold) / double(cache_len);
  return p < -1.0 ? -1.0 : p;
}

}  // namespace r1::rl
