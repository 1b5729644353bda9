#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "core/arena.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/tensor.h"

using namespace r1;

TEST(Philox, MatchesRandom123KnownAnswers) {
  // Known-answer vectors from the Random123 distribution (kat_vectors, philox4x32_10).
  auto a = philox4x32_10({0, 0, 0, 0}, {0, 0});
  EXPECT_EQ(a[0], 0x6627e8d5u);
  EXPECT_EQ(a[1], 0xe169c58du);
  EXPECT_EQ(a[2], 0xbc57ac4cu);
  EXPECT_EQ(a[3], 0x9b00dbd8u);
  auto b = philox4x32_10({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu});
  EXPECT_EQ(b[0], 0x408f276du);
  EXPECT_EQ(b[1], 0x41c83b0eu);
  EXPECT_EQ(b[2], 0xa20bc7c6u);
  EXPECT_EQ(b[3], 0x6d5451fdu);
}

TEST(Philox, StreamsDifferAndStateResumes) {
  Philox a(42, 0), b(42, 1);
  EXPECT_NE(a.next_u32(), b.next_u32());
  Philox c(7, 3);
  for (int i = 0; i < 13; i++) c.next_u32();
  Philox d(c.state());
  for (int i = 0; i < 20; i++) EXPECT_EQ(c.next_u32(), d.next_u32());
}

TEST(Philox, UniformAndNormalMoments) {
  Philox r(1, 2);
  double s = 0, s2 = 0, n1 = 0, n2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; i++) {
    const float u = r.uniform();
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    s += u;
    s2 += u * u;
    const float z = r.normal();
    n1 += z;
    n2 += double(z) * z;
  }
  EXPECT_NEAR(s / n, 0.5, 0.005);
  EXPECT_NEAR(s2 / n - (s / n) * (s / n), 1.0 / 12, 0.002);
  EXPECT_NEAR(n1 / n, 0.0, 0.01);
  EXPECT_NEAR(n2 / n, 1.0, 0.02);
}

TEST(DType, Bf16AndF16RoundTripsAndRounding) {
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f)), 1.0f);
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(-2.5f)), -2.5f);
  // 1 + 2^-8 is exactly halfway between two bf16 values: ties to even gives 1.0.
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f + 1.0f / 256)), 1.0f);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
  for (float v : {0.0f, 1.0f, -3.140625f, 65504.0f, 6.103515625e-05f, 5.960464477539063e-08f})
    EXPECT_EQ(f16_to_f32(f32_to_f16(v)), v) << v;
  EXPECT_TRUE(std::isinf(f16_to_f32(f32_to_f16(1e6f))));
  EXPECT_EQ(f16_to_f32(f32_to_f16(1.0f + 1.0f / 4096)), 1.0f);  // below half an ulp
  // Every f16 bit pattern (not NaN) survives f16 -> f32 -> f16.
  for (uint32_t h = 0; h < 65536; h++) {
    const float f = f16_to_f32(uint16_t(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_f16(f), h) << h;
  }
}

TEST(Arena, PlanAlignsAndNamesTensors) {
  MemoryPlan plan;
  plan.add("a", {3});
  plan.add("b", {2, 5});
  plan.add("c", {7}, DType::BF16);
  EXPECT_EQ(plan.entries()[1].offset % MemoryPlan::kAlignment, 0u);
  EXPECT_EQ(plan.entries()[2].offset % MemoryPlan::kAlignment, 0u);
  Arena arena(plan);
  Tensor b = arena.get("b");
  EXPECT_EQ(b.shape, Shape({2, 5}));
  b.f32()[9] = 1.5f;
  EXPECT_EQ(arena.get("b").f32()[9], 1.5f);
  EXPECT_THROW(arena.get("c").f32(), Error);
  try {
    arena.get("missing");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos);
  }
}

TEST(Error, MessagesNameTheirContext) {
  try {
    fail_in_field("config.json", "rope_scaling.factor", "must be positive");
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "config.json: field 'rope_scaling.factor': must be positive");
  }
  try {
    fail_at_line("data.jsonl", 12, "invalid JSON");
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "data.jsonl:12: invalid JSON");
  }
}
