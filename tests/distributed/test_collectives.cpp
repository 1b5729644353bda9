// Gloo collectives between ranks (threads of this process, each with its own store client and Gloo context).
#include <gtest/gtest.h>

#include <mutex>

#include "dist_test_util.h"

namespace r1::dist {
namespace {

TEST(GlooCollectives, AllReduceSumsFloatsAndDoubles) {
  test::run_threads(2, [](Session& s) {
    Communicator& c = *s.comm;
    EXPECT_STREQ(c.backend(), "gloo");
    std::vector<float> f(1000);
    std::vector<double> d(3);
    for (size_t i = 0; i < f.size(); i++) f[i] = float(i) * float(c.rank() + 1);
    for (size_t i = 0; i < d.size(); i++) d[i] = 0.25 * double(c.rank() + 1) + double(i);
    c.all_reduce_sum(f.data(), int64_t(f.size()));
    c.all_reduce_sum(d.data(), int64_t(d.size()));
    for (size_t i = 0; i < f.size(); i++) ASSERT_EQ(f[i], float(i) * 3.0f);
    for (size_t i = 0; i < d.size(); i++) ASSERT_EQ(d[i], 0.75 + 2.0 * double(i));
    double m[2] = {double(c.rank()), -double(c.rank())};
    c.host_all_reduce_max(m, 2);
    EXPECT_EQ(m[0], 1.0);
    EXPECT_EQ(m[1], 0.0);
  });
}

TEST(GlooCollectives, ReduceScatterWeighsEachRankAndAllGatherRestoresTheBuffer) {
  test::run_threads(3, [](Session& s) {
    Communicator& c = *s.comm;
    const int64_t n = 1000;  // uneven shards: 384, 384, 232
    const auto shards = shard_ranges(n, c.world_size());
    std::vector<float> g(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; i++) g[size_t(i)] = float(i % 7) + float(c.rank());
    // Weights 1/2, 1/4, 1/4 (as local/global token counts would be).
    const float w = c.rank() == 0 ? 0.5f : 0.25f;
    c.reduce_scatter_sum(g.data(), shards, w);
    const Shard& mine = shards[size_t(c.rank())];
    for (int64_t i = mine.begin; i < mine.end; i++)
      ASSERT_FLOAT_EQ(g[size_t(i)], float(i % 7) + 0.25f * 1 + 0.25f * 2) << i;
    // Each rank writes its shard; the gather gives every rank the whole.
    std::vector<float> p(size_t(n), -1.0f);
    for (int64_t i = mine.begin; i < mine.end; i++) p[size_t(i)] = float(i) * 2;
    c.all_gather(p.data(), shards);
    for (int64_t i = 0; i < n; i++) ASSERT_EQ(p[size_t(i)], float(i) * 2) << i;
  });
}

TEST(GlooCollectives, BroadcastAndHostExchangesOfUnequalSizes) {
  test::run_threads(2, [](Session& s) {
    Communicator& c = *s.comm;
    std::vector<float> b(17, float(c.rank() + 5));
    c.broadcast(b.data(), 17, 1);
    for (float x : b) ASSERT_EQ(x, 6.0f);
    const auto all = c.host_all_gather(std::string(size_t(c.rank()) * 3 + 1, char('a' + c.rank())));
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0], "a");
    EXPECT_EQ(all[1], "bbbb");
    EXPECT_EQ(c.host_broadcast(c.rank() == 0 ? "from zero" : "", 0), "from zero");
    c.barrier();
  });
}

TEST(LocalCommunicator, CollectivesOfOneRankLeaveDataAlone) {
  LocalCommunicator c;
  std::vector<float> g = {1, 2, 3, 4};
  c.all_reduce_sum(g.data(), 4);
  c.reduce_scatter_sum(g.data(), shard_ranges(4, 1), 1.0f);
  EXPECT_EQ(g, (std::vector<float>{1, 2, 3, 4}));
  c.reduce_scatter_sum(g.data(), shard_ranges(4, 1), 0.5f);
  EXPECT_EQ(g, (std::vector<float>{0.5f, 1, 1.5f, 2}));
  EXPECT_EQ(c.host_all_gather("x"), (std::vector<std::string>{"x"}));
}

}  // namespace
}  // namespace r1::dist
