#include "train/distributed/world.h"

#include <map>
#include <mutex>

#include "core/error.h"
#include "train/distributed/env.h"
#include "core/log.h"
#include "train/distributed/gloo_communicator.h"
#include "model/trainable_model.h"  // device_name

namespace r1::dist {

namespace {

std::mutex g_mu;
std::unique_ptr<Session> g_world;

std::map<Device, CommunicatorFactory>& factories() {
  static std::map<Device, CommunicatorFactory> f = {{Device::CPU, make_gloo_communicator}};
  return f;
}

}  // namespace

Session::~Session() {
  comm.reset();
  store.reset();
  server.reset();
}

std::unique_ptr<Session> connect(const DistEnv& env, Device device) {
  auto s = std::make_unique<Session>();
  s->env = env;
  if (env.world_size == 1) {
    s->comm = std::make_unique<LocalCommunicator>(device);
    return s;
  }
  const auto timeout = std::chrono::milliseconds(int64_t(env.timeout_seconds * 1000));
  if (env.rank == 0) s->server = std::make_unique<TcpStoreServer>(env.store(), env.store_port_origin);
  s->store = std::make_unique<TcpStore>(env.master_addr, env.store(), timeout);
  s->store->register_rank(env.rank);
  // Everyone checks in before the backend's own rendezvous, so a missing rank is named plainly.
  s->store->set("r1/joined/" + std::to_string(env.rank), {'1'});
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (int r = 0; r < env.world_size; r++) {
    const auto left = std::max(std::chrono::milliseconds(0), std::chrono::duration_cast<std::chrono::milliseconds>(
                                                                 deadline - std::chrono::steady_clock::now()));
    try {
      s->store->get("r1/joined/" + std::to_string(r), left);
    } catch (const Error&) {
      throw Error("rank " + std::to_string(r) + " of " + std::to_string(env.world_size) + " did not join within " +
                  seconds_text(env.timeout_seconds) + " (R1_DIST_TIMEOUT; store at " + s->store->address() +
                  ")");
    }
  }
  auto it = factories().find(device);
  if (it == factories().end())
    throw Error(std::string("distributed training on ") + device_name(device) +
                ": this build has no communicator for that device (built without CUDA/NCCL?)");
  s->comm = it->second(env, *s->store);
  log::info("dist: rank ", env.rank, " of ", env.world_size, " (", env.launcher, ", local rank ", env.local_rank,
            ") joined via ", s->comm->backend(), ", store ", s->store->address());
  return s;
}

void register_communicator_factory(Device device, CommunicatorFactory factory) {
  std::lock_guard lock(g_mu);
  factories()[device] = std::move(factory);
}

Communicator& world(Device device) {
  std::lock_guard lock(g_mu);
  if (!g_world) g_world = connect(dist_env_from_process(), device);
  if (g_world->comm->device() != device)
    throw Error(std::string("the job's communicator serves ") + device_name(g_world->comm->device()) +
                ", not " + device_name(device) + " (one device per process)");
  return *g_world->comm;
}

void set_world(std::unique_ptr<Session> session) {
  std::lock_guard lock(g_mu);
  g_world = std::move(session);
}

}  // namespace r1::dist
