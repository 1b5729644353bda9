// core/sampling_weight.h: the float32 exp both samplers share must be close to exp, exact at 0, zero below its
// range, and its fixed-point value must be the exact truncation the GPU sums.
#include "core/sampling_weight.h"

#include <gtest/gtest.h>

#include <cmath>

namespace r1 {
namespace {

TEST(SamplingWeight, WithinThreeTenthsOfAMillionthOfExp) {
  double worst = 0;
  for (int i = 0; i <= 2000000; i++) {
    const float d = -85.999f * float(i) / 2000000.0f;
    const double ref = std::exp(double(d));
    worst = std::max(worst, std::fabs(double(sampling_weight(d)) - ref) / ref);
  }
  EXPECT_LT(worst, 3e-7);
  EXPECT_EQ(sampling_weight(0.0f), 1.0f);  // the most likely token weighs exactly 1
  EXPECT_EQ(sampling_weight(-86.0f), 0.0f);
  EXPECT_EQ(sampling_weight(-INFINITY), 0.0f);  // masked tokens
  EXPECT_EQ(sampling_weight(NAN), 0.0f);
}

TEST(SamplingWeight, FixedPointIsTheExactTruncation) {
  for (int bits : {44, 40, 20}) {
    for (int i = 0; i <= 20000; i++) {
      const float w = sampling_weight(-40.0f * float(i) / 20000.0f);
      const double exact = std::ldexp(double(w), bits);  // exact in double: w has 24 significant bits
      EXPECT_EQ(sampling_weight_fixed(w, bits), uint64_t(std::floor(exact))) << "w " << w << " bits " << bits;
    }
  }
  EXPECT_EQ(sampling_weight_fixed(0.0f, 44), 0u);
  EXPECT_EQ(sampling_weight_fixed(1.0f, 44), uint64_t(1) << 44);
}

}  // namespace
}  // namespace r1
