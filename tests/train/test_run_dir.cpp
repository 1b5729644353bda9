// RunDir: atomic files that survive failed writes, checkpoints that count only when complete, no clobbering.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <stdexcept>

#include "core/error.h"
#include "train/run_dir.h"

using namespace r1;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

namespace {

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("r1_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

int count_entries(const fs::path& dir) {
  int n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) n++;
  return n;
}

}  // namespace

TEST(AtomicFile, WriteReplacesContentAndLeavesNoTempFile) {
  const fs::path dir = fresh_dir("atomic");
  fs::create_directories(dir);
  write_file_atomic(dir / "a.txt", "first");
  write_file_atomic(dir / "a.txt", "second version");
  EXPECT_EQ(read_file(dir / "a.txt"), "second version");
  EXPECT_EQ(count_entries(dir), 1);
  fs::remove_all(dir);
}

TEST(AtomicFile, ExceptionMidWriteKeepsTheOldFile) {
  const fs::path dir = fresh_dir("atomic_throw");
  fs::create_directories(dir);
  write_file_atomic(dir / "ckpt.bin", "old content");
  EXPECT_THROW(write_file_atomic(dir / "ckpt.bin",
                                 [](AtomicFile& f) {
                                   f.write("half of the new ");
                                   throw std::runtime_error("serializer failed");
                                 }),
               std::runtime_error);
  EXPECT_EQ(read_file(dir / "ckpt.bin"), "old content");
  EXPECT_EQ(count_entries(dir), 1);  // the temp file is gone
  fs::remove_all(dir);
}

TEST(AtomicFile, FullDiskThrowsNamingTheFileAndKeepsTheOldOne) {
  // A real short write: in a child process, RLIMIT_FSIZE makes write() fail with EFBIG past 4 KiB, as
  // ENOSPC would on a full disk. (Read-only directories do not stop root, which CI may be.)
  const fs::path dir = fresh_dir("atomic_full");
  fs::create_directories(dir);
  write_file_atomic(dir / "model.safetensors", "old weights");
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit lim{4096, 4096};
    setrlimit(RLIMIT_FSIZE, &lim);
    try {
      write_file_atomic(dir / "model.safetensors", std::string(100000, 'w'));
      _exit(1);  // no error: wrong
    } catch (const Error& e) {
      const std::string msg = e.what();
      _exit(msg.find("model.safetensors") != std::string::npos && msg.find("write failed") != std::string::npos ? 0 : 2);
    } catch (...) {
      _exit(3);
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: no error, 2: message lacks the file name, 3: wrong exception";
  EXPECT_EQ(read_file(dir / "model.safetensors"), "old weights");
  EXPECT_EQ(count_entries(dir), 1);
  fs::remove_all(dir);
}

TEST(AtomicFile, MissingDirectoryErrorNamesTheTarget) {
  try {
    write_file_atomic("/nonexistent_r1_dir/x.json", "{}");
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("/nonexistent_r1_dir/x.json"));
  }
}

TEST(RunDir, CreateRefusesToClobberAndResumeNeedsARun) {
  const fs::path root = fresh_dir("run");
  EXPECT_THROW(RunDir(root, RunDir::Mode::Resume), Error);
  {
    RunDir run(root, RunDir::Mode::Create);
    EXPECT_FALSE(run.resumed());
    run.write_file("config.yaml", "a: 1\n");
  }
  try {
    RunDir again(root, RunDir::Mode::Create);
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("already exists"));
    EXPECT_THAT(e.what(), HasSubstr(root.string()));
  }
  RunDir resumed(root, RunDir::Mode::Resume);
  EXPECT_TRUE(resumed.resumed());
  EXPECT_EQ(read_file(resumed.file("config.yaml")), "a: 1\n");
  fs::remove_all(root);
}

TEST(RunDir, SecondOpenWhileHeldIsRefused) {
  const fs::path root = fresh_dir("run_lock");
  RunDir a(root, RunDir::Mode::Create);
  try {
    RunDir b(root, RunDir::Mode::ResumeIfExists);
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("in use"));
    EXPECT_THAT(e.what(), HasSubstr(std::to_string(::getpid())));
  }
  RunDir moved(std::move(a));  // the lock moves with the object
  EXPECT_THROW(RunDir(root, RunDir::Mode::Resume), Error);
  fs::remove_all(root);
}

TEST(RunDir, CheckpointNamesParse) {
  EXPECT_EQ(checkpoint_dir_name(100), "step_000100");
  EXPECT_EQ(checkpoint_dir_name(12345678), "step_12345678");
  EXPECT_EQ(parse_checkpoint_dir_name("step_000100"), 100);
  EXPECT_EQ(parse_checkpoint_dir_name("step_000100.tmp"), std::nullopt);
  EXPECT_EQ(parse_checkpoint_dir_name("step_"), std::nullopt);
  EXPECT_EQ(parse_checkpoint_dir_name("best"), std::nullopt);
}

TEST(RunDir, IncompleteCheckpointsAreIgnored) {
  const fs::path root = fresh_dir("run_ckpt");
  RunDir run(root, RunDir::Mode::Create);
  EXPECT_EQ(run.latest_complete_checkpoint(), std::nullopt);
  for (int64_t step : {100, 200}) {
    const fs::path dir = run.begin_checkpoint(step);
    write_file_atomic(dir / "model.safetensors", "weights " + std::to_string(step));
    EXPECT_EQ(run.commit_checkpoint(step), run.checkpoints_dir() / checkpoint_dir_name(step));
  }
  // A crash mid-checkpoint at 300: the staging directory is not a checkpoint at all...
  write_file_atomic(run.begin_checkpoint(300) / "model.safetensors", "half");
  // ...and a step directory without the marker (copied by hand, older protocol) is incomplete.
  fs::create_directories(run.checkpoints_dir() / "step_000400");
  const auto all = run.checkpoints();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_TRUE(all[0].complete);
  EXPECT_TRUE(all[1].complete);
  EXPECT_FALSE(all[2].complete);
  EXPECT_EQ(all[2].step, 400);
  const auto latest = run.latest_complete_checkpoint();
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->step, 200);
  EXPECT_EQ(read_file(latest->dir / "model.safetensors"), "weights 200");
  EXPECT_TRUE(fs::exists(latest->dir / RunDir::kCompleteMarker));
  fs::remove_all(root);
}

TEST(RunDir, RecommittingAStepReplacesIt) {
  const fs::path root = fresh_dir("run_recommit");
  RunDir run(root, RunDir::Mode::Create);
  write_file_atomic(run.begin_checkpoint(5) / "w", "one");
  run.commit_checkpoint(5);
  write_file_atomic(run.begin_checkpoint(5) / "w", "two");
  run.commit_checkpoint(5);
  EXPECT_EQ(read_file(run.latest_complete_checkpoint()->dir / "w"), "two");
  EXPECT_EQ(count_entries(run.checkpoints_dir()), 1);
  fs::remove_all(root);
}

TEST(RunDir, PruneKeepsTheNewestCompleteAndClearsOldLeftovers) {
  const fs::path root = fresh_dir("run_prune");
  RunDir run(root, RunDir::Mode::Create);
  fs::create_directories(run.checkpoints_dir() / "step_000050");  // incomplete, older than the newest
  run.begin_checkpoint(60);                                         // crashed staging, older
  for (int64_t step : {100, 200, 300, 400}) {
    write_file_atomic(run.begin_checkpoint(step) / "w", "x");
    run.commit_checkpoint(step);
  }
  run.begin_checkpoint(500);  // being written right now: must survive
  const auto removed = run.prune_checkpoints(2);
  EXPECT_EQ(removed.size(), 4u);  // 100, 200, step_000050, step_000060.tmp
  const auto left = run.checkpoints();
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].step, 300);
  EXPECT_EQ(left[1].step, 400);
  EXPECT_TRUE(fs::exists(run.checkpoints_dir() / "step_000500.tmp"));
  EXPECT_THROW(run.prune_checkpoints(0), Error);
  fs::remove_all(root);
}
