// Sequence packing: lays variable-length token sequences end to end into batches of at most `token_budget`
// tokens, described by cu_seqlens offsets (the varlen-attention convention: sequence j of a batch occupies
// tokens [cu_seqlens[j], cu_seqlens[j+1])), so no compute is spent on padding.
// Two orders:
//   InOrder             greedy in input order: a batch is closed when the next sequence does not fit. The
//                       concatenation of all batches is the input order (streaming, reproducible data order).
//   FirstFitDecreasing  sequences by decreasing length (ties: lower index first) go into the first batch with
//                       room; fewer batches (FFD uses at most 11/9 OPT + 6/9 bins). Inside a batch sequences are
//                       laid out by increasing input index, so the result is stable and independent of ties.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace r1::data {

enum class PackOrder { InOrder, FirstFitDecreasing };

struct PackedBatch {
  std::vector<size_t> indices;      // input sequences in layout order
  std::vector<int32_t> cu_seqlens;  // indices.size() + 1 offsets, from 0 to tokens()
  int64_t tokens() const { return cu_seqlens.empty() ? 0 : cu_seqlens.back(); }
};

// Plans batches from sequence lengths. max_sequences > 0 also caps sequences per batch. Throws r1::Error
// naming the sequence when one is empty or longer than the budget on its own.
std::vector<PackedBatch> plan_packing(const std::vector<int64_t>& lengths, int64_t token_budget, PackOrder order,
                                      int max_sequences = 0);

// The same, from the sequences themselves.
std::vector<PackedBatch> pack_sequences(const std::vector<std::vector<int32_t>>& sequences, int64_t token_budget,
                                        PackOrder order, int max_sequences = 0);

// The batch's tokens, concatenated in layout order.
std::vector<int32_t> gather_tokens(const PackedBatch& batch, const std::vector<std::vector<int32_t>>& sequences);

// Position ids restarting at 0 for every sequence (RoPE positions of a packed batch).
std::vector<int32_t> position_ids(const PackedBatch& batch);

}  // namespace r1::data
