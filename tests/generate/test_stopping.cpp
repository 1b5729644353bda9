// The stopping rules both rollout engines share: EOS ids (unless ignore_eos), the request's stop ids, stop strings
// in the decoded tail, the length limit — in that order of precedence.
#include <gtest/gtest.h>

#include <string>

#include "generate/stopping.h"

using namespace r1::gen;

namespace {

// Token t decodes to the letter 'a' + t.
std::string letters(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t t : ids) s += char('a' + t);
  return s;
}

}  // namespace

TEST(Stopping, EosStopIdsStopStringsAndLengthInOrder) {
  const std::unordered_set<int32_t> eos = {25};
  SamplingParams p;
  EXPECT_EQ(finish_reason(p, eos, {1, 2, 25}, 10, letters), std::string("eos"));
  EXPECT_EQ(finish_reason(p, eos, {1, 2, 3}, 10, letters), nullptr);
  EXPECT_EQ(finish_reason(p, eos, {1, 2, 3}, 3, letters), std::string("length"));
  p.ignore_eos = true;
  EXPECT_EQ(finish_reason(p, eos, {1, 2, 25}, 10, letters), nullptr);
  p.stop_token_ids = {7};
  EXPECT_EQ(finish_reason(p, eos, {1, 7}, 10, letters), std::string("eos"));  // stop ids apply even with ignore_eos
  p.stop = {"cd"};
  EXPECT_EQ(finish_reason(p, eos, {0, 2, 3}, 10, letters), std::string("stop"));  // "acd"
  EXPECT_EQ(finish_reason(p, eos, {0, 2, 3}, 3, letters), std::string("stop"));   // stop wins over length
  EXPECT_EQ(finish_reason(p, eos, {3, 2}, 10, letters), nullptr);                 // "dc"
}

TEST(Stopping, UniformsDependOnSeedStreamAndStepNotOnBatching) {
  GenerationRequest q;
  q.seed = 9, q.first_sample = 4;
  const double u = draw_uniform(q, 1, 3);
  EXPECT_EQ(u, sampling_uniform(9, 5, 3));
  EXPECT_GE(u, 0.0);
  EXPECT_LT(u, 1.0);
  EXPECT_NE(draw_uniform(q, 2, 3), u);
  q.params.temperature = 0;  // greedy draws nothing
  EXPECT_EQ(draw_uniform(q, 1, 3), 0.0);
}
