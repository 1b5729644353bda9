#include "train/distributed/env.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "core/error.h"

namespace r1::dist {

namespace {

// The variable's integer value within [lo, hi]; `fallback` when unset. Anything else names the variable.
long read_int(const std::function<const char*(const char*)>& getenv, const char* name, long fallback, long lo,
              long hi) {
  const char* s = getenv(name);
  if (!s) return fallback;
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || errno != 0)
    throw Error(std::string(name) + ": '" + s + "' is not an integer");
  if (v < lo || v > hi)
    throw Error(std::string(name) + ": " + std::to_string(v) + " is outside [" + std::to_string(lo) + ", " +
                std::to_string(hi) + "]");
  return v;
}

struct Names {
  const char *launcher, *rank, *size, *local_rank, *local_size;
};
constexpr Names kLaunchers[] = {
    {"torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"},
    {"mpirun", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
     "OMPI_COMM_WORLD_LOCAL_SIZE"},
    {"slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE"},
};
constexpr long kMaxRanks = 1 << 20;

}  // namespace

DistEnv parse_dist_env(const std::function<const char*(const char*)>& getenv) {
  DistEnv e;
  for (const Names& n : kLaunchers) {
    if (!getenv(n.rank) && !getenv(n.size)) continue;
    if (!getenv(n.size)) throw Error(std::string(n.size) + ": not set, but " + n.rank + " is");
    if (!getenv(n.rank)) throw Error(std::string(n.rank) + ": not set, but " + n.size + " is");
    e.launcher = n.launcher;
    e.world_size = int(read_int(getenv, n.size, 1, 1, kMaxRanks));
    e.rank = int(read_int(getenv, n.rank, 0, 0, kMaxRanks));
    if (e.rank >= e.world_size)
      throw Error(std::string(n.rank) + ": " + std::to_string(e.rank) + " is not below " + n.size + " (" +
                  std::to_string(e.world_size) + ")");
    e.local_rank = int(read_int(getenv, n.local_rank, e.rank, 0, kMaxRanks));
    // SLURM_NTASKS_PER_NODE may read "4(x2)" on heterogeneous allocations: only a plain number is used.
    const char* ls = getenv(n.local_size);
    const bool plain = ls && *ls && std::string(ls).find_first_not_of("0123456789") == std::string::npos;
    e.local_world_size = plain ? int(read_int(getenv, n.local_size, 1, 1, kMaxRanks)) : e.world_size;
    if (e.local_rank >= e.local_world_size && plain)
      throw Error(std::string(n.local_rank) + ": " + std::to_string(e.local_rank) + " is not below " + n.local_size +
                  " (" + std::to_string(e.local_world_size) + ")");
    break;
  }
  if (const char* a = getenv("MASTER_ADDR")) {
    if (!*a) throw Error("MASTER_ADDR: is empty");
    e.master_addr = a;
  } else if (e.world_size > 1) {
    throw Error("MASTER_ADDR: not set (rank 0's host; " + e.launcher + " sets RANK/WORLD_SIZE, export MASTER_ADDR "
                "and MASTER_PORT yourself under mpirun or srun)");
  }
  e.master_port = int(read_int(getenv, "MASTER_PORT", e.master_port, 1, 65535));
  if (e.world_size > 1 && !getenv("MASTER_PORT")) throw Error("MASTER_PORT: not set (rank 0's TCP store port)");
  const char* agent_store = getenv("TORCHELASTIC_USE_AGENT_STORE");
  if (agent_store && (std::string(agent_store) == "True" || std::string(agent_store) == "1")) {
    e.store_port = e.master_port < 65535 ? e.master_port + 1 : e.master_port - 1;
    e.store_port_origin = "MASTER_PORT + 1: torchrun's agent serves its own store on MASTER_PORT";
  }
  if (getenv("R1_STORE_PORT")) {
    e.store_port = int(read_int(getenv, "R1_STORE_PORT", e.store_port, 1, 65535));
    e.store_port_origin = "R1_STORE_PORT";
  }
  if (const char* t = getenv("R1_DIST_TIMEOUT")) {
    char* end = nullptr;
    const double v = std::strtod(t, &end);
    if (*t == '\0' || *end != '\0' || !(v > 0))
      throw Error(std::string("R1_DIST_TIMEOUT: '") + t + "' is not a positive number of seconds");
    e.timeout_seconds = v;
  }
  return e;
}

std::string seconds_text(double seconds) {
  char b[32];
  std::snprintf(b, sizeof b, "%g s", seconds);
  return b;
}

DistEnv dist_env_from_process() {
  return parse_dist_env([](const char* name) { return std::getenv(name); });
}

}  // namespace r1::dist
