#include "train/run_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"

namespace fs = std::filesystem;

namespace r1 {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

// Steps in staging ("step_000100.tmp") and replaced ("step_000100.old") checkpoint directory names.
std::optional<int64_t> parse_leftover_name(std::string_view name) {
  for (std::string_view suffix : {".tmp", ".old"})
    if (name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix)
      return parse_checkpoint_dir_name(name.substr(0, name.size() - suffix.size()));
  return std::nullopt;
}

void fsync_file(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_in_file(path.string(), "cannot open to sync: " + errno_text(errno));
  const int rc = ::fsync(fd), err = errno;
  ::close(fd);
  if (rc != 0) fail_in_file(path.string(), "fsync failed: " + errno_text(err));
}

}  // namespace

// ---- atomic files ----------------------------------------------------------------------------------------

AtomicFile::AtomicFile(fs::path target) : target_(std::move(target)) {
  // The temp file sits beside the target: rename() is atomic only within one filesystem. The pid keeps two
  // processes writing the same target from sharing a temp file.
  temp_ = target_.parent_path() / ("." + target_.filename().string() + ".tmp." + std::to_string(::getpid()));
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail_in_file(target_.string(), "cannot create temporary file " + temp_.string() + ": " + errno_text(errno));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(temp_.c_str());
  }
}

void AtomicFile::abandon(const std::string& what, int err) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  ::unlink(temp_.c_str());
  fail_in_file(target_.string(), what + ": " + errno_text(err) + " (the previous version, if any, is unchanged)");
}

void AtomicFile::write(const void* data, size_t bytes) {
  R1_CHECK(fd_ >= 0, "write after commit or failure: " + target_.string());
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::write(fd_, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) abandon("write failed", errno);
    if (n == 0) abandon("write failed", ENOSPC);  // no progress: treat like a full disk
    p += n;
    bytes -= size_t(n);
  }
}

void AtomicFile::commit() {
  R1_CHECK(fd_ >= 0, "commit twice or after failure: " + target_.string());
  // Data must be on disk before the rename publishes it, or a crash could leave an empty "new" file.
  if (::fsync(fd_) != 0) abandon("fsync failed", errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {  // network filesystems report deferred write errors here
    const int err = errno;
    ::unlink(temp_.c_str());
    fail_in_file(target_.string(), "close failed: " + errno_text(err) + " (the previous version, if any, is unchanged)");
  }
  if (::rename(temp_.c_str(), target_.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp_.c_str());
    fail_in_file(target_.string(), "rename failed: " + errno_text(err) + " (the previous version, if any, is unchanged)");
  }
  sync_directory(target_.parent_path().empty() ? fs::path(".") : target_.parent_path());
}

void write_file_atomic(const fs::path& target, std::string_view content) {
  AtomicFile file(target);
  file.write(content);
  file.commit();
}

void write_file_atomic(const fs::path& target, const std::function<void(AtomicFile&)>& fill) {
  AtomicFile file(target);
  fill(file);
  file.commit();
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_in_file(path.string(), "cannot open: " + errno_text(errno));
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) fail_in_file(path.string(), "cannot read");
  return s.str();
}

void sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail_in_file(dir.string(), "cannot open directory to sync: " + errno_text(errno));
  const int rc = ::fsync(fd), err = errno;
  ::close(fd);
  if (rc != 0 && err != EINVAL) fail_in_file(dir.string(), "directory fsync failed: " + errno_text(err));
}

// ---- checkpoint names ------------------------------------------------------------------------------------

std::string checkpoint_dir_name(int64_t step) {
  R1_CHECK(step >= 0, "negative checkpoint step");
  char buf[32];
  std::snprintf(buf, sizeof buf, "step_%06lld", (long long)step);
  return buf;
}

std::optional<int64_t> parse_checkpoint_dir_name(std::string_view name) {
  constexpr std::string_view kPrefix = "step_";
  if (name.size() <= kPrefix.size() || name.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  const std::string_view digits = name.substr(kPrefix.size());
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  int64_t step = 0;
  const auto r = std::from_chars(digits.data(), digits.data() + digits.size(), step);
  if (r.ec != std::errc()) return std::nullopt;
  return step;
}

// ---- RunDir ----------------------------------------------------------------------------------------------

RunDir::RunDir(fs::path root, Mode mode) : root_(std::move(root)) {
  std::error_code ec;
  const bool exists = fs::exists(root_, ec);
  if (exists && !fs::is_directory(root_, ec)) fail_in_file(root_.string(), "exists and is not a directory");
  bool has_content = false;
  if (exists)
    for (const auto& entry : fs::directory_iterator(root_))
      if (entry.path().filename() != kLockFile) has_content = true;
  if (mode == Mode::Create && has_content)
    fail_in_file(root_.string(), "run directory already exists; resume it (--resume) or choose another run name");
  if (mode == Mode::Resume && !exists) fail_in_file(root_.string(), "no run to resume: the directory does not exist");
  fs::create_directories(root_, ec);
  if (ec) fail_in_file(root_.string(), "cannot create the run directory: " + ec.message());
  resumed_ = has_content;

  // flock() is released by the kernel when the process dies, so a killed run never leaves a stale lock.
  const fs::path lock = root_ / kLockFile;
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) fail_in_file(lock.string(), "cannot create the lock file: " + errno_text(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {};
    const ssize_t n = ::pread(lock_fd_, pid, sizeof pid - 1, 0);
    ::close(lock_fd_);
    lock_fd_ = -1;
    fail_in_file(root_.string(), "run directory is in use by another process" +
                                     (n > 0 ? " (pid " + std::string(pid, size_t(n)) + ")" : std::string()));
  }
  const std::string pid = std::to_string(::getpid());
  if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, pid.data(), pid.size(), 0) < 0) {
    // The pid is only a courtesy for the "in use" message; the lock itself is held.
  }
}

RunDir::~RunDir() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

RunDir::RunDir(RunDir&& other) noexcept
    : root_(std::move(other.root_)), resumed_(other.resumed_), lock_fd_(other.lock_fd_) {
  other.lock_fd_ = -1;
}

void RunDir::write_file(const std::string& name, std::string_view content) const {
  write_file_atomic(root_ / name, content);
}

std::vector<CheckpointInfo> RunDir::checkpoints() const {
  std::vector<CheckpointInfo> out;
  std::error_code ec;
  if (!fs::is_directory(checkpoints_dir(), ec)) return out;
  for (const auto& entry : fs::directory_iterator(checkpoints_dir())) {
    if (!entry.is_directory()) continue;
    const auto step = parse_checkpoint_dir_name(entry.path().filename().string());
    if (!step) continue;
    out.push_back({*step, entry.path(), fs::exists(entry.path() / kCompleteMarker)});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.step < b.step; });
  return out;
}

std::optional<CheckpointInfo> RunDir::latest_complete_checkpoint() const {
  const auto all = checkpoints();
  for (auto it = all.rbegin(); it != all.rend(); ++it)
    if (it->complete) return *it;
  return std::nullopt;
}

fs::path RunDir::begin_checkpoint(int64_t step) const {
  const fs::path staging = checkpoints_dir() / (checkpoint_dir_name(step) + ".tmp");
  std::error_code ec;
  fs::create_directories(checkpoints_dir(), ec);
  if (ec) fail_in_file(checkpoints_dir().string(), "cannot create: " + ec.message());
  fs::remove_all(staging, ec);  // a leftover from a crash while writing this same step
  if (!fs::create_directory(staging, ec) || ec)
    fail_in_file(staging.string(), "cannot create the checkpoint directory: " + ec.message());
  return staging;
}

fs::path RunDir::commit_checkpoint(int64_t step) const {
  const fs::path staging = checkpoints_dir() / (checkpoint_dir_name(step) + ".tmp");
  const fs::path final_dir = checkpoints_dir() / checkpoint_dir_name(step);
  R1_CHECK(fs::is_directory(staging), "commit_checkpoint without begin_checkpoint: " + staging.string());
  // Files written with plain streams are not yet durable: sync them before the marker vouches for them.
  for (const auto& entry : fs::recursive_directory_iterator(staging))
    if (entry.is_regular_file()) fsync_file(entry.path());
  nlohmann::json marker = {{"step", step}, {"time", double(std::time(nullptr))}};
  write_file_atomic(staging / kCompleteMarker, marker.dump() + "\n");
  std::error_code ec;
  const fs::path old = checkpoints_dir() / (checkpoint_dir_name(step) + ".old");
  if (fs::exists(final_dir)) {
    fs::remove_all(old, ec);
    fs::rename(final_dir, old, ec);
    if (ec) fail_in_file(final_dir.string(), "cannot move the previous checkpoint aside: " + ec.message());
  }
  fs::rename(staging, final_dir, ec);
  if (ec) fail_in_file(final_dir.string(), "cannot publish the checkpoint: " + ec.message());
  sync_directory(checkpoints_dir());
  fs::remove_all(old, ec);
  return final_dir;
}

std::vector<fs::path> RunDir::prune_checkpoints(int keep) const {
  R1_CHECK(keep >= 1, "prune_checkpoints must keep at least one checkpoint");
  std::vector<fs::path> removed;
  const auto all = checkpoints();
  std::vector<CheckpointInfo> complete;
  for (const auto& c : all)
    if (c.complete) complete.push_back(c);
  if (complete.empty()) return removed;  // nothing safe to resume from yet: touch nothing
  const int64_t newest = complete.back().step;
  std::error_code ec;
  for (size_t i = 0; i + size_t(keep) < complete.size(); i++) {
    fs::remove_all(complete[i].dir, ec);
    removed.push_back(complete[i].dir);
  }
  for (const auto& c : all)
    if (!c.complete && c.step < newest) {
      fs::remove_all(c.dir, ec);
      removed.push_back(c.dir);
    }
  for (const auto& entry : fs::directory_iterator(checkpoints_dir())) {
    const auto step = parse_leftover_name(entry.path().filename().string());
    if (step && *step < newest) {  // staging directories of newer steps may still be being written
      fs::remove_all(entry.path(), ec);
      removed.push_back(entry.path());
    }
  }
  return removed;
}

}  // namespace r1
