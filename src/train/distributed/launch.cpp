#include "train/distributed/launch.h"

#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <thread>

#include "core/error.h"
#include "core/log.h"

extern char** environ;

namespace r1::dist {

namespace {

std::atomic<int> g_forward_signal{0};
void remember_signal(int sig) { g_forward_signal = sig; }

}  // namespace

int pick_free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error(std::string("launch: cannot create a socket: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  socklen_t len = sizeof a;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  ::close(fd);
  if (!ok) throw Error("launch: no free port for MASTER_PORT");
  return ntohs(a.sin_port);
}

int launch_local(const std::vector<std::string>& argv, const LaunchOptions& o) {
  if (argv.empty()) throw Error("launch: no command given (r1 launch --nproc N -- <r1 arguments>)");
  if (o.nproc < 1) throw Error("launch: --nproc must be at least 1");
  const int port = o.master_port > 0 ? o.master_port : pick_free_port();
  std::vector<pid_t> pids;
  for (int r = 0; r < o.nproc; r++) {
    std::map<std::string, std::string> env;
    for (char** e = environ; *e; e++) {
      const char* eq = std::strchr(*e, '=');
      if (eq) env[std::string(*e, size_t(eq - *e))] = eq + 1;
    }
    env["RANK"] = env["LOCAL_RANK"] = std::to_string(r);
    env["WORLD_SIZE"] = env["LOCAL_WORLD_SIZE"] = std::to_string(o.nproc);
    env["MASTER_ADDR"] = o.master_addr;
    env["MASTER_PORT"] = std::to_string(port);
    for (const auto& [k, v] : o.env) env[k] = v;
    std::vector<std::string> kvs;
    for (const auto& [k, v] : env) kvs.push_back(k + "=" + v);
    std::vector<char*> envp, args;
    for (auto& s : kvs) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_copy = argv;
    for (auto& a : argv_copy) args.push_back(a.data());
    args.push_back(nullptr);
    pid_t pid = -1;
    const int rc = posix_spawnp(&pid, argv_copy[0].c_str(), nullptr, nullptr, args.data(), envp.data());
    if (rc != 0) {
      for (pid_t p : pids) ::kill(p, SIGKILL), ::waitpid(p, nullptr, 0);
      throw Error("launch: cannot start '" + argv[0] + "': " + std::strerror(rc));
    }
    pids.push_back(pid);
  }
  log::info("launch: ", o.nproc, " ranks of ", argv[0], ", MASTER_ADDR=", o.master_addr, " MASTER_PORT=", port);

  // Ctrl-C / a scheduler's SIGTERM reach the launcher: pass them on so the ranks stop together.
  struct sigaction sa{}, old_int{}, old_term{};
  sa.sa_handler = remember_signal;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);

  int result = 0;
  size_t alive = pids.size();
  std::vector<bool> done(pids.size(), false);
  std::chrono::steady_clock::time_point kill_at{};
  bool stopping = false;
  while (alive > 0) {
    if (const int sig = g_forward_signal.exchange(0))
      for (size_t i = 0; i < pids.size(); i++)
        if (!done[i]) ::kill(pids[i], sig);
    for (size_t i = 0; i < pids.size(); i++) {
      if (done[i]) continue;
      int st = 0;
      if (::waitpid(pids[i], &st, WNOHANG) != pids[i]) continue;
      done[i] = true, alive--;
      const int status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      if (status != 0 && result == 0) {
        result = status;
        log::error("launch: rank ", i, " exited with status ", status, "; stopping the other ranks");
        for (size_t j = 0; j < pids.size(); j++)
          if (!done[j]) ::kill(pids[j], SIGTERM);
        stopping = true;
        kill_at = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(int64_t(o.grace_seconds * 1000));
      }
    }
    if (stopping && std::chrono::steady_clock::now() > kill_at)
      for (size_t j = 0; j < pids.size(); j++)
        if (!done[j]) ::kill(pids[j], SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  return result;
}

}  // namespace r1::dist
