// Code execution sandbox for the code reward: runs an untrusted program (a model's Python or C++ solution)
// so that it can neither hurt the host nor hang the trainer.
//
// Every run:
//   - runs in a fresh temporary directory (cwd, HOME and TMPDIR point there; removed afterwards), with an
//     environment holding only PATH, HOME, TMPDIR, LANG and a per-run marker R1_SANDBOX_ID;
//   - gets stdin from a memory file (or /dev/null), stdout/stderr through pipes capped at max_output_bytes;
//   - runs in its own session / process group, with rlimits on CPU time, address space, processes, file size
//     and open files (no core files), and a wall-clock timeout after which the whole group is SIGKILLed;
//   - runs as an unprivileged user: when the trainer runs as root, the child switches to `sandbox_uid`
//     (nobody) first, because RLIMIT_NPROC does not apply to root and a fork bomb would go unchecked;
//   - has no network: a seccomp-BPF filter makes socket(AF_INET / AF_INET6 / AF_PACKET), io_uring_setup and
//     ptrace fail with EPERM and kills non-native syscall ABIs (both isolation modes);
//   - may write only below its directory when the kernel has Landlock (both modes; see sandbox_landlock_abi).
// Isolation modes:
//   Namespaces (preferred; Auto picks it when the kernel allows unprivileged user namespaces):
//     new user, mount, network, PID and IPC namespaces. The whole file system is remounted read-only except
//     the run's directory (bind-mounted writable), so writes anywhere else fail with EROFS; the network
//     namespace has no interfaces besides a down loopback; the program runs under a tiny init (PID 1 of the
//     new PID namespace) whose exit makes the kernel kill every process left in the namespace — a daemon
//     that double-forks and calls setsid() cannot outlive the run. /proc is remounted for the namespace, so
//     host processes are invisible.
//   Seccomp (fallback): no namespaces. Writes outside the run directory are refused by a Landlock ruleset
//     when the kernel has Landlock (5.13+); without it they are confined only by file permissions (as nobody
//     when the trainer is root: world-writable directories such as /tmp stay writable; as an ordinary user:
//     whatever that user may write). Escaped daemons are found afterwards by scanning /proc for the run's
//     marker in their environment and killed. Runs share the sandbox uid, so one run could signal another's
//     processes (ptrace is denied by the filter); the network is cut by the seccomp filter alone.
// Thread-safe: many runs may proceed at once from a thread pool. Every fd is opened close-on-exec and each
// child closes every fd it does not need, so concurrent runs do not hold each other's pipes open.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace r1::rewards {

enum class SandboxIsolation { Auto, Namespaces, Seccomp };
const char* isolation_name(SandboxIsolation isolation);  // "auto", "namespaces", "seccomp"

struct SandboxLimits {
  double cpu_seconds = 2.0;                   // RLIMIT_CPU per process (rounded up to whole seconds)
  double wall_seconds = 4.0;                  // wall clock for the whole group
  uint64_t memory_bytes = 1ull << 30;         // RLIMIT_AS per process
  int max_processes = 32;                     // RLIMIT_NPROC: processes (threads) of the sandbox user
  uint64_t max_file_bytes = 16ull << 20;      // RLIMIT_FSIZE: largest file a process may write
  int max_open_files = 64;                    // RLIMIT_NOFILE
  uint64_t max_output_bytes = 1ull << 20;     // stdout + stderr kept; a run that writes more is killed
};

struct SandboxOptions {
  SandboxIsolation isolation = SandboxIsolation::Auto;
  std::string temp_root = "/tmp";  // where run directories are made
  uid_t sandbox_uid = 65534;       // nobody: used when the trainer runs as root
  gid_t sandbox_gid = 65534;
};

struct SandboxCommand {
  std::vector<std::string> argv;  // argv[0]: absolute path, or a name looked up on the sandbox PATH
  std::string stdin_data;
  SandboxLimits limits;
  std::vector<std::string> env;  // extra "KEY=VALUE" entries
};

enum class SandboxStatus { Exited, Signaled, Timeout, OutputLimit, SetupError };

struct SandboxResult {
  SandboxStatus status = SandboxStatus::SetupError;
  int exit_code = -1;  // when Exited
  int signal = 0;      // when Signaled
  std::string stdout_text, stderr_text;
  double wall_seconds = 0.0;
  std::string error;  // SetupError: which step failed and why
  bool ok() const { return status == SandboxStatus::Exited && exit_code == 0; }
  std::string describe() const;  // "exit 0", "exit 1", "killed by signal 9", "timeout after 1.0 s", ...
};

// A fresh directory for one or several runs (e.g. compile, then run the binary per test); removed with all
// its contents on destruction, whatever the program did to its permissions.
class SandboxDir {
 public:
  explicit SandboxDir(const SandboxOptions& options = {});
  ~SandboxDir();
  SandboxDir(const SandboxDir&) = delete;
  SandboxDir& operator=(const SandboxDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes a file the program may read and overwrite. `name` is relative and must not contain "..".
  void write_file(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
  bool chown_ = false;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
};

class Sandbox {
 public:
  explicit Sandbox(SandboxOptions options = {});
  // The mode runs use (Auto resolved). Asking for Namespaces where the kernel refuses them throws r1::Error.
  SandboxIsolation isolation() const { return isolation_; }
  const SandboxOptions& options() const { return options_; }

  // Runs `command` with `dir` as its working directory.
  SandboxResult run(const SandboxDir& dir, const SandboxCommand& command) const;
  // Runs `command` in a fresh directory holding `files` (name, content).
  SandboxResult run(const SandboxCommand& command,
                    const std::vector<std::pair<std::string, std::string>>& files = {}) const;

 private:
  SandboxOptions options_;
  SandboxIsolation isolation_;
};

// The kernel's Landlock ABI version (0: no Landlock). With Landlock, both modes also deny every write-like
// file access outside the run directory (and /dev/null) at the LSM level.
int sandbox_landlock_abi();

// Whether this kernel lets us create user + mount + network + PID namespaces (probed once, in a child).
bool sandbox_namespaces_available();

}  // namespace r1::rewards
