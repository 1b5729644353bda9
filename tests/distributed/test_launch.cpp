// `r1 launch`'s library half: N ranks with torchrun's variables; one failing rank stops the job with its status.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "dist_test_util.h"
#include "train/distributed/launch.h"

namespace r1 {
namespace {

TEST(DistWorker, FailingRank) {
  R1_DIST_WORKER_ONLY();
  dist::Communicator& comm = dist::world(Device::CPU);
  comm.barrier();
  if (comm.rank() == 1) std::_Exit(7);
  std::this_thread::sleep_for(std::chrono::seconds(60));  // the launcher must stop this rank, not wait for it
  std::_Exit(0);
}

TEST(Launch, RunsRanksThatFindEachOther) {
  const auto dir = test::scratch_dir("launch_ok");
  dist::LaunchOptions o;
  o.nproc = 2;
  o.env = {{"R1_DIST_WORKER", "1"}, {"R1_DIST_OUT", dir.string()}, {"OMP_NUM_THREADS", "1"}, {"R1_LOG", "warn"}};
  const std::string exe = test::fs::read_symlink("/proc/self/exe").string();
  EXPECT_EQ(dist::launch_local({exe, "--gtest_filter=DistWorker.Pretrain"}, o), 0);
  EXPECT_TRUE(test::fs::exists(dir / "params.bin"));  // rank 0 of a world of 2 wrote it
  test::fs::remove_all(dir);
}

TEST(Launch, OneFailingRankStopsTheJobWithItsStatus) {
  dist::LaunchOptions o;
  o.nproc = 2;
  o.grace_seconds = 1;
  o.env = {{"R1_DIST_WORKER", "1"}, {"OMP_NUM_THREADS", "1"}, {"R1_LOG", "off"}};
  const std::string exe = test::fs::read_symlink("/proc/self/exe").string();
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(dist::launch_local({exe, "--gtest_filter=DistWorker.FailingRank"}, o), 7);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
}

TEST(Launch, MissingProgramIsAnError) {
  EXPECT_THROW(dist::launch_local({"/nonexistent/r1"}, dist::LaunchOptions{}), Error);
  EXPECT_THROW(dist::launch_local({}, dist::LaunchOptions{}), Error);
}

}  // namespace
}  // namespace r1
