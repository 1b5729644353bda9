#include <algorithm>
#include <numeric>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "core/rng.h"
#include "data/packing.h"

namespace r1::data {

namespace {

std::vector<int64_t> random_lengths(size_t n, int64_t max_len, uint64_t seed) {
  Philox rng(seed, 0);
  std::vector<int64_t> l(n);
  for (auto& x : l) x = 1 + int64_t(rng.below(uint64_t(max_len)));
  return l;
}

// Every sequence exactly once, budgets respected, offsets consistent with the lengths.
void expect_valid(const std::vector<PackedBatch>& batches, const std::vector<int64_t>& lengths, int64_t budget) {
  std::vector<int> seen(lengths.size(), 0);
  for (const auto& b : batches) {
    ASSERT_EQ(b.cu_seqlens.size(), b.indices.size() + 1);
    EXPECT_EQ(b.cu_seqlens[0], 0);
    EXPECT_LE(b.tokens(), budget);
    for (size_t j = 0; j < b.indices.size(); ++j) {
      EXPECT_EQ(b.cu_seqlens[j + 1] - b.cu_seqlens[j], lengths[b.indices[j]]);
      ++seen[b.indices[j]];
    }
  }
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], 1) << "sequence " << i;
}

}  // namespace

TEST(Packing, InOrderKeepsInputOrderAndClosesBatchesGreedily) {
  const std::vector<int64_t> lengths = {5, 4, 3, 6, 1, 10};
  const auto batches = plan_packing(lengths, 10, PackOrder::InOrder);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].indices, (std::vector<size_t>{0, 1}));     // 9; +3 would be 12
  EXPECT_EQ(batches[1].indices, (std::vector<size_t>{2, 3, 4}));  // 10
  EXPECT_EQ(batches[2].indices, (std::vector<size_t>{5}));
  EXPECT_EQ(batches[1].cu_seqlens, (std::vector<int32_t>{0, 3, 9, 10}));
  expect_valid(batches, lengths, 10);
  std::vector<size_t> order;
  for (const auto& b : batches) order.insert(order.end(), b.indices.begin(), b.indices.end());
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
}

TEST(Packing, FirstFitDecreasingFillsEarlierBatches) {
  const std::vector<int64_t> lengths = {2, 7, 3, 8, 5, 5};  // FFD: [8,2] [7,3] [5,5] -> 3 full batches
  const auto batches = plan_packing(lengths, 10, PackOrder::FirstFitDecreasing);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].indices, (std::vector<size_t>{0, 3}));  // laid out by input index
  EXPECT_EQ(batches[1].indices, (std::vector<size_t>{1, 2}));
  EXPECT_EQ(batches[2].indices, (std::vector<size_t>{4, 5}));
  for (const auto& b : batches) EXPECT_EQ(b.tokens(), 10);
  EXPECT_EQ(plan_packing(lengths, 10, PackOrder::InOrder).size(), 4u);
}

TEST(Packing, RandomLengthsArePackedValidlyAndFfdNeverUsesMoreBatches) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const auto lengths = random_lengths(300, 500, seed);
    const auto in_order = plan_packing(lengths, 1024, PackOrder::InOrder);
    const auto ffd = plan_packing(lengths, 1024, PackOrder::FirstFitDecreasing);
    expect_valid(in_order, lengths, 1024);
    expect_valid(ffd, lengths, 1024);
    EXPECT_LE(ffd.size(), in_order.size());
    const int64_t total = std::accumulate(lengths.begin(), lengths.end(), int64_t(0));
    EXPECT_GE(int64_t(ffd.size()), (total + 1023) / 1024);  // lower bound: the tokens must fit
    for (const auto& b : ffd) EXPECT_TRUE(std::is_sorted(b.indices.begin(), b.indices.end()));
  }
}

TEST(Packing, MaxSequencesCapsEachBatch) {
  const std::vector<int64_t> lengths(10, 1);
  for (auto order : {PackOrder::InOrder, PackOrder::FirstFitDecreasing}) {
    const auto batches = plan_packing(lengths, 100, order, 3);
    ASSERT_EQ(batches.size(), 4u);
    for (const auto& b : batches) EXPECT_LE(b.indices.size(), 3u);
    expect_valid(batches, lengths, 100);
  }
}

TEST(Packing, TokensAndPositionsFollowTheLayout) {
  const std::vector<std::vector<int32_t>> seqs = {{1, 2, 3}, {4, 5}, {6, 7, 8, 9}};
  const auto batches = pack_sequences(seqs, 6, PackOrder::FirstFitDecreasing);  // [9-seq 2 + seq 1], [seq 0]
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(gather_tokens(batches[0], seqs), (std::vector<int32_t>{4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(position_ids(batches[0]), (std::vector<int32_t>{0, 1, 0, 1, 2, 3}));
  EXPECT_EQ(gather_tokens(batches[1], seqs), (std::vector<int32_t>{1, 2, 3}));
}

TEST(Packing, OverlongOrEmptySequenceIsNamed) {
  try {
    plan_packing({3, 12, 4}, 10, PackOrder::InOrder);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("sequence 1 has 12 tokens"));
  }
  EXPECT_THROW(plan_packing({3, 0}, 10, PackOrder::InOrder), Error);
  EXPECT_THROW(plan_packing({3}, 0, PackOrder::InOrder), Error);
  EXPECT_TRUE(plan_packing({}, 10, PackOrder::FirstFitDecreasing).empty());
}

}  // namespace r1::data
