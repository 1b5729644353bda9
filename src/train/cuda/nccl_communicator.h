// The CUDA build's Communicator: one GPU per process (LOCAL_RANK picks it), NCCL collectives on device buffers.
// Rank 0 creates the NCCL unique id and shares it through the job's TCP store. The communicator is created
// non-blocking and every operation is waited for by polling with a deadline: an NCCL error or a peer that never
// arrives aborts the communicator (ncclCommAbort) and throws r1::Error naming the op, this rank, the timeout and
// the ranks the store saw exit, instead of hanging in a kernel forever.
#pragma once

namespace r1::cuda {

// Registers NCCL as the communicator for Device::CUDA (dist::world(Device::CUDA)).
void register_nccl_communicator();

}  // namespace r1::cuda
