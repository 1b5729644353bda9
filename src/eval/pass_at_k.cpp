#include "eval/pass_at_k.h"

#include <string>

#include "core/error.h"

namespace r1::eval {

double pass_at_k(int64_t n, int64_t c, int64_t k) {
  if (n < 1 || c < 0 || c > n || k < 1 || k > n)
    throw Error("pass@k: need 0 <= c <= n and 1 <= k <= n, got n=" + std::to_string(n) + " c=" + std::to_string(c) +
                " k=" + std::to_string(k));
  if (n - c < k) return 1.0;  // every k-subset contains a correct sample
  double none_correct = 1.0;  // C(n-c, k) / C(n, k)
  for (int64_t i = n - c + 1; i <= n; ++i) none_correct *= 1.0 - double(k) / double(i);
  return 1.0 - none_correct;
}

double mean_pass_at_1(int64_t n, int64_t c) {
  if (n < 1 || c < 0 || c > n)
    throw Error("pass@1: need 0 <= c <= n, got n=" + std::to_string(n) + " c=" + std::to_string(c));
  return double(c) / double(n);
}

}  // namespace r1::eval
