// Group-relative advantages (GRPO: no critic). Responses to one prompt form a group; each response's
// advantage is its reward relative to the group:
//   grpo / dapo:  A_i = (R_i - mean(R)) / (std(R) + eps)      (std with Bessel's correction, as verl and TRL)
//   dr_grpo:      A_i =  R_i - mean(R)                        (no std division: Dr. GRPO removes that bias)
// A group of one response gets advantage 0 (nothing to compare against).
#pragma once
#include <vector>

namespace r1::rl {

struct AdvantageConfig {
  bool divide_by_std = true;
  double eps = 1e-6;
};

// rewards[g][i]: reward of response i in group g. Returns advantages of the same shape.
std::vector<std::vector<double>> group_advantages(const std::vector<std::vector<double>>& rewards,
                                                  const AdvantageConfig& config);

// True when every reward in the group is equal (within 1e-12): such a group carries no GRPO signal, and DAPO's
// dynamic sampling drops it.
bool group_is_degenerate(const std::vector<double>& rewards);

// DAPO's soft overlong punishment: 0 up to max_len - cache, then falling linearly to -1 at max_len.
double overlong_penalty(int length, int max_len, int cache_len);

}  // namespace r1::rl
