// pass@k, the unbiased estimator of Chen et al. 2021 ("Evaluating Large Language Models Trained on Code"):
// from n samples of which c are correct, the probability that k samples drawn without replacement include a
// correct one:  pass@k = 1 - C(n-c, k) / C(n, k).  The binomials overflow for realistic n, so the ratio is
// computed as the product  C(n-c,k)/C(n,k) = prod_{i=n-c+1}^{n} (1 - k/i)  (numerically stable, as the paper's
// reference code does).
#pragma once
#include <cstdint>

namespace r1::eval {

// Requires 0 <= c <= n and 1 <= k <= n; throws r1::Error otherwise.
double pass_at_k(int64_t n, int64_t c, int64_t k);

// pass@1 averaged over the n samples of one problem (the R1 paper's reported pass@1): c / n.
double mean_pass_at_1(int64_t n, int64_t c);

}  // namespace r1::eval
