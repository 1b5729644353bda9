#include "train/distributed/communicator.h"

#include <algorithm>
#include <cstdlib>

#include "core/error.h"

namespace r1::dist {

std::vector<Shard> shard_ranges(int64_t n, int world, int64_t align) {
  R1_CHECK(world >= 1 && align >= 1 && n >= 0, "shard_ranges arguments");
  const int64_t per = (n + world - 1) / world;
  const int64_t chunk = (per + align - 1) / align * align;
  std::vector<Shard> s(static_cast<size_t>(world));
  for (int r = 0; r < world; r++) s[size_t(r)] = {std::min(n, r * chunk), std::min(n, (r + 1) * chunk)};
  return s;
}

std::vector<size_t> balanced_split(const std::vector<int64_t>& w, int world) {
  R1_CHECK(world >= 1, "balanced_split world");
  const size_t n = w.size();
  std::vector<int64_t> prefix(n + 1, 0);
  for (size_t i = 0; i < n; i++) prefix[i + 1] = prefix[i] + w[i];
  std::vector<size_t> b(size_t(world) + 1, 0);
  b[size_t(world)] = n;
  for (int r = 1; r < world; r++) {
    // The boundary whose prefix is nearest r/world of the total, leaving every part at least one item when
    // there are enough (ties go to the earlier boundary).
    const bool enough = n >= size_t(world);
    const size_t lo = b[size_t(r) - 1] + (enough ? 1 : 0);
    const size_t hi = enough ? n - size_t(world - r) : n;
    const double target = double(prefix[n]) * r / world;
    size_t best = lo;
    for (size_t i = lo; i <= hi; i++)
      if (std::abs(double(prefix[i]) - target) < std::abs(double(prefix[best]) - target)) best = i;
    b[size_t(r)] = best;
  }
  return b;
}

void LocalCommunicator::reduce_scatter_sum(float* data, const std::vector<Shard>& shards, float weight) {
  if (weight == 1.0f) return;
  // Device memory cannot be scaled from here; single-process jobs always weigh their gradients by 1.
  R1_CHECK(device_ == Device::CPU, "a local reduce-scatter with a weight other than 1 on a GPU buffer");
  for (const Shard& s : shards)
    for (int64_t i = s.begin; i < s.end; i++) data[i] *= weight;
}

}  // namespace r1::dist
