#include "train/cuda/nccl_communicator.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "backend/cuda/check.h"
#include "core/error.h"
#include "core/log.h"
#include "train/distributed/world.h"

namespace r1::cuda {

namespace {

using Clock = std::chrono::steady_clock;

class NcclCommunicator final : public dist::Communicator {
 public:
  NcclCommunicator(const dist::DistEnv& env, dist::TcpStore& store)
      : env_(env), store_(store), timeout_(std::chrono::milliseconds(int64_t(env.timeout_seconds * 1000))) {
    int devices = 0;
    R1_CUDA_CHECK("nccl init", cudaGetDeviceCount(&devices));
    if (devices == 0) throw Error("distributed CUDA job: no GPU visible to rank " + std::to_string(env.rank));
    device_ = env.local_rank % devices;
    R1_CUDA_CHECK("nccl init", cudaSetDevice(device_));
    R1_CUDA_CHECK("nccl init", cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    ncclUniqueId id;
    if (env.rank == 0) {
      check("ncclGetUniqueId", ncclGetUniqueId(&id));
      store.set("nccl/unique_id", std::vector<char>(id.internal, id.internal + sizeof id.internal));
    } else {
      const std::vector<char> bytes = store.get("nccl/unique_id");
      if (bytes.size() != sizeof id.internal) throw Error("NCCL unique id from the store has the wrong size");
      std::memcpy(id.internal, bytes.data(), sizeof id.internal);
    }
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;  // so a rank that never arrives is a timeout here, not a hang inside NCCL
    check("ncclCommInitRankConfig", ncclCommInitRankConfig(&comm_, env.world_size, id, env.rank, &config));
    wait_comm("ncclCommInitRank");
    log::info("dist: NCCL ", NCCL_MAJOR, ".", NCCL_MINOR, " rank ", env.rank, " on GPU ", device_);
  }

  ~NcclCommunicator() override {
    if (comm_) {
      // Finalize can block on peers; a communicator that failed was aborted already (comm_ null).
      ncclCommFinalize(comm_);
      ncclResult_t st = ncclInProgress;
      const auto deadline = Clock::now() + std::chrono::seconds(10);
      while (st == ncclInProgress && Clock::now() < deadline) ncclCommGetAsyncError(comm_, &st);
      if (st == ncclSuccess) ncclCommDestroy(comm_);
      else ncclCommAbort(comm_);
    }
    if (stream_) cudaStreamDestroy(stream_);
    if (scratch_) cudaFree(scratch_);
  }

  int rank() const override { return env_.rank; }
  int world_size() const override { return env_.world_size; }
  Device device() const override { return Device::CUDA; }
  const char* backend() const override { return "nccl"; }

  void all_reduce_sum(float* data, int64_t n) override {
    if (n <= 0) return;
    begin_op();
    check("ncclAllReduce", ncclAllReduce(data, data, size_t(n), ncclFloat, ncclSum, comm_, stream_));
    finish("all_reduce");
  }
  void all_reduce_sum(double* data, int64_t n) override {
    if (n <= 0) return;
    begin_op();
    check("ncclAllReduce", ncclAllReduce(data, data, size_t(n), ncclDouble, ncclSum, comm_, stream_));
    finish("all_reduce");
  }

  void reduce_scatter_sum(float* data, const std::vector<dist::Shard>& shards, float weight) override {
    begin_op();
    // weight * x_r summed over ranks in one pass: NCCL's pre-multiplied sum with this rank's scalar.
    ncclRedOp_t op = ncclSum;
    if (weight != 1.0f)
      check("ncclRedOpCreatePreMulSum",
            ncclRedOpCreatePreMulSum(&op, &weight, ncclFloat, ncclScalarHostImmediate, comm_));
    if (equal_shards(shards)) {
      // In place: rank r's output is data + r * count, which is its shard.
      const size_t count = size_t(shards[0].size());
      check("ncclReduceScatter",
            ncclReduceScatter(data, data + shards[size_t(rank())].begin, count, ncclFloat, op, comm_, stream_));
    } else {
      // Uneven shards (the last one short): one reduce per shard, rooted at its owner, fused in a group.
      check("ncclGroupStart", ncclGroupStart());
      for (int r = 0; r < world_size(); r++) {
        const dist::Shard& s = shards[size_t(r)];
        if (s.size() > 0)
          check("ncclReduce", ncclReduce(data + s.begin, data + s.begin, size_t(s.size()), ncclFloat, op, r, comm_, stream_));
      }
      check("ncclGroupEnd", ncclGroupEnd());
    }
    finish("reduce_scatter");
    if (weight != 1.0f) check("ncclRedOpDestroy", ncclRedOpDestroy(op, comm_));
  }

  void all_gather(float* data, const std::vector<dist::Shard>& shards) override {
    begin_op();
    if (equal_shards(shards)) {
      const size_t count = size_t(shards[0].size());
      check("ncclAllGather", ncclAllGather(data + shards[size_t(rank())].begin, data, count, ncclFloat, comm_, stream_));
    } else {
      check("ncclGroupStart", ncclGroupStart());
      for (int r = 0; r < world_size(); r++) {
        const dist::Shard& s = shards[size_t(r)];
        if (s.size() > 0)
          check("ncclBroadcast", ncclBroadcast(data + s.begin, data + s.begin, size_t(s.size()), ncclFloat, r, comm_, stream_));
      }
      check("ncclGroupEnd", ncclGroupEnd());
    }
    finish("all_gather");
  }

  void broadcast(float* data, int64_t n, int root) override {
    if (n <= 0) return;
    begin_op();
    check("ncclBroadcast", ncclBroadcast(data, data, size_t(n), ncclFloat, root, comm_, stream_));
    finish("broadcast");
  }

  void barrier() override {
    double x = 0;
    host_all_reduce_sum(&x, 1);
  }

  void host_all_reduce_sum(double* data, int64_t n) override { host_reduce(data, n, ncclSum, "all_reduce"); }
  void host_all_reduce_max(double* data, int64_t n) override { host_reduce(data, n, ncclMax, "all_reduce_max"); }

  std::vector<std::string> host_all_gather(const std::string& mine) override {
    // Sizes first, then every rank's bytes padded to the largest.
    const int w = world_size();
    std::vector<double> sizes(static_cast<size_t>(w), 0.0);
    sizes[size_t(rank())] = double(mine.size());
    host_reduce(sizes.data(), w, ncclSum, "all_gather (sizes)");
    size_t max = 0;
    for (double s : sizes) max = std::max(max, size_t(s));
    std::vector<std::string> out(static_cast<size_t>(w));
    if (max == 0) return out;
    char* dev = static_cast<char*>(scratch(max * size_t(w + 1)));
    std::string padded = mine;
    padded.resize(max, '\0');
    R1_CUDA_CHECK("all_gather", cudaMemcpy(dev, padded.data(), max, cudaMemcpyHostToDevice));
    begin_op();
    check("ncclAllGather", ncclAllGather(dev, dev + max, max, ncclUint8, comm_, stream_));
    finish("all_gather");
    std::string all(max * size_t(w), '\0');
    R1_CUDA_CHECK("all_gather", cudaMemcpy(all.data(), dev + max, all.size(), cudaMemcpyDeviceToHost));
    for (int r = 0; r < w; r++) out[size_t(r)] = all.substr(size_t(r) * max, size_t(sizes[size_t(r)]));
    return out;
  }

  std::string host_broadcast(const std::string& data, int root) override {
    double size = rank() == root ? double(data.size()) : 0.0;
    host_reduce(&size, 1, ncclSum, "broadcast (size)");
    const size_t n = size_t(size);
    std::string out = rank() == root ? data : std::string(n, '\0');
    if (n == 0) return out;
    char* dev = static_cast<char*>(scratch(n));
    if (rank() == root) R1_CUDA_CHECK("broadcast", cudaMemcpy(dev, out.data(), n, cudaMemcpyHostToDevice));
    begin_op();
    check("ncclBroadcast", ncclBroadcast(dev, dev, n, ncclUint8, root, comm_, stream_));
    finish("broadcast");
    R1_CUDA_CHECK("broadcast", cudaMemcpy(out.data(), dev, n, cudaMemcpyDeviceToHost));
    return out;
  }

 private:
  static bool equal_shards(const std::vector<dist::Shard>& s) {
    for (const auto& x : s)
      if (x.size() != s[0].size()) return false;
    return s[0].size() > 0;
  }

  void* scratch(size_t bytes) {
    if (bytes > scratch_bytes_) {
      if (scratch_) R1_CUDA_CHECK("nccl scratch", cudaFree(scratch_));
      R1_CUDA_CHECK("nccl scratch", cudaMalloc(&scratch_, bytes));
      scratch_bytes_ = bytes;
    }
    return scratch_;
  }

  void host_reduce(double* data, int64_t n, ncclRedOp_t op, const char* what) {
    if (n <= 0) return;
    double* dev = static_cast<double*>(scratch(size_t(n) * sizeof(double)));
    R1_CUDA_CHECK(what, cudaMemcpy(dev, data, size_t(n) * sizeof(double), cudaMemcpyHostToDevice));
    begin_op();
    check("ncclAllReduce", ncclAllReduce(dev, dev, size_t(n), ncclDouble, op, comm_, stream_));
    finish(what);
    R1_CUDA_CHECK(what, cudaMemcpy(data, dev, size_t(n) * sizeof(double), cudaMemcpyDeviceToHost));
  }

  // The model's kernels (on whatever stream it uses) must have finished writing the buffers.
  void begin_op() {
    if (!comm_) throw Error("rank " + std::to_string(rank()) + ": the NCCL communicator was aborted after an earlier failure");
    R1_CUDA_CHECK("collective", cudaDeviceSynchronize());
  }

  void check(const char* call, ncclResult_t r) {
    if (r == ncclSuccess || r == ncclInProgress) return;
    fail(call, std::string(ncclGetErrorString(r)) + (r == ncclRemoteError || r == ncclSystemError
                                                          ? " (a peer rank exited or its connection broke)"
                                                          : ""));
  }

  // Non-blocking communicator: wait until initialisation or the enqueue completed, with the deadline.
  void wait_comm(const char* what) {
    const auto deadline = Clock::now() + timeout_;
    ncclResult_t st = ncclInProgress;
    while (true) {
      ncclCommGetAsyncError(comm_, &st);
      if (st != ncclInProgress) break;
      if (Clock::now() > deadline) fail(what, "timed out (a peer rank never arrived)");
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    if (st != ncclSuccess) fail(what, ncclGetErrorString(st));
  }

  // Polls the stream and NCCL's asynchronous error until the collective finished, failed or ran out of time.
  void finish(const char* what) {
    wait_comm(what);
    const auto deadline = Clock::now() + timeout_;
    while (true) {
      const cudaError_t q = cudaStreamQuery(stream_);
      if (q == cudaSuccess) return;
      if (q != cudaErrorNotReady) R1_CUDA_CHECK(what, q);
      ncclResult_t st = ncclSuccess;
      ncclCommGetAsyncError(comm_, &st);
      if (st != ncclSuccess && st != ncclInProgress) fail(what, ncclGetErrorString(st));
      if (Clock::now() > deadline) fail(what, "did not complete in time");
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  [[noreturn]] void fail(const std::string& what, const std::string& why) {
    if (comm_) {
      ncclCommAbort(comm_);  // frees this rank's kernels from waiting on peers that will not come
      comm_ = nullptr;
    }
    std::string who;
    for (int r : store_.exited_ranks(world_size()))
      if (r != rank()) who += (who.empty() ? "" : ", ") + std::to_string(r);
    throw Error("rank " + std::to_string(rank()) + " of " + std::to_string(world_size()) + ": " + what +
                " failed (timeout " + dist::seconds_text(timeout_.count() / 1000.0) + ", R1_DIST_TIMEOUT): " + why +
                (who.empty() ? "" : "; rank " + who + " exited"));
  }

  dist::DistEnv env_;
  dist::TcpStore& store_;
  std::chrono::milliseconds timeout_;
  int device_ = 0;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  void* scratch_ = nullptr;
  size_t scratch_bytes_ = 0;
};

}  // namespace

void register_nccl_communicator() {
  dist::register_communicator_factory(Device::CUDA, [](const dist::DistEnv& env, dist::TcpStore& store) {
    return std::unique_ptr<dist::Communicator>(std::make_unique<NcclCommunicator>(env, store));
  });
}

}  // namespace r1::cuda
