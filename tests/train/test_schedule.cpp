#include <gtest/gtest.h>

#include <cmath>

#include "train/schedule.h"

using namespace r1;

TEST(LrSchedule, WarmupThenCosineAndLinear) {
  LrSchedule s{LrSchedule::Kind::Cosine, 1.0f, 10, 110, 0.1f};
  EXPECT_FLOAT_EQ(s.lr_at(1), 0.1f);
  EXPECT_FLOAT_EQ(s.lr_at(10), 1.0f);
  EXPECT_NEAR(s.lr_at(60), 0.55f, 1e-6);  // halfway: (1 + 0.1) / 2
  EXPECT_NEAR(s.lr_at(110), 0.1f, 1e-6);
  EXPECT_NEAR(s.lr_at(500), 0.1f, 1e-6);
  LrSchedule l{LrSchedule::Kind::Linear, 2.0f, 0, 100, 0.0f};
  EXPECT_NEAR(l.lr_at(50), 1.0f, 1e-6);
  LrSchedule c{LrSchedule::Kind::Constant, 0.5f, 4, 100, 0.0f};
  EXPECT_FLOAT_EQ(c.lr_at(2), 0.25f);
  EXPECT_FLOAT_EQ(c.lr_at(99), 0.5f);
}
