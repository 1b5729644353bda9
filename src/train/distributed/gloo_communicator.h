// Communicator for CPU processes over Gloo (Debian libgloo-dev): its TCP transport moves the data, our TCP store
// (tcp_store.h) serves its rendezvous. Buffers are host memory. A reduce-scatter is an all-reduce of the whole
// buffer of which each rank keeps its shard: twice the traffic of a true reduce-scatter, but the Gloo of Debian
// has no reduce-scatter for uneven shards and the CPU backend trains small models.
#pragma once
#include <memory>

#include "train/distributed/communicator.h"
#include "train/distributed/env.h"
#include "train/distributed/tcp_store.h"

namespace r1::dist {

// Joins the Gloo full mesh of env.world_size ranks through `store` (which must outlive the communicator).
std::unique_ptr<Communicator> make_gloo_communicator(const DistEnv& env, TcpStore& store);

}  // namespace r1::dist
