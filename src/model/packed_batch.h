// PackedBatch: several sequences concatenated into T tokens (offsets cu_seqlens[B+1]) with per-token positions
// and next-token targets; attention is causal within each sequence, so no padding is ever computed. Every
// model (CPU or GPU), trainer and the rollout engine's prefill speak this layout.
#pragma once
#include <cstdint>
#include <vector>

namespace r1 {

struct PackedBatch {
  std::vector<int32_t> tokens;      // [T]
  std::vector<int32_t> positions;   // [T] position of each token within its own sequence
  std::vector<int32_t> cu_seqlens;  // [B+1] token offsets of the sequences
  std::vector<int32_t> targets;     // [T] next-token target, -1 where no loss/logprob is wanted

  int num_tokens() const { return int(tokens.size()); }
  int num_sequences() const { return int(cu_seqlens.size()) - 1; }
  int64_t num_targets() const;  // tokens with a target (>= 0)
  // Appends one sequence; targets are the next tokens where `loss_mask` is set (mask[i] covers tokens[i+1]).
  void add_sequence(const std::vector<int32_t>& seq, const std::vector<uint8_t>& loss_mask = {});
  void clear();
};

}  // namespace r1
