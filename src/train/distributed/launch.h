// `r1 launch`: torchrun's job for machines without it. Starts N local processes of a program with RANK,
// WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT set, forwards SIGINT/SIGTERM to them,
// and when one fails stops the others (SIGTERM, then SIGKILL after a grace period) so a broken job never
// lingers: the exit status is the first failing rank's.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace r1::dist {

struct LaunchOptions {
  int nproc = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;         // 0: a free port picked here
  double grace_seconds = 5;    // after the first failure, before SIGKILL
  std::map<std::string, std::string> env;  // extra variables for every rank
};

// Runs argv (argv[0]: the program's path) as ranks 0..nproc-1; returns 0 when all exit 0, else the status of
// the first rank that failed (128 + signal number when it was killed).
int launch_local(const std::vector<std::string>& argv, const LaunchOptions& options);

// A TCP port nobody listens on right now on this machine.
int pick_free_port();

}  // namespace r1::dist
