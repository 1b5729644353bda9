#include "model/packed_batch.h"

#include <cstddef>

namespace r1 {

void PackedBatch::add_sequence(const std::vector<int32_t>& seq, const std::vector<uint8_t>& loss_mask) {
  if (cu_seqlens.empty()) cu_seqlens.push_back(0);
  const size_t n = seq.size();
  for (size_t i = 0; i < n; i++) {
    tokens.push_back(seq[i]);
    positions.push_back(int32_t(i));
    const bool want = i + 1 < n && (loss_mask.empty() || loss_mask[i]);
    targets.push_back(want ? seq[i + 1] : -1);
  }
  cu_seqlens.push_back(int32_t(tokens.size()));
}

int64_t PackedBatch::num_targets() const {
  int64_t n = 0;
  for (int32_t t : targets) n += t >= 0;
  return n;
}

void PackedBatch::clear() {
  tokens.clear();
  positions.clear();
  cu_seqlens.clear();
  targets.clear();
}

}  // namespace r1
