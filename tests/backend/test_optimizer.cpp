#include <gtest/gtest.h>

#include <omp.h>

#include <cmath>
#include <vector>

#include "backend/cpu/optimizer.h"

using namespace r1;

TEST(AdamW, TwoStepsMatchHandComputation) {
  AdamWConfig c;
  c.beta1 = 0.9f, c.beta2 = 0.99f, c.eps = 1e-8f, c.weight_decay = 0.1f;
  float p[2] = {1.0f, -2.0f}, m[2] = {0, 0}, v[2] = {0, 0};
  const float g1[2] = {0.5f, -1.0f}, g2[2] = {0.25f, 2.0f};
  adamw_update(p, g1, m, v, 2, c, 0.01f, 1, true);
  adamw_update(p, g2, m, v, 2, c, 0.01f, 2, true);
  // Hand computation in double.
  double P[2] = {1.0, -2.0}, M[2] = {0, 0}, S[2] = {0, 0};
  const double G[2][2] = {{0.5, -1.0}, {0.25, 2.0}};
  for (int t = 1; t <= 2; t++)
    for (int i = 0; i < 2; i++) {
      M[i] = 0.9 * M[i] + 0.1 * G[t - 1][i];
      S[i] = 0.99 * S[i] + 0.01 * G[t - 1][i] * G[t - 1][i];
      const double mh = M[i] / (1 - std::pow(0.9, t)), vh = S[i] / (1 - std::pow(0.99, t));
      P[i] -= 0.01 * mh / (std::sqrt(vh) + 1e-8) + 0.01 * 0.1 * P[i];
    }
  EXPECT_NEAR(p[0], P[0], 1e-6);
  EXPECT_NEAR(p[1], P[1], 1e-6);
}

TEST(AdamW, NoDecayLeavesZeroGradientParametersAlone) {
  AdamWConfig c;
  c.weight_decay = 0.5f;
  float p[1] = {3.0f}, m[1] = {0}, v[1] = {0};
  const float g[1] = {0.0f};
  adamw_update(p, g, m, v, 1, c, 0.1f, 1, false);
  EXPECT_EQ(p[0], 3.0f);
  adamw_update(p, g, m, v, 1, c, 0.1f, 2, true);
  EXPECT_NEAR(p[0], 3.0f * (1 - 0.1f * 0.5f), 1e-6);
}

TEST(GradClip, ScalesOnlyAboveMaxNorm) {
  float g[2] = {3.0f, 4.0f};
  EXPECT_DOUBLE_EQ(clip_grad_norm(g, 2, 10.0), 5.0);
  EXPECT_EQ(g[0], 3.0f);
  EXPECT_DOUBLE_EQ(clip_grad_norm(g, 2, 1.0), 5.0);
  EXPECT_NEAR(std::sqrt(g[0] * g[0] + g[1] * g[1]), 1.0, 1e-5);
}

// Several of the norm's fixed blocks: the value must match a plain double sum and not move with the thread count.
TEST(GradClip, GlobalNormIsBitwiseIndependentOfThreadCount) {
  std::vector<float> g(300001);
  double ref = 0;
  for (size_t i = 0; i < g.size(); i++) {
    g[i] = float(std::sin(0.37 * double(i))) * (1.0f + float(i % 7));
    ref += double(g[i]) * g[i];
  }
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const double one = global_grad_norm(g.data(), int64_t(g.size()));
  omp_set_num_threads(3);
  const double three = global_grad_norm(g.data(), int64_t(g.size()));
  omp_set_num_threads(saved);
  EXPECT_EQ(one, three);
  EXPECT_NEAR(one, std::sqrt(ref), 1e-9 * std::sqrt(ref));
}
