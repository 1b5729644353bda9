// Collectives of a data-parallel job over the flat float32 buffers of a TrainableModel (host pointers on the CPU,
// device pointers on a GPU), so the same optimizer and trainer code runs on one process or many:
//   LocalCommunicator   world of 1, every collective a no-op (single-process jobs take the same code path)
//   GlooCommunicator    CPU processes, Gloo's TCP transport (gloo_communicator.h)
//   NcclCommunicator    one GPU per process, NCCL (src/train/cuda/, registered by the CUDA build)
// ZeRO-1 shards are [begin, end) ranges of the flat buffer (shard_ranges), deterministic in (n, world), so every
// rank, and a resumed job, agrees on who owns what.
//
// Failure behaviour: every collective has a deadline (DistEnv::timeout_seconds); a rank that dies or hangs makes
// the others throw r1::Error naming the operation, this rank and the timeout.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"  // Device

namespace r1::dist {

struct Shard {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
};

// Splits [0, n) into `world` contiguous shards of (nearly) equal size with every boundary a multiple of `align`
// floats (so shards start on 256-byte boundaries); trailing shards may be short or empty when n is small.
std::vector<Shard> shard_ranges(int64_t n, int world, int64_t align = 64);

// Splits `weights` (e.g. sequence lengths, in order) into `world` contiguous parts of nearly equal total weight:
// part r is [bounds[r], bounds[r+1]). Deterministic; every part non-empty while there are at least `world`
// items. Used to give each rank a token-balanced share of a global batch.
std::vector<size_t> balanced_split(const std::vector<int64_t>& weights, int world);

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // Where the buffers of the collectives live (the model's device).
  virtual Device device() const = 0;
  virtual const char* backend() const = 0;

  // ---- on device memory ----
  virtual void all_reduce_sum(float* data, int64_t n) = 0;
  virtual void all_reduce_sum(double* data, int64_t n) = 0;
  // data is the full buffer [0, n) on every rank; afterwards data[shards[rank()]] holds sum over ranks r of
  // weight_r * data_r (weight is this rank's factor: 1/world averages, local/global count normalises), and the
  // rest of data is unspecified (it may serve as scratch).
  virtual void reduce_scatter_sum(float* data, const std::vector<Shard>& shards, float weight) = 0;
  // data[shards[r]] on rank r -> data[shards[r]] on every rank.
  virtual void all_gather(float* data, const std::vector<Shard>& shards) = 0;
  virtual void broadcast(float* data, int64_t n, int root) = 0;
  virtual void barrier() = 0;

  // ---- on host memory (metrics, small control data), whatever device() is ----
  virtual void host_all_reduce_sum(double* data, int64_t n) = 0;
  virtual void host_all_reduce_max(double* data, int64_t n) = 0;
  // Every rank's bytes, in rank order (sizes may differ).
  virtual std::vector<std::string> host_all_gather(const std::string& mine) = 0;
  // Rank root's bytes on every rank.
  virtual std::string host_broadcast(const std::string& data, int root) = 0;

  bool is_root() const { return rank() == 0; }
};

// Rank 0 of 1 on `device`: collectives leave the data as it is (a reduce-scatter still applies the weight).
class LocalCommunicator final : public Communicator {
 public:
  explicit LocalCommunicator(Device device = Device::CPU) : device_(device) {}
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  Device device() const override { return device_; }
  const char* backend() const override { return "local"; }
  void all_reduce_sum(float*, int64_t) override {}
  void all_reduce_sum(double*, int64_t) override {}
  void reduce_scatter_sum(float* data, const std::vector<Shard>& shards, float weight) override;
  void all_gather(float*, const std::vector<Shard>&) override {}
  void broadcast(float*, int64_t, int) override {}
  void barrier() override {}
  void host_all_reduce_sum(double*, int64_t) override {}
  void host_all_reduce_max(double*, int64_t) override {}
  std::vector<std::string> host_all_gather(const std::string& mine) override { return {mine}; }
  std::string host_broadcast(const std::string& data, int) override { return data; }

 private:
  Device device_;
};

}  // namespace r1::dist
