// Helpers for the distributed tests: run a function as the ranks of a job, either as threads of this process
// (each with its own Session: Gloo allows several contexts per process) or as fresh processes of this test binary
// (spawned with the launcher's variables, running one DistWorker test), for what needs real processes: the
// bootstrap from the environment, a rank that dies.
#pragma once
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "support/micro_model.h"
#include "train/distributed/world.h"

extern char** environ;

namespace r1::test {

namespace fs = std::filesystem;

// A port nobody listens on right now (the kernel's pick for an ephemeral bind).
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// Runs the r1 binary (R1_BINARY_PATH, set for the tests that use it) with `args`, its output into `log`; its
// exit status as std::system returns it.
#ifdef R1_BINARY_PATH
inline int run_r1(const std::string& args, const fs::path& log) {
  const std::string cmd = std::string(R1_BINARY_PATH) + " " + args + " > " + log.string() + " 2>&1";
  return std::system(cmd.c_str());
}
#endif

// A socket listening on `port` on every interface, as a TCP store server would (-1 if the port is taken).
inline int listen_on(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  a.sin_port = htons(uint16_t(port));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 16) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

inline bool port_is_free(int port) {
  const int fd = listen_on(port);
  if (fd >= 0) ::close(fd);
  return fd >= 0;
}

inline dist::DistEnv local_env(int rank, int world, int port, double timeout_s = 20) {
  dist::DistEnv e;
  e.rank = rank, e.world_size = world, e.local_rank = rank, e.local_world_size = world;
  e.master_addr = "127.0.0.1", e.master_port = port, e.timeout_seconds = timeout_s;
  return e;
}

// Runs fn(session) on `world` threads, each rank connected through its own store client and Gloo context.
// Errors thrown by a rank are rethrown here (the first one).
inline void run_threads(int world, const std::function<void(dist::Session&)>& fn, double timeout_s = 20) {
  const int port = free_port();
  std::vector<std::string> errors(static_cast<size_t>(world));
  std::vector<std::thread> threads;
  for (int r = 0; r < world; r++)
    threads.emplace_back([&, r] {
      try {
        auto s = dist::connect(local_env(r, world, port, timeout_s), Device::CPU);
        fn(*s);
        s->comm->barrier();  // nobody tears down the store while another rank still needs it
      } catch (const std::exception& e) {
        errors[size_t(r)] = std::string("rank ") + std::to_string(r) + ": " + e.what();
      }
    });
  for (auto& t : threads) t.join();
  for (const auto& e : errors)
    if (!e.empty()) throw Error(e);
}

// A scratch directory shared by the ranks of one test.
inline fs::path scratch_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("r1_test_dist_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

struct RankExit {
  int status = -1;     // exit status (128 + signal when killed)
  std::string log;     // its stdout + stderr
  double seconds = 0;  // until it exited
};

// Spawns `world` processes of this binary running only the test DistWorker.<worker>, with RANK, WORLD_SIZE,
// LOCAL_RANK, MASTER_ADDR, MASTER_PORT, R1_DIST_OUT (=out) and `extra` variables; `ranks` picks which ranks to
// start (default all). Kills whatever is still running after kill_after_s.
inline std::vector<RankExit> spawn_ranks(const std::string& worker, int world, const fs::path& out,
                                         const std::map<std::string, std::string>& extra = {},
                                         std::vector<int> ranks = {}, double kill_after_s = 60) {
  if (ranks.empty())
    for (int r = 0; r < world; r++) ranks.push_back(r);
  const int port = free_port();
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<pid_t> pids;
  for (int r : ranks) {
    std::map<std::string, std::string> env;
    for (char** e = environ; *e; e++) {
      const std::string kv = *e;
      const size_t eq = kv.find('=');
      if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    env["RANK"] = std::to_string(r), env["WORLD_SIZE"] = std::to_string(world);
    env["LOCAL_RANK"] = std::to_string(r), env["LOCAL_WORLD_SIZE"] = std::to_string(world);
    env["MASTER_ADDR"] = "127.0.0.1", env["MASTER_PORT"] = std::to_string(port);
    env["R1_DIST_WORKER"] = "1", env["R1_DIST_OUT"] = out.string(), env["OMP_NUM_THREADS"] = "1";
    env["R1_LOG"] = "warn";
    for (const auto& [k, v] : extra) env[k] = v;
    std::vector<std::string> kvs;
    for (const auto& [k, v] : env) kvs.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : kvs) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string exe = fs::read_symlink("/proc/self/exe").string();
    std::string filter = "--gtest_filter=DistWorker." + worker;
    std::vector<char*> argv = {exe.data(), filter.data(), nullptr};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    const std::string log = (out / ("rank" + std::to_string(r) + ".log")).string();
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid = -1;
    if (posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv.data(), envp.data()) != 0)
      throw Error("cannot spawn " + exe);
    posix_spawn_file_actions_destroy(&fa);
    pids.push_back(pid);
  }
  std::vector<RankExit> res(ranks.size());
  std::vector<bool> done(ranks.size(), false);
  size_t left = ranks.size();
  while (left > 0) {
    const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (size_t i = 0; i < pids.size(); i++) {
      if (done[i]) continue;
      int st = 0;
      const pid_t p = ::waitpid(pids[i], &st, el > kill_after_s ? 0 : WNOHANG);
      if (p == 0) {
        if (el > kill_after_s) ::kill(pids[i], SIGKILL);
        continue;
      }
      done[i] = true, left--;
      res[i].status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      res[i].seconds = el;
    }
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > kill_after_s)
      for (size_t i = 0; i < pids.size(); i++)
        if (!done[i]) ::kill(pids[i], SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (size_t i = 0; i < ranks.size(); i++) {
    std::ifstream f(out / ("rank" + std::to_string(ranks[i]) + ".log"));
    res[i].log.assign(std::istreambuf_iterator<char>(f), {});
  }
  return res;
}

// In a DistWorker test: the directory the parent passed, or skip when run as an ordinary test.
#define R1_DIST_WORKER_ONLY()                                                  \
  do {                                                                         \
    if (!std::getenv("R1_DIST_WORKER")) GTEST_SKIP() << "runs inside spawned ranks"; \
  } while (0)

inline fs::path worker_out() { return fs::path(std::getenv("R1_DIST_OUT")); }

inline void write_floats(const fs::path& p, const float* data, size_t n) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(data), std::streamsize(n * sizeof(float)));
}
inline std::vector<float> read_floats(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(f)), {});
  std::vector<float> v(s.size() / sizeof(float));
  std::memcpy(v.data(), s.data(), v.size() * sizeof(float));
  return v;
}

// All spawned ranks exited 0; each that did not is reported with its log. Use as ASSERT_TRUE(ranks_ok(...)).
inline bool ranks_ok(const std::vector<RankExit>& ranks) {
  bool ok = true;
  for (size_t r = 0; r < ranks.size(); r++)
    if (ranks[r].status != 0) {
      ADD_FAILURE() << "rank " << r << " exited " << ranks[r].status << "\n" << ranks[r].log;
      ok = false;
    }
  return ok;
}

// A whole job (SFT, GRPO) run by spawned ranks: the parent writes its YAML to a file and passes, through the
// environment, that file, the run directory and how many steps this run may take (-1: to the end).
struct JobArgs {
  std::string yaml;
  std::string run_dir;
  int max_steps = -1;
};

inline std::map<std::string, std::string> job_env(const fs::path& yaml_file, const fs::path& run_dir,
                                                  int max_steps = -1) {
  return {{"R1_TEST_JOB_YAML", yaml_file.string()},
          {"R1_TEST_JOB_RUN", run_dir.string()},
          {"R1_TEST_JOB_MAX_STEPS", std::to_string(max_steps)}};
}

// In a DistWorker test: what job_env passed.
inline JobArgs worker_job_args() {
  std::ifstream f(std::getenv("R1_TEST_JOB_YAML"));
  JobArgs a;
  a.yaml.assign(std::istreambuf_iterator<char>(f), {});
  a.run_dir = std::getenv("R1_TEST_JOB_RUN");
  a.max_steps = std::atoi(std::getenv("R1_TEST_JOB_MAX_STEPS"));
  return a;
}

// Two runs logged the same deterministic metrics (deterministic_metrics: no time/ or perf/ values): the same
// steps, the same names at each step, values equal within tol (relative to values above 1).
inline void expect_same_metrics(const fs::path& a, const fs::path& b, double tol) {
  const auto ma = deterministic_metrics(a), mb = deterministic_metrics(b);
  ASSERT_EQ(ma.size(), mb.size());
  for (const auto& [step, values] : ma) {
    ASSERT_TRUE(mb.count(step)) << "step " << step;
    ASSERT_EQ(values.size(), mb.at(step).size()) << "step " << step;
    for (const auto& [k, v] : values) {
      ASSERT_TRUE(mb.at(step).count(k)) << "step " << step << " " << k;
      EXPECT_NEAR(mb.at(step).at(k), v, tol * std::max(1.0, std::abs(v))) << "step " << step << " " << k;
    }
  }
}

}  // namespace r1::test
