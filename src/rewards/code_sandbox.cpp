// Code execution sandbox: fork, isolate, limit, exec, supervise, clean up (see code_sandbox.h).
//
// Process tree of one run in Namespaces mode:
//   trainer thread (P) --fork--> C: setsid, drop to nobody, unshare(user|mnt|net|pid|ipc), uid/gid maps,
//                                   read-only remount of every mount but the run directory
//                        C --fork--> I: PID 1 of the new PID namespace; mounts its /proc, reaps orphans
//                        I --fork--> H: chdir, rlimits, seccomp, execve(program)
//   I reports H's wait status on a status pipe and exits; the kernel then kills whatever is left in the
//   namespace. P SIGKILLs C's process group (C, I and every descendant that did not setsid) on timeout; I's
//   death takes the setsid'd ones with it.
// Seccomp mode: C does the limits and execs the program itself; P sweeps /proc for the run's marker after.
//
// P prepares everything before fork (argv, envp, mount list, id maps): after fork in a multi-threaded
// process the child may only make async-signal-safe calls, so the child code below uses raw syscalls and
// no allocation.
#include "rewards/code_sandbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>

#include "core/error.h"
#include "core/log.h"

namespace r1::rewards {

const char* isolation_name(SandboxIsolation isolation) {
  switch (isolation) {
    case SandboxIsolation::Auto:
      return "auto";
    case SandboxIsolation::Namespaces:
      return "namespaces";
    case SandboxIsolation::Seccomp:
      return "seccomp";
  }
  return "?";
}

std::string SandboxResult::describe() const {
  char buf[160];
  switch (status) {
    case SandboxStatus::Exited:
      std::snprintf(buf, sizeof buf, "exit %d", exit_code);
      break;
    case SandboxStatus::Signaled:
      std::snprintf(buf, sizeof buf, "killed by signal %d (%s)", signal, strsignal(signal));
      break;
    case SandboxStatus::Timeout:
      std::snprintf(buf, sizeof buf, "timeout after %.2f s", wall_seconds);
      break;
    case SandboxStatus::OutputLimit:
      std::snprintf(buf, sizeof buf, "output limit exceeded");
      break;
    case SandboxStatus::SetupError:
      return "sandbox setup failed: " + error;
  }
  return buf;
}

namespace {

// ---- seccomp: no IPv4/IPv6/packet sockets, no io_uring (it can open sockets without socket(2)), no ptrace -------------

#if defined(__x86_64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_AARCH64;
#else
#error "code_sandbox: seccomp filter written for x86_64 and aarch64 only"
#endif

constexpr uint32_t kDeny = SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA);

const sock_filter kFilter[] = {
    // Another ABI (i386 int 0x80) has other syscall numbers and its own socketcall: kill rather than guess.
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kAuditArch, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
#if defined(__x86_64__)
    // x32 syscalls carry bit 30 and share the native arch value.
    BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, kDeny),
#endif
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, kDeny),
    // Runs of one user must not read or steer each other (the fallback mode shares one uid across runs).
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ptrace, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, kDeny),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_process_vm_readv, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, kDeny),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_process_vm_writev, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, kDeny),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    // socket(domain, ...): the kernel reads domain as an int, i.e. the low 32 bits (little-endian first word).
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET, 2, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET6, 1, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_PACKET, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, kDeny),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

// ---- Landlock: writes only below the run directory (and to /dev/null), reads unrestricted ----------------

#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif

int landlock_abi() {
#ifdef SYS_landlock_create_ruleset
  static const int abi = [] {
    const long v = syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return v < 0 ? 0 : static_cast<int>(v);
  }();
  return abi;
#else
  return 0;
#endif
}

// A ruleset fd (close-on-exec) that, once applied, denies every write-like access outside `workdir`; -1 when
// the kernel has no Landlock.
int landlock_ruleset(const std::string& workdir) {
#ifdef SYS_landlock_create_ruleset
  const int abi = landlock_abi();
  if (abi < 1) return -1;
  uint64_t writes = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
                    LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
                    LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
                    LANDLOCK_ACCESS_FS_MAKE_SYM;
  if (abi >= 2) writes |= LANDLOCK_ACCESS_FS_REFER;
  if (abi >= 3) writes |= LANDLOCK_ACCESS_FS_TRUNCATE;
  uint64_t attr[4] = {writes, 0, 0, 0};  // landlock_ruleset_attr: handled_access_fs first, later fields zero
  const int ruleset = static_cast<int>(syscall(SYS_landlock_create_ruleset, attr, sizeof(uint64_t), 0));
  if (ruleset < 0) return -1;
  fcntl(ruleset, F_SETFD, FD_CLOEXEC);
  auto allow = [&](const char* path, uint64_t access) {
    const int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) return false;
    landlock_path_beneath_attr rule{};
    rule.allowed_access = access;
    rule.parent_fd = fd;
    const bool ok = syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) == 0;
    close(fd);
    return ok;
  };
  if (!allow(workdir.c_str(), writes)) {
    close(ruleset);
    throw Error("sandbox: cannot add the Landlock rule for " + workdir + ": " + std::strerror(errno));
  }
  allow("/dev/null", LANDLOCK_ACCESS_FS_WRITE_FILE | (abi >= 3 ? LANDLOCK_ACCESS_FS_TRUNCATE : 0));
  return ruleset;
#else
  (void)workdir;
  return -1;
#endif
}

// ---- reports from the children on the status pipe ---------------------------------------------------------

enum Step : int32_t {
  kStepNone = 0,
  kStepFds,
  kStepCredentials,
  kStepUnshare,
  kStepIdMaps,
  kStepMountPrivate,
  kStepBindWorkdir,
  kStepRemount,
  kStepForkInit,
  kStepForkProgram,
  kStepChdir,
  kStepRlimit,
  kStepSeccomp,
  kStepLandlock,
  kStepExec,
};

const char* step_name(int32_t step) {
  switch (step) {
    case kStepFds: return "redirect fds";
    case kStepCredentials: return "switch to the sandbox user";
    case kStepUnshare: return "unshare namespaces";
    case kStepIdMaps: return "write uid/gid maps";
    case kStepMountPrivate: return "make mounts private";
    case kStepBindWorkdir: return "bind-mount the run directory";
    case kStepRemount: return "remount read-only";
    case kStepForkInit: return "fork namespace init";
    case kStepForkProgram: return "fork program";
    case kStepChdir: return "chdir to the run directory";
    case kStepRlimit: return "set rlimits";
    case kStepSeccomp: return "install seccomp filter";
    case kStepLandlock: return "apply Landlock ruleset";
    case kStepExec: return "execve";
    default: return "unknown step";
  }
}

enum ReportKind : int32_t { kReportFailure = 1, kReportWaitStatus = 2 };

struct Report {
  int32_t kind = 0, step = 0, value = 0;
};

constexpr int kStatusFd = 3;    // where the status pipe sits in the children
constexpr int kLandlockFd = 4;  // and the Landlock ruleset

// ---- the plan: all the child needs, built before fork ------------------------------------------------------

struct Limit {
  int resource;
  rlim_t soft, hard;
};

struct ChildPlan {
  pid_t parent = 0;
  const char* path = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* workdir = nullptr;
  bool namespaces = false;
  bool drop_privileges = false;
  uid_t uid = 0;
  gid_t gid = 0;
  const char* uid_map = nullptr;
  const char* gid_map = nullptr;
  const char* const* mounts = nullptr;  // mount points to remount read-only
  const unsigned long* mount_flags = nullptr;
  size_t mount_count = 0;
  const Limit* limits = nullptr;
  size_t limit_count = 0;
  int fds[4] = {-1, -1, -1, -1};  // stdin, stdout, stderr, status (become 0..3)
  int landlock = -1;              // ruleset (becomes fd 4), or -1
};

// ---- child side: async-signal-safe only --------------------------------------------------------------------

void report(int32_t kind, int32_t step, int32_t value) {
  Report r;
  r.kind = kind, r.step = step, r.value = value;
  ssize_t unused = write(kStatusFd, &r, sizeof r);
  (void)unused;
}

[[noreturn]] void fail_child(int32_t step) {
  report(kReportFailure, step, errno);
  _exit(127);
}

bool write_proc_file(const char* path, const char* text) {
  const int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const size_t n = strlen(text);
  const bool ok = write(fd, text, n) == static_cast<ssize_t>(n);
  close(fd);
  return ok;
}

void close_fds_from(int first) {
  if (syscall(SYS_close_range, first, ~0u, 0) == 0) return;
  for (int fd = first; fd < 65536; ++fd) close(fd);
}

void reset_signals() {
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);  // fails harmlessly for KILL/STOP
}

[[noreturn]] void exec_program(const ChildPlan& p) {
  if (chdir(p.workdir) != 0) fail_child(kStepChdir);
  for (size_t i = 0; i < p.limit_count; ++i) {
    struct rlimit rl;
    rl.rlim_cur = p.limits[i].soft;
    rl.rlim_max = p.limits[i].hard;
    if (setrlimit(p.limits[i].resource, &rl) != 0) fail_child(kStepRlimit);
  }
  sock_fprog prog;
  prog.len = static_cast<unsigned short>(sizeof kFilter / sizeof kFilter[0]);
  prog.filter = const_cast<sock_filter*>(kFilter);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail_child(kStepSeccomp);
#ifdef SYS_landlock_restrict_self
  if (p.landlock >= 0) {
    if (syscall(SYS_landlock_restrict_self, kLandlockFd, 0) != 0) fail_child(kStepLandlock);
    close(kLandlockFd);
  }
#endif
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) fail_child(kStepSeccomp);
  execve(p.path, p.argv, p.envp);
  fail_child(kStepExec);
}

// PID 1 of the run's PID namespace: starts the program, reaps every orphan, reports the program's status.
[[noreturn]] void namespace_init(const ChildPlan& p) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // C killed -> init dies -> the kernel empties the namespace
  // A /proc of this PID namespace: host processes become invisible. Without it the old /proc stays, still
  // read-only; not fatal.
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, nullptr) != 0)
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
  const pid_t program = fork();
  if (program < 0) fail_child(kStepForkProgram);
  if (program == 0) exec_program(p);
  close(0), close(1), close(2);  // only the program holds the output pipes
  for (;;) {
    int status = 0;
    const pid_t w = waitpid(-1, &status, __WALL);
    if (w == program) {
      report(kReportWaitStatus, kStepNone, status);
      _exit(0);
    }
    if (w < 0 && errno != EINTR) _exit(0);
  }
}

[[noreturn]] void child_main(const ChildPlan& p) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != p.parent) _exit(127);  // the parent thread died before prctl
  setsid();
  // Move our four fds to 0..3 without clobbering: first above everything, then down.
  int high[5];
  const int count = p.landlock >= 0 ? 5 : 4;
  for (int i = 0; i < count; ++i) {
    const int from = i < 4 ? p.fds[i] : p.landlock;
    high[i] = from < 0 ? open("/dev/null", O_RDONLY | O_CLOEXEC) : fcntl(from, F_DUPFD_CLOEXEC, 64);
    if (high[i] < 0) _exit(127);
  }
  for (int i = 0; i < count; ++i)
    if (dup2(high[i], i) != i) _exit(127);
  close_fds_from(count);
  fcntl(kStatusFd, F_SETFD, FD_CLOEXEC);  // the program never sees the status pipe or the ruleset
  if (count > 4) fcntl(kLandlockFd, F_SETFD, FD_CLOEXEC);
  reset_signals();
  if (p.drop_privileges) {
    // Raw syscalls: glibc's wrappers broadcast to all threads, and this child has only one.
    if (syscall(SYS_setgroups, 0, nullptr) != 0 || syscall(SYS_setresgid, p.gid, p.gid, p.gid) != 0 ||
        syscall(SYS_setresuid, p.uid, p.uid, p.uid) != 0)
      fail_child(kStepCredentials);
    // Changing uid clears "dumpable", which makes /proc/self/* root-owned: the uid_map write below would fail.
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
  }
  if (!p.namespaces) exec_program(p);

  if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC) != 0) fail_child(kStepUnshare);
  if (!write_proc_file("/proc/self/setgroups", "deny") || !write_proc_file("/proc/self/uid_map", p.uid_map) ||
      !write_proc_file("/proc/self/gid_map", p.gid_map))
    fail_child(kStepIdMaps);
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) fail_child(kStepMountPrivate);
  if (mount(p.workdir, p.workdir, nullptr, MS_BIND | MS_REC, nullptr) != 0) fail_child(kStepBindWorkdir);
  for (size_t i = 0; i < p.mount_count; ++i) {
    if (mount(nullptr, p.mounts[i], nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | p.mount_flags[i], nullptr) == 0) continue;
    // Unreachable for the sandbox user (EACCES) or hidden under another mount (ENOENT): the program cannot
    // reach it either. Anything else leaves a writable mount behind: refuse to run.
    if (errno == EACCES || errno == ENOENT) continue;
    fail_child(kStepRemount);
  }
  const pid_t init = fork();
  if (init < 0) fail_child(kStepForkInit);
  if (init == 0) namespace_init(p);
  close(0), close(1), close(2), close(kStatusFd), close(kLandlockFd);
  int status = 0;
  while (waitpid(init, &status, 0) < 0 && errno == EINTR) {
  }
  _exit(0);
}

// ---- parent side --------------------------------------------------------------------------------------------

std::string errno_text(int err) { return std::strerror(err); }

// Mount points of this process, with the flags a read-only bind remount must keep (locked flags such as
// nosuid / nodev / noexec and the atime mode cannot be dropped inside a user namespace).
void mount_points(std::vector<std::string>& points, std::vector<unsigned long>& flags) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    if (!(fields >> id >> parent >> dev >> root >> point)) continue;
    std::string decoded;  // mountinfo escapes space, tab, newline and backslash as \ooo
    for (size_t i = 0; i < point.size(); ++i) {
      if (point[i] == '\\' && i + 3 < point.size() + 0 && std::isdigit(static_cast<unsigned char>(point[i + 1]))) {
        decoded += static_cast<char>(std::stoi(point.substr(i + 1, 3), nullptr, 8));
        i += 3;
      } else {
        decoded += point[i];
      }
    }
    struct statfs st;
    unsigned long f = 0;
    if (statfs(decoded.c_str(), &st) == 0) {
      if (st.f_flags & ST_NOSUID) f |= MS_NOSUID;
      if (st.f_flags & ST_NODEV) f |= MS_NODEV;
      if (st.f_flags & ST_NOEXEC) f |= MS_NOEXEC;
      if (st.f_flags & ST_NOATIME) f |= MS_NOATIME;
      if (st.f_flags & ST_NODIRATIME) f |= MS_NODIRATIME;
      if (st.f_flags & ST_RELATIME) f |= MS_RELATIME;
    }
    points.push_back(decoded);
    flags.push_back(f);
  }
}

// The sandbox's PATH; argv[0] without a slash is looked up here (the child's execve takes a full path).
constexpr const char* kPath = "/usr/local/bin:/usr/bin:/bin";

std::string resolve_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  std::string dirs = kPath;
  for (size_t start = 0; start <= dirs.size();) {
    size_t colon = dirs.find(':', start);
    if (colon == std::string::npos) colon = dirs.size();
    const std::string candidate = dirs.substr(start, colon - start) + "/" + name;
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(candidate.c_str(), X_OK) == 0)
      return candidate;
    start = colon + 1;
  }
  return "";
}

// Reads /proc/<pid>/<file> (at most `cap` bytes); "" when unreadable.
std::string read_proc(const char* pid, const char* file, size_t cap) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%s/%s", pid, file);
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string out;
  char buf[4096];
  while (out.size() < cap) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

template <typename F>
void for_each_process(F&& f) {
  DIR* dir = opendir("/proc");
  if (!dir) return;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    f(e->d_name);
  }
  closedir(dir);
}

// Kills every process whose environment carries `marker` ("R1_SANDBOX_ID=..."), until none is left.
void kill_marked(const std::string& marker) {
  const std::string needle = marker + std::string(1, '\0');
  const std::string self = std::to_string(getpid());
  // A scan can miss a process caught mid-fork (its /proc entry not yet readable), so only several empty scans
  // in a row end the sweep; under load a single empty scan let fork-bomb children survive.
  int empty_scans = 0;
  for (int round = 0; round < 1000 && empty_scans < 5; ++round) {
    int found = 0;
    for_each_process([&](const char* pid) {
      if (self == pid) return;
      const std::string env = read_proc(pid, "environ", 1 << 20);
      if (env.find(needle) == std::string::npos && !(env.size() >= marker.size() && env.compare(env.size() - marker.size(), marker.size(), marker) == 0))
        return;
      kill(static_cast<pid_t>(std::atol(pid)), SIGKILL);
      ++found;
    });
    empty_scans = found == 0 ? empty_scans + 1 : 0;
    usleep(1000);
  }
}

// Tasks (threads) whose real uid is `uid`: RLIMIT_NPROC counts them all, so the fallback mode sets the limit
// relative to this count.
long tasks_of_user(uid_t uid) {
  long total = 0;
  for_each_process([&](const char* pid) {
    const std::string status = read_proc(pid, "status", 8192);
    const size_t u = status.find("\nUid:");
    const size_t t = status.find("\nThreads:");
    if (u == std::string::npos || t == std::string::npos) return;
    if (static_cast<uid_t>(std::strtoul(status.c_str() + u + 5, nullptr, 10)) != uid) return;
    total += std::strtol(status.c_str() + t + 9, nullptr, 10);
  });
  return total;
}

std::string unique_run_id() {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t salt = [] {
    std::random_device rd;
    return (uint64_t(rd()) << 32) ^ rd();
  }();
  char buf[64];
  std::snprintf(buf, sizeof buf, "%d-%llu-%llx", int(getpid()), (unsigned long long)counter.fetch_add(1),
                (unsigned long long)salt);
  return buf;
}

// Removes a tree the program may have made hostile: directories chmod'ed to 000, symlinks (never followed).
void remove_tree(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    chmod(path.c_str(), 0700);
    if (DIR* dir = opendir(path.c_str())) {
      std::vector<std::string> names;
      while (dirent* e = readdir(dir))
        if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) names.push_back(e->d_name);
      closedir(dir);
      for (const auto& n : names) remove_tree(path + "/" + n);
    }
    rmdir(path.c_str());
  } else {
    unlink(path.c_str());
  }
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Pipe {
  int read = -1, write = -1;
  Pipe() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw Error("sandbox: pipe2 failed: " + errno_text(errno));
    read = fds[0], write = fds[1];
  }
  ~Pipe() {
    close_read();
    close_write();
  }
  void close_read() {
    if (read >= 0) close(read);
    read = -1;
  }
  void close_write() {
    if (write >= 0) close(write);
    write = -1;
  }
};

}  // namespace

// ---- SandboxDir ---------------------------------------------------------------------------------------------

SandboxDir::SandboxDir(const SandboxOptions& options) {
  std::string pattern = options.temp_root + "/r1-sandbox-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) fail_in_file(options.temp_root, "cannot create a sandbox directory: " + errno_text(errno));
  path_ = buf.data();
  if (geteuid() == 0) {
    chown_ = true, uid_ = options.sandbox_uid, gid_ = options.sandbox_gid;
    if (chown(path_.c_str(), uid_, gid_) != 0) {
      const int err = errno;
      remove_tree(path_);
      fail_in_file(path_, "cannot hand the sandbox directory to uid " + std::to_string(uid_) + ": " + errno_text(err));
    }
  }
}

SandboxDir::~SandboxDir() { remove_tree(path_); }

void SandboxDir::write_file(const std::string& name, const std::string& content) const {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
    throw Error("sandbox: file name '" + name + "' must be a plain name");
  const std::string full = path_ + "/" + name;
  const int fd = open(full.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) fail_in_file(full, "cannot write: " + errno_text(errno));
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      close(fd);
      fail_in_file(full, "cannot write: " + errno_text(err));
    }
    done += static_cast<size_t>(n);
  }
  if (chown_ && fchown(fd, uid_, gid_) != 0) {
    const int err = errno;
    close(fd);
    fail_in_file(full, "cannot chown: " + errno_text(err));
  }
  close(fd);
}

namespace {
SandboxResult run_isolated(const SandboxOptions& options, bool namespaces, const SandboxDir& dir,
                           const SandboxCommand& command);
}  // namespace

// ---- Sandbox ------------------------------------------------------------------------------------------------

Sandbox::Sandbox(SandboxOptions options) : options_(std::move(options)) {
  isolation_ = options_.isolation;
  if (isolation_ == SandboxIsolation::Auto)
    isolation_ = sandbox_namespaces_available() ? SandboxIsolation::Namespaces : SandboxIsolation::Seccomp;
  else if (isolation_ == SandboxIsolation::Namespaces && !sandbox_namespaces_available())
    throw Error("sandbox: isolation 'namespaces' requested but this kernel refuses unprivileged user namespaces");
}

SandboxResult Sandbox::run(const SandboxCommand& command, const std::vector<std::pair<std::string, std::string>>& files) const {
  SandboxDir dir(options_);
  for (const auto& [name, content] : files) dir.write_file(name, content);
  return run(dir, command);
}

SandboxResult Sandbox::run(const SandboxDir& dir, const SandboxCommand& command) const {
  return run_isolated(options_, isolation_ == SandboxIsolation::Namespaces, dir, command);
}

namespace {

SandboxResult run_isolated(const SandboxOptions& options, bool ns, const SandboxDir& dir, const SandboxCommand& command) {
  SandboxResult result;
  R1_CHECK(!command.argv.empty(), "sandbox command without argv");
  const std::string program = resolve_program(command.argv[0]);
  if (program.empty()) {
    result.error = "program '" + command.argv[0] + "' not found on " + kPath;
    return result;
  }
  const bool root = geteuid() == 0;
  const uid_t uid = root ? options.sandbox_uid : geteuid();
  const gid_t gid = root ? options.sandbox_gid : getegid();
  const SandboxLimits& lim = command.limits;

  // argv / envp as C arrays.
  const std::string marker = "R1_SANDBOX_ID=" + unique_run_id();
  std::vector<std::string> env = {std::string("PATH=") + kPath, "HOME=" + dir.path(), "TMPDIR=" + dir.path(),
                                  "LANG=C.UTF-8", marker};
  env.insert(env.end(), command.env.begin(), command.env.end());
  std::vector<char*> argv, envp;
  for (const auto& a : command.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  // Limits. RLIMIT_NPROC counts every task of the (outer) user; in Namespaces mode the count is per user
  // namespace, so only C, init and the program's own processes count.
  rlim_t nproc = static_cast<rlim_t>(lim.max_processes) + 2;
  if (!ns) nproc = static_cast<rlim_t>(tasks_of_user(uid) + lim.max_processes + 1);
  const rlim_t cpu = static_cast<rlim_t>(std::max(1.0, std::ceil(lim.cpu_seconds)));
  const Limit limits[] = {
      {RLIMIT_CPU, cpu, cpu + 1},  // SIGXCPU at the soft limit, SIGKILL one second later
      {RLIMIT_AS, lim.memory_bytes, lim.memory_bytes},
      {RLIMIT_NPROC, nproc, nproc},
      {RLIMIT_FSIZE, lim.max_file_bytes, lim.max_file_bytes},
      {RLIMIT_NOFILE, static_cast<rlim_t>(lim.max_open_files), static_cast<rlim_t>(lim.max_open_files)},
      {RLIMIT_CORE, 0, 0},
      {RLIMIT_MEMLOCK, 0, 0},
      {RLIMIT_MSGQUEUE, 0, 0},
  };

  std::vector<std::string> points;
  std::vector<unsigned long> point_flags;
  std::vector<const char*> point_ptrs;
  if (ns) {
    mount_points(points, point_flags);
    for (const auto& p : points) point_ptrs.push_back(p.c_str());
  }
  const std::string uid_map = std::to_string(uid) + " " + std::to_string(uid) + " 1\n";
  const std::string gid_map = std::to_string(gid) + " " + std::to_string(gid) + " 1\n";

  // stdin: a memory file (a pipe would need a writer thread and SIGPIPE handling).
  int stdin_fd = -1;
  if (!command.stdin_data.empty()) {
    stdin_fd = memfd_create("r1-sandbox-stdin", MFD_CLOEXEC);
    if (stdin_fd < 0) throw Error("sandbox: memfd_create failed: " + errno_text(errno));
    size_t done = 0;
    while (done < command.stdin_data.size()) {
      const ssize_t n = write(stdin_fd, command.stdin_data.data() + done, command.stdin_data.size() - done);
      if (n <= 0) {
        close(stdin_fd);
        throw Error("sandbox: cannot write stdin: " + errno_text(errno));
      }
      done += static_cast<size_t>(n);
    }
    lseek(stdin_fd, 0, SEEK_SET);
  }
  Pipe out, err, status;
  const int ruleset = landlock_ruleset(dir.path());
  struct CloseFd {
    int fd;
    ~CloseFd() {
      if (fd >= 0) close(fd);
    }
  } close_ruleset{ruleset};

  ChildPlan plan;
  plan.parent = getpid();
  plan.path = program.c_str();
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.workdir = dir.path().c_str();
  plan.namespaces = ns;
  plan.drop_privileges = root;
  plan.uid = uid, plan.gid = gid;
  plan.uid_map = uid_map.c_str(), plan.gid_map = gid_map.c_str();
  plan.mounts = point_ptrs.data(), plan.mount_flags = point_flags.data(), plan.mount_count = point_ptrs.size();
  plan.limits = limits, plan.limit_count = sizeof limits / sizeof limits[0];
  plan.fds[0] = stdin_fd, plan.fds[1] = out.write, plan.fds[2] = err.write, plan.fds[3] = status.write;
  plan.landlock = ruleset;

  const auto t0 = std::chrono::steady_clock::now();
  const pid_t child = fork();
  if (child < 0) {
    if (stdin_fd >= 0) close(stdin_fd);
    result.error = "fork failed: " + errno_text(errno);
    return result;
  }
  if (child == 0) child_main(plan);

  if (stdin_fd >= 0) close(stdin_fd);
  out.close_write(), err.close_write(), status.close_write();
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, child, 0));

  // Supervise: collect output until the child exits, the wall clock runs out or the output cap is hit.
  // C is reaped only after its group was killed: while C (alive or a zombie) holds its pid, the group id
  // cannot be reused by an unrelated process, so kill(-child) can only hit the run's own processes.
  bool exited = false, reaped = false, timed_out = false, too_much = false;
  int wait_status = 0;
  size_t kept = 0;
  auto kill_all = [&] {
    if (!reaped) {
      kill(-child, SIGKILL);  // C's process group: C, init and every descendant that did not setsid()
      kill(child, SIGKILL);   // C itself, should it not have reached setsid() yet
    }
    if (!ns) kill_marked(marker);  // setsid()'d escapees of the fallback mode
  };
  auto check_exit = [&] {
    if (exited) return;
    siginfo_t info{};
    if (waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == child)
      exited = true;
  };
  auto reap = [&] {
    kill_all();  // leftovers: background children, or daemons in the fallback mode
    while (waitpid(child, &wait_status, 0) < 0 && errno == EINTR) {
    }
    reaped = true;
  };
  const double wall = std::max(0.05, lim.wall_seconds);
  double drain_until = -1;  // after the child is gone: how long we still wait for the pipes' EOF
  for (;;) {
    const double now = seconds_since(t0);
    if (!exited && !timed_out && !too_much && now >= wall) {
      timed_out = true;
      kill_all();
    }
    if (exited && !reaped) {
      reap();
      drain_until = now + 1.0;
    }
    if (out.read < 0 && err.read < 0 && reaped) break;
    if (drain_until >= 0 && now >= drain_until) break;
    pollfd fds[3];
    int n = 0, out_i = -1, err_i = -1, pid_i = -1;
    if (out.read >= 0) out_i = n, fds[n++] = {out.read, POLLIN, 0};
    if (err.read >= 0) err_i = n, fds[n++] = {err.read, POLLIN, 0};
    if (!exited && pidfd >= 0) pid_i = n, fds[n++] = {pidfd, POLLIN, 0};
    double wait_s = (drain_until >= 0 ? drain_until : wall) - now;
    if (pidfd < 0 || timed_out || too_much) wait_s = std::min(wait_s, 0.005);  // poll for the exit instead
    const int timeout_ms = std::max(0, static_cast<int>(std::ceil(std::max(0.0, wait_s) * 1000)));
    const int ready = n > 0 ? poll(fds, static_cast<nfds_t>(n), timeout_ms) : (usleep(timeout_ms * 1000), 0);
    if (ready < 0 && errno != EINTR) break;
    auto drain = [&](int idx, Pipe& pipe, std::string& sink) {
      if (idx < 0 || !(fds[idx].revents & (POLLIN | POLLHUP | POLLERR))) return;
      char buf[65536];
      const ssize_t got = read(pipe.read, buf, sizeof buf);
      if (got <= 0) {
        if (got == 0 || errno != EINTR) pipe.close_read();
        return;
      }
      const size_t room = lim.max_output_bytes > kept ? lim.max_output_bytes - kept : 0;
      sink.append(buf, std::min(room, static_cast<size_t>(got)));
      kept += std::min(room, static_cast<size_t>(got));
      if (static_cast<size_t>(got) > room && !too_much) {
        too_much = true;
        kill_all();
      }
    };
    if (ready > 0) {
      drain(out_i, out, result.stdout_text);
      drain(err_i, err, result.stderr_text);
    }
    if ((pid_i >= 0 && ready > 0 && (fds[pid_i].revents & POLLIN)) || pidfd < 0 || timed_out || too_much) check_exit();
  }
  if (!reaped) reap();
  if (pidfd >= 0) close(pidfd);
  result.wall_seconds = seconds_since(t0);

  // Reports: a setup failure from any child, and in Namespaces mode the program's wait status from init.
  fcntl(status.read, F_SETFL, O_NONBLOCK);
  Report failure, exit_report;
  bool have_failure = false, have_exit = false;
  Report r;
  while (read(status.read, &r, sizeof r) == static_cast<ssize_t>(sizeof r)) {
    if (r.kind == kReportFailure && !have_failure) failure = r, have_failure = true;
    if (r.kind == kReportWaitStatus) exit_report = r, have_exit = true;
  }

  if (too_much) {
    result.status = SandboxStatus::OutputLimit;
  } else if (timed_out) {
    result.status = SandboxStatus::Timeout;
  } else if (have_failure) {
    result.status = SandboxStatus::SetupError;
    result.error = std::string(step_name(failure.step)) + ": " + errno_text(failure.value);
  } else {
    int st = wait_status;
    if (ns) {
      if (!have_exit) {
        result.status = SandboxStatus::SetupError;
        result.error = "namespace init ended without reporting the program's status";
        return result;
      }
      st = exit_report.value;
    }
    if (WIFEXITED(st)) {
      result.status = SandboxStatus::Exited;
      result.exit_code = WEXITSTATUS(st);
    } else if (WIFSIGNALED(st)) {
      result.status = SandboxStatus::Signaled;
      result.signal = WTERMSIG(st);
    }
  }
  return result;
}

}  // namespace

int sandbox_landlock_abi() { return landlock_abi(); }

// ---- probe --------------------------------------------------------------------------------------------------

bool sandbox_namespaces_available() {
  static std::once_flag once;
  static bool available = false;
  std::call_once(once, [] {
    // A real run of `true` through every namespace step: the probe fails exactly when a run would.
    SandboxOptions options;
    SandboxDir dir(options);
    SandboxCommand cmd;
    cmd.argv = {"true"};
    cmd.limits.wall_seconds = 10;
    const SandboxResult r = run_isolated(options, true, dir, cmd);
    available = r.ok();
    if (!available)
      log::warn("sandbox: user namespaces unavailable (", r.describe(),
                "); code runs fall back to seccomp isolation, where writes are confined by file permissions only");
  });
  return available;
}

}  // namespace r1::rewards
