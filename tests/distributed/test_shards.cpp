// Deterministic partitions: ZeRO-1 shards of the flat buffer and token-balanced shares of a batch.
#include <gtest/gtest.h>

#include <numeric>

#include "train/distributed/communicator.h"

namespace r1::dist {
namespace {

TEST(ShardRanges, ContiguousAlignedAndCoveringEverything) {
  for (int64_t n : {0, 1, 63, 64, 65, 1000, 123457})
    for (int world : {1, 2, 3, 8}) {
      const auto s = shard_ranges(n, world);
      ASSERT_EQ(int(s.size()), world);
      EXPECT_EQ(s.front().begin, 0);
      EXPECT_EQ(s.back().end, n);
      for (int r = 0; r < world; r++) {
        EXPECT_LE(s[size_t(r)].begin, s[size_t(r)].end);
        if (r > 0) {
          EXPECT_EQ(s[size_t(r)].begin, s[size_t(r) - 1].end);
        }
        if (s[size_t(r)].begin < n) {
          EXPECT_EQ(s[size_t(r)].begin % 64, 0);
        }
      }
    }
  // Even halves for an even count: the moments per rank halve.
  const auto two = shard_ranges(1 << 20, 2);
  EXPECT_EQ(two[0].size(), 1 << 19);
  EXPECT_EQ(two[1].size(), 1 << 19);
}

TEST(BalancedSplit, PartsAreContiguousNonEmptyAndNearEqualInWeight) {
  const std::vector<int64_t> w = {50, 10, 10, 10, 10, 10, 40, 30, 20, 10};
  const auto b = balanced_split(w, 2);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0], 0u);
  EXPECT_EQ(b[2], w.size());
  const int64_t left = std::accumulate(w.begin(), w.begin() + long(b[1]), int64_t(0));
  EXPECT_EQ(left, 100);  // the total is 200: the exact half exists, so it is found
  const auto many = balanced_split({1, 1, 100}, 3);
  EXPECT_EQ(many, (std::vector<size_t>{0, 1, 2, 3}));  // every rank gets an item when there are enough
  const auto few = balanced_split({5}, 2);
  EXPECT_EQ(few.front(), 0u);
  EXPECT_EQ(few.back(), 1u);
  EXPECT_EQ(balanced_split(w, 1), (std::vector<size_t>{0, w.size()}));
}

}  // namespace
}  // namespace r1::dist
