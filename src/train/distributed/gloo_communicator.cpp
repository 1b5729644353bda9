#include "train/distributed/gloo_communicator.h"

#include <gloo/allgather.h>
#include <gloo/allgatherv.h>
#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/common/error.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/store.h>
#include <gloo/transport/tcp/device.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>

#include "core/error.h"
#include "train/distributed/env.h"

namespace r1::dist {

namespace {

// gloo::rendezvous::Store on our TCP store, under a prefix so Gloo's keys ("0", "1", ...) never meet ours.
class GlooStore final : public gloo::rendezvous::Store {
 public:
  GlooStore(TcpStore& store, int world) : store_(store), world_(world) {}
  void set(const std::string& key, const std::vector<char>& data) override { store_.set(kPrefix + key, data); }
  std::vector<char> get(const std::string& key) override { return store_.get(kPrefix + key); }
  void wait(const std::vector<std::string>& keys) override { wait(keys, store_.timeout()); }
  void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) override {
    for (const std::string& k : keys) {
      if (store_.check(kPrefix + k)) continue;
      try {
        store_.get(kPrefix + k, timeout);
      } catch (const Error&) {
        // Gloo's keys are the ranks' numbers: say which rank is missing.
        throw Error("rank " + k + " of " + std::to_string(world_) + " did not publish its Gloo address within " +
                    seconds_text(timeout.count() / 1000.0) + " (R1_DIST_TIMEOUT)");
      }
    }
  }

 private:
  static constexpr const char* kPrefix = "gloo/";
  TcpStore& store_;
  int world_;
};

class GlooCommunicator final : public Communicator {
 public:
  GlooCommunicator(const DistEnv& env, TcpStore& store) : env_(env), store_(store) {
    gloo::transport::tcp::attr attr;
    if (const char* iface = std::getenv("GLOO_SOCKET_IFNAME")) {
      attr.iface = iface;
    } else if (env.master_addr == "127.0.0.1" || env.master_addr == "localhost" || env.master_addr == "::1") {
      attr.hostname = "127.0.0.1";  // one machine: stay on loopback whatever the hostname resolves to
    } else {
      char host[256] = {};
      ::gethostname(host, sizeof host - 1);
      attr.hostname = host;
    }
    timeout_ = std::chrono::milliseconds(int64_t(env.timeout_seconds * 1000));
    try {
      auto device = gloo::transport::tcp::CreateDevice(attr);
      auto ctx = std::make_shared<gloo::rendezvous::Context>(env.rank, env.world_size);
      ctx->setTimeout(timeout_);
      GlooStore gs(store, env.world_size);
      ctx->connectFullMesh(gs, device);
      context_ = ctx;
    } catch (const gloo::Exception& e) {
      fail("joining the Gloo mesh", e);
    }
  }

  int rank() const override { return env_.rank; }
  int world_size() const override { return env_.world_size; }
  Device device() const override { return Device::CPU; }
  const char* backend() const override { return "gloo"; }

  void all_reduce_sum(float* data, int64_t n) override { allreduce<float>(data, n, &gloo::sum<float>, "all_reduce"); }
  void all_reduce_sum(double* data, int64_t n) override {
    allreduce<double>(data, n, &gloo::sum<double>, "all_reduce");
  }

  void reduce_scatter_sum(float* data, const std::vector<Shard>& shards, float weight) override {
    const int64_t n = shards.empty() ? 0 : shards.back().end;
    if (weight != 1.0f)
      for (int64_t i = 0; i < n; i++) data[i] *= weight;
    allreduce<float>(data, n, &gloo::sum<float>, "reduce_scatter");
  }

  void all_gather(float* data, const std::vector<Shard>& shards) override {
    R1_CHECK(int(shards.size()) == world_size(), "one shard per rank");
    const Shard& mine = shards[size_t(rank())];
    // Gloo copies the input into the output's slot: give it a separate input (src == dst is undefined memcpy).
    std::vector<float> in(data + mine.begin, data + mine.end);
    std::vector<size_t> counts;
    for (const Shard& s : shards) counts.push_back(size_t(s.size()));
    run("all_gather", [&] {
      gloo::AllgathervOptions o(context_);
      o.setInput(in.data(), in.size());
      o.setOutput(data + shards.front().begin, counts);
      o.setTag(next_tag());
      gloo::allgatherv(o);
    });
  }

  void broadcast(float* data, int64_t n, int root) override { broadcast_bytes(data, size_t(n) * sizeof(float), root); }

  void barrier() override {
    run("barrier", [&] {
      gloo::BarrierOptions o(context_);
      o.setTag(next_tag());
      gloo::barrier(o);
    });
  }

  void host_all_reduce_sum(double* data, int64_t n) override { all_reduce_sum(data, n); }
  void host_all_reduce_max(double* data, int64_t n) override {
    allreduce<double>(data, n, &gloo::max<double>, "all_reduce_max");
  }

  std::vector<std::string> host_all_gather(const std::string& mine) override {
    std::vector<int64_t> sizes(static_cast<size_t>(world_size()));
    int64_t my_size = int64_t(mine.size());
    run("all_gather (sizes)", [&] {
      gloo::AllgatherOptions o(context_);
      o.setInput(&my_size, 1);
      o.setOutput(sizes.data(), sizes.size());
      o.setTag(next_tag());
      gloo::allgather(o);
    });
    int64_t total = 0;
    std::vector<size_t> counts;
    for (int64_t s : sizes) total += s, counts.push_back(size_t(s));
    std::string in = mine, all(size_t(total), '\0');
    if (total > 0)
      run("all_gather", [&] {
        gloo::AllgathervOptions o(context_);
        o.setInput(in.data(), in.size());
        o.setOutput(all.data(), counts);
        o.setTag(next_tag());
        gloo::allgatherv(o);
      });
    std::vector<std::string> out;
    int64_t off = 0;
    for (int64_t s : sizes) out.push_back(all.substr(size_t(off), size_t(s))), off += s;
    return out;
  }

  std::string host_broadcast(const std::string& data, int root) override {
    int64_t size = int64_t(data.size());
    broadcast_bytes(&size, sizeof size, root);
    std::string out = rank() == root ? data : std::string(size_t(size), '\0');
    if (size > 0) broadcast_bytes(out.data(), size_t(size), root);
    return out;
  }

 private:
  uint32_t next_tag() { return tag_++; }

  template <typename T>
  void allreduce(T* data, int64_t n, void (*fn)(void*, const void*, const void*, size_t), const char* what) {
    if (n <= 0) return;
    run(what, [&] {
      gloo::AllreduceOptions o(context_);
      o.setOutput(data, size_t(n));
      o.setReduceFunction(gloo::AllreduceOptions::Func(fn));
      o.setTag(next_tag());
      gloo::allreduce(o);
    });
  }

  void broadcast_bytes(void* data, size_t bytes, int root) {
    if (bytes == 0) return;
    run("broadcast", [&] {
      gloo::BroadcastOptions o(context_);
      o.setOutput(static_cast<char*>(data), bytes);
      o.setRoot(root);
      o.setTag(next_tag());
      gloo::broadcast(o);
    });
  }

  void run(const char* what, const std::function<void()>& op) {
    try {
      op();
    } catch (const gloo::Exception& e) {
      fail(what, e);
    }
  }

  // A collective failed: a peer closed its connections (exited, was killed) or did not take part in time.
  // The store knows which ranks' processes are gone; name them.
  [[noreturn]] void fail(const std::string& what, const gloo::Exception& e) {
    std::string who;
    for (int r : store_.exited_ranks(world_size()))
      if (r != rank()) who += (who.empty() ? "" : ", ") + std::to_string(r);
    throw Error("rank " + std::to_string(rank()) + " of " + std::to_string(world_size()) + ": " + what +
                " failed (timeout " + seconds_text(timeout_.count() / 1000.0) + ", R1_DIST_TIMEOUT): " +
                (who.empty() ? "a peer rank hung or diverged"
                             : "rank " + who + " exited") +
                " [gloo: " + e.what() + "]");
  }

  DistEnv env_;
  TcpStore& store_;
  std::shared_ptr<gloo::Context> context_;
  std::chrono::milliseconds timeout_{0};
  uint32_t tag_ = 1;
};

}  // namespace

std::unique_ptr<Communicator> make_gloo_communicator(const DistEnv& env, TcpStore& store) {
  return std::make_unique<GlooCommunicator>(env, store);
}

}  // namespace r1::dist
