#include "data/packing.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "core/error.h"

namespace r1::data {

namespace {

void finish_offsets(PackedBatch& b, const std::vector<int64_t>& lengths) {
  b.cu_seqlens.assign(1, 0);
  for (size_t i : b.indices) b.cu_seqlens.push_back(int32_t(b.cu_seqlens.back() + lengths[i]));
}

}  // namespace

std::vector<PackedBatch> plan_packing(const std::vector<int64_t>& lengths, int64_t token_budget, PackOrder order,
                                      int max_sequences) {
  if (token_budget <= 0 || token_budget > INT32_MAX)
    throw Error("packing: token budget " + std::to_string(token_budget) + " out of range [1, 2^31)");
  for (size_t i = 0; i < lengths.size(); ++i) {
    if (lengths[i] <= 0) throw Error("packing: sequence " + std::to_string(i) + " is empty");
    if (lengths[i] > token_budget)
      throw Error("packing: sequence " + std::to_string(i) + " has " + std::to_string(lengths[i]) +
                  " tokens, more than the token budget " + std::to_string(token_budget));
  }
  const size_t cap = max_sequences > 0 ? size_t(max_sequences) : SIZE_MAX;

  std::vector<PackedBatch> batches;
  std::vector<int64_t> used;  // tokens per batch
  if (order == PackOrder::InOrder) {
    for (size_t i = 0; i < lengths.size(); ++i) {
      if (batches.empty() || used.back() + lengths[i] > token_budget || batches.back().indices.size() >= cap) {
        batches.emplace_back();
        used.push_back(0);
      }
      batches.back().indices.push_back(i);
      used.back() += lengths[i];
    }
  } else {
    std::vector<size_t> by_length(lengths.size());
    std::iota(by_length.begin(), by_length.end(), size_t(0));
    std::stable_sort(by_length.begin(), by_length.end(), [&](size_t a, size_t b) { return lengths[a] > lengths[b]; });
    for (size_t i : by_length) {
      size_t b = 0;
      while (b < batches.size() && (used[b] + lengths[i] > token_budget || batches[b].indices.size() >= cap)) ++b;
      if (b == batches.size()) {
        batches.emplace_back();
        used.push_back(0);
      }
      batches[b].indices.push_back(i);
      used[b] += lengths[i];
    }
    for (auto& b : batches) std::sort(b.indices.begin(), b.indices.end());
  }
  for (auto& b : batches) finish_offsets(b, lengths);
  return batches;
}

std::vector<PackedBatch> pack_sequences(const std::vector<std::vector<int32_t>>& sequences, int64_t token_budget,
                                        PackOrder order, int max_sequences) {
  std::vector<int64_t> lengths;
  lengths.reserve(sequences.size());
  for (const auto& s : sequences) lengths.push_back(int64_t(s.size()));
  return plan_packing(lengths, token_budget, order, max_sequences);
}

std::vector<int32_t> gather_tokens(const PackedBatch& batch, const std::vector<std::vector<int32_t>>& sequences) {
  std::vector<int32_t> tokens;
  tokens.reserve(size_t(batch.tokens()));
  for (size_t i : batch.indices) {
    R1_CHECK(i < sequences.size(), "packed index beyond the sequences");
    tokens.insert(tokens.end(), sequences[i].begin(), sequences[i].end());
  }
  R1_CHECK(int64_t(tokens.size()) == batch.tokens(), "sequences changed since planning");
  return tokens;
}

std::vector<int32_t> position_ids(const PackedBatch& batch) {
  std::vector<int32_t> pos;
  pos.reserve(size_t(batch.tokens()));
  for (size_t j = 0; j + 1 < batch.cu_seqlens.size(); ++j)
    for (int32_t t = 0; t < batch.cu_seqlens[j + 1] - batch.cu_seqlens[j]; ++t) pos.push_back(t);
  return pos;
}

}  // namespace r1::data
