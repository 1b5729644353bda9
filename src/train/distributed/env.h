// Where this process sits in a data-parallel job, read from the variables the standard launchers set:
//   torchrun / r1 launch:  RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT
//   mpirun (Open MPI):     OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE, OMPI_COMM_WORLD_LOCAL_RANK, ..._LOCAL_SIZE
//   Slurm srun:            SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NTASKS_PER_NODE
// The torchrun names win when several are present (torchrun under Slurm sets both). MASTER_ADDR / MASTER_PORT
// name rank 0's TCP store in every case (under mpirun and srun the user exports them). No variable at all means
// a single process: rank 0 of 1, the same code path as a multi-rank job.
#pragma once
#include <functional>
#include <string>

namespace r1::dist {

struct DistEnv {
  int rank = 0, world_size = 1;
  int local_rank = 0, local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  // Where rank 0 serves our TCP store: 0 means MASTER_PORT. Under torchrun, whose agent already serves its own
  // store on MASTER_PORT (TORCHELASTIC_USE_AGENT_STORE=True), MASTER_PORT + 1; R1_STORE_PORT overrides both.
  int store_port = 0;
  std::string store_port_origin = "MASTER_PORT";  // for error messages
  int store() const { return store_port > 0 ? store_port : master_port; }
  double timeout_seconds = 300;  // R1_DIST_TIMEOUT: rendezvous and every collective give up after this
  std::string launcher = "none";  // torchrun | mpirun | slurm | none: which variables were read (for logs)
};

// Reads the variables through `getenv` (tests pass a map). A malformed or inconsistent value is an r1::Error
// naming the variable: "RANK: '3' is not below WORLD_SIZE (2)".
DistEnv parse_dist_env(const std::function<const char*(const char*)>& getenv);
// "1.5 s", "300 s": how errors state timeouts.
std::string seconds_text(double seconds);

// parse_dist_env over the process environment.
DistEnv dist_env_from_process();

}  // namespace r1::dist
