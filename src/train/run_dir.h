// A run is a directory: runs/NAME/ holds config.yaml, metrics.jsonl, TensorBoard events, samples.jsonl,
// report.html and checkpoints/step_000100/... This file owns its layout and the rules that make a killed
// run safe to resume:
//  - every file is written atomically (temp file, fsync, rename, fsync of the directory): a reader sees the
//    old file or the new one, never half of one; a failed write (disk full) throws and keeps the old file;
//  - a checkpoint is written into checkpoints/step_N.tmp/ and renamed into place after its COMPLETE marker,
//    and only directories holding the marker count, so a crash mid-checkpoint leaves the previous one in use;
//  - an existing run is never overwritten unless it is being resumed, and a lock file keeps two processes
//    from using one run at once.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace r1 {

// A file being written atomically: data goes to a temp file beside the target; commit() makes it the
// target. Destroyed without commit() (an exception mid-write), the temp file is removed and the target
// is untouched.
class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path target);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Throws r1::Error naming the target on any error (ENOSPC, EFBIG, EIO); the target stays as it was.
  void write(const void* data, size_t bytes);
  void write(std::string_view text) { write(text.data(), text.size()); }
  void commit();  // fsync, rename over the target, fsync the directory

  const std::filesystem::path& target() const { return target_; }
  const std::filesystem::path& temp_path() const { return temp_; }

 private:
  void abandon(const std::string& what, int err);
  std::filesystem::path target_, temp_;
  int fd_ = -1;
};

void write_file_atomic(const std::filesystem::path& target, std::string_view content);
// Streams a large file (a checkpoint shard) through `fill`; if it throws, the target is untouched.
void write_file_atomic(const std::filesystem::path& target, const std::function<void(AtomicFile&)>& fill);
// Whole-file read; throws r1::Error naming the file.
std::string read_file(const std::filesystem::path& path);
// fsync of a directory, so that renames and new entries in it survive a power cut.
void sync_directory(const std::filesystem::path& dir);

struct CheckpointInfo {
  int64_t step = 0;
  std::filesystem::path dir;
  bool complete = false;  // holds the marker file
};

class RunDir {
 public:
  enum class Mode {
    Create,          // a new run: fails if the directory exists and is not empty
    Resume,          // an existing run: fails if the directory does not exist
    ResumeIfExists,  // resume when present, else create (preemptible jobs restart with the same command)
  };
  static constexpr const char* kCompleteMarker = "COMPLETE";
  static constexpr const char* kLockFile = ".lock";

  RunDir(std::filesystem::path root, Mode mode);
  ~RunDir();
  RunDir(RunDir&& other) noexcept;
  RunDir& operator=(RunDir&&) = delete;
  RunDir(const RunDir&) = delete;

  const std::filesystem::path& root() const { return root_; }
  bool resumed() const { return resumed_; }  // the directory existed with content when opened
  std::filesystem::path file(const std::string& name) const { return root_ / name; }
  std::filesystem::path checkpoints_dir() const { return root_ / "checkpoints"; }
  void write_file(const std::string& name, std::string_view content) const;  // atomic, relative to root

  // Checkpoint directories (complete or not; staging directories excluded), by ascending step.
  std::vector<CheckpointInfo> checkpoints() const;
  std::optional<CheckpointInfo> latest_complete_checkpoint() const;
  // An empty staging directory for the checkpoint of `step`; write its files there, then commit.
  std::filesystem::path begin_checkpoint(int64_t step) const;
  // Writes the marker last, fsyncs, and renames the staging directory to checkpoints/step_N/ (replacing
  // an older checkpoint of the same step). Returns the final directory.
  std::filesystem::path commit_checkpoint(int64_t step) const;
  // Keeps the newest `keep` complete checkpoints; removes older ones, and incomplete or staging directories
  // older than the newest complete one (leftovers of crashes). Returns what was removed.
  std::vector<std::filesystem::path> prune_checkpoints(int keep) const;

 private:
  std::filesystem::path root_;
  bool resumed_ = false;
  int lock_fd_ = -1;
};

// "step_000100": six digits sort by name up to a million steps; more digits still parse.
std::string checkpoint_dir_name(int64_t step);
// The step of "step_000100", or nullopt for any other name (including "step_000100.tmp").
std::optional<int64_t> parse_checkpoint_dir_name(std::string_view name);

}  // namespace r1
