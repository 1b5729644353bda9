// Sandboxed-execution throughput: tiny Python programs (print(sum(range(10)))) per second on 1 and N worker
// threads, for each isolation mode, with the CPU time each run costs beside the same program started bare
// with posix_spawn (no sandbox): the CPU ratio is the sandbox's overhead, independent of machine load.
// Also one C++ compile + three runs.
//
//   g++ -O2 -std=c++20 -Isrc bench/sandbox/sandbox_bench.cpp -o sandbox_bench \
//       build/cpu/libr1_rewards.a build/cpu/libr1_core.a -lyaml-cpp -lginac -lcln -lpthread
//   ./sandbox_bench [--threads 2] [--seconds 3]
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <algorithm>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "rewards/code_reward.h"
#include "rewards/code_sandbox.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using r1::rewards::Sandbox;
using r1::rewards::SandboxCommand;
using r1::rewards::SandboxIsolation;
using r1::rewards::SandboxOptions;

// CPU seconds used so far by this process and its reaped descendants (the sandbox's C, init and program all
// end up here: each is waited for by its parent).
double cpu_seconds() {
  rusage self{}, kids{};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &kids);
  auto s = [](const timeval& t) { return t.tv_sec + t.tv_usec * 1e-6; };
  return s(self.ru_utime) + s(self.ru_stime) + s(kids.ru_utime) + s(kids.ru_stime);
}

struct Measure {
  double runs_per_s = 0, cpu_ms_per_run = 0;
  int failures = 0;
};

// Runs `one()` on `threads` threads for `seconds`. Wall-clock rates depend on what else the machine runs;
// CPU time per run does not, so both are reported.
template <typename F>
Measure throughput(int threads, double seconds, F one) {
  std::atomic<int> runs{0}, failures{0};
  const double cpu0 = cpu_seconds();
  const auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      while (std::chrono::duration<double>(Clock::now() - t0).count() < seconds) {
        if (!one()) failures.fetch_add(1);
        runs.fetch_add(1);
      }
    });
  for (auto& th : pool) th.join();
  Measure m;
  m.runs_per_s = runs / std::chrono::duration<double>(Clock::now() - t0).count();
  m.cpu_ms_per_run = 1000.0 * (cpu_seconds() - cpu0) / std::max(1, runs.load());
  m.failures = failures.load();
  return m;
}

bool bare_python() {
  const char* argv[] = {"/usr/bin/python3", "-c", "print(sum(range(10)))", nullptr};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, const_cast<char**>(argv), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return false;
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  double seconds = 3.0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
  }
  std::printf("%-28s %7s %9s %11s %13s %13s\n", "workload", "threads", "runs/s", "CPU ms/run", "bare CPU ms", "CPU ratio");
  double bare_rate = 0;
  std::vector<int> counts = {1};
  if (threads > 1) counts.push_back(threads);
  for (int n : counts) {
    const Measure bare = throughput(n, seconds, bare_python);
    bare_rate = bare.runs_per_s;
    for (SandboxIsolation iso : {SandboxIsolation::Namespaces, SandboxIsolation::Seccomp}) {
      if (iso == SandboxIsolation::Namespaces && !r1::rewards::sandbox_namespaces_available()) continue;
      SandboxOptions o;
      o.isolation = iso;
      const Sandbox sandbox(o);
      const auto sb = throughput(n, seconds, [&] {
        SandboxCommand c;
        c.argv = {"python3", "-c", "print(sum(range(10)))"};
        const auto r = sandbox.run(c);
        return r.ok() && r.stdout_text == "45\n";
      });
      std::printf("%-28s %7d %9.1f %11.1f %13.1f %12.2fx%s\n",
                  (std::string("python tiny, ") + r1::rewards::isolation_name(iso)).c_str(), n, sb.runs_per_s,
                  sb.cpu_ms_per_run, bare.cpu_ms_per_run, sb.cpu_ms_per_run / bare.cpu_ms_per_run,
                  sb.failures ? "  (FAILURES)" : "");
    }
  }
  // C++: compile once, run three stdin/stdout cases.
  const Sandbox sandbox;
  r1::rewards::CodeTests tests;
  tests.language = "cpp";
  tests.io = {{"1 2\n", "3\n"}, {"5 7\n", "12\n"}, {"-1 1\n", "0\n"}};
  const auto t0 = Clock::now();
  const auto report = r1::rewards::run_code_tests(
      sandbox, "#include <cstdio>\nint main(){long a,b;scanf(\"%ld %ld\",&a,&b);printf(\"%ld\\n\",a+b);}", tests,
      r1::rewards::CodeOptions{});
  std::printf("bare python: %.1f runs/s on %d threads; on an idle machine of C cores, sandboxed runs/s ~ C * 1000 / "
              "(CPU ms/run)\n", bare_rate, threads);
  std::printf("c++ compile + 3 runs: %.2f s wall (%zu/%zu passed)\n",
              std::chrono::duration<double>(Clock::now() - t0).count(), report.passed, report.total);
  return 0;
}
