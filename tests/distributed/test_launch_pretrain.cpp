// The r1 binary itself under a launcher: `r1 launch --nproc 2 -- pretrain ...` trains the same model as one
// process (each rank a share of every batch, ZeRO-1), and only rank 0 writes the output directory.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "dist_test_util.h"

namespace r1 {
namespace {

namespace fs = std::filesystem;

TEST(LaunchPretrain, TwoRanksTrainLikeOneAndOnlyRankZeroWrites) {
  const fs::path dir = test::scratch_dir("launch_pretrain");
  const std::string job = " --steps 12 --seed 2 --documents 300 --batch-tokens 1024";
  ASSERT_EQ(test::run_r1("pretrain --output " + (dir / "one").string() + job, dir / "one.log"), 0);
  ASSERT_EQ(test::run_r1("launch --nproc 2 -- pretrain --output " + (dir / "two").string() + job, dir / "two.log"), 0);
  test::expect_same_metrics(dir / "one", dir / "two", 1e-5);
  EXPECT_TRUE(fs::exists(dir / "two" / "model" / "model.safetensors"));
  int event_files = 0;
  for (const auto& e : fs::directory_iterator(dir / "two"))
    event_files += e.path().filename().string().rfind("events.out.tfevents", 0) == 0;
  EXPECT_EQ(event_files, 1);  // one writer
}

}  // namespace
}  // namespace r1
