// The job's process group: bootstrap from the launcher's variables (env.h) -> rank 0 starts the TCP store ->
// every rank connects, registers, waits for all the others (naming the missing ones after the timeout) -> the
// communicator for the model's device (Gloo for the CPU, NCCL for CUDA when that build registered it).
//
// Trainers ask for world(device) once, before they build the model (the CUDA factory selects the GPU of
// LOCAL_RANK); without launcher variables it is a LocalCommunicator, so one process runs the same code.
#pragma once
#include <functional>
#include <memory>

#include "train/distributed/communicator.h"
#include "train/distributed/env.h"
#include "train/distributed/tcp_store.h"

namespace r1::dist {

struct Session {
  DistEnv env;
  std::unique_ptr<TcpStoreServer> server;  // rank 0 of a multi-rank job only
  std::unique_ptr<TcpStore> store;         // null for a world of 1
  std::unique_ptr<Communicator> comm;
  ~Session();  // the communicator goes first, the store server last
};

// Connects this process to the job `env` describes, with a communicator for `device`.
std::unique_ptr<Session> connect(const DistEnv& env, Device device);

using CommunicatorFactory = std::function<std::unique_ptr<Communicator>(const DistEnv&, TcpStore&)>;
// The CUDA build registers NCCL here (src/train/cuda/); the CPU's Gloo is built in.
void register_communicator_factory(Device device, CommunicatorFactory factory);

// The process-wide communicator: connect(dist_env_from_process(), device) on first use, the same one afterwards
// (asking for another device is an r1::Error).
Communicator& world(Device device);
// Replaces the process-wide session (tests; null forgets it, so the next world() bootstraps again).
void set_world(std::unique_ptr<Session> session);

}  // namespace r1::dist
