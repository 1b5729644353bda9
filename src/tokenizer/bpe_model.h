// The BPE model of a tokenizer.json ("model": {"type": "BPE", ...}): turns one pre-token into ids by
// applying merges in rank order (HF models/bpe/word.rs merge_all). The merge loop keeps a min-heap of
// candidate pairs keyed by (rank, position), so a word of n symbols costs O(n log n) and a million-byte
// pre-token is as safe as a short one; ties go to the leftmost pair, which reproduces GPT-2's loop.
// Results for words up to kCacheMaxWordBytes are cached (a lock-free cache per thread), so long texts,
// which repeat words, encode fast.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace r1::tok {

class MergeTable;

struct BpeOptions {
  bool byte_level = true;        // symbols are bytes (vocab in the GPT-2 byte alphabet); else UTF-8 chars
  bool ignore_merges = false;    // a pre-token that is itself in the vocab becomes that one id
  bool byte_fallback = false;    // an unknown symbol becomes <0xXX> tokens, one per byte
  std::optional<int32_t> unk_id; // an unknown symbol becomes unk (fuse_unk merges a run of them)
  bool fuse_unk = false;
};

class BpeModel {
 public:
  static constexpr size_t kCacheMaxWordBytes = 256;  // as HF utils/cache.rs MAX_LENGTH

  BpeModel();
  ~BpeModel();
  BpeModel(BpeModel&&) noexcept;
  BpeModel& operator=(BpeModel&&) noexcept;

  // vocab[id] = the token's symbol string (raw bytes for byte-level models; "" for ids not in the vocab).
  // merges: (left id, right id, merged id) in rank order. Validation is the loader's job.
  BpeModel(std::vector<std::string> symbols, const std::vector<std::array<int32_t, 3>>& merges,
           BpeOptions options);

  // Appends the ids of one pre-token (raw bytes; UTF-8 for byte_level=false).
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;
  // Same without the cache (for tests and benchmarks of the merge loop itself).
  void encode_word_uncached(std::string_view word, std::vector<int32_t>& out) const;

  size_t merge_count() const;
  const BpeOptions& options() const { return options_; }

 private:
  void initial_symbols(std::string_view word, std::vector<int32_t>& syms, std::vector<uint32_t>& starts) const;

  BpeOptions options_;
  uint64_t uid_;  // names this model's per-thread caches; never reused
  // symbol string -> id; built only when encoding needs whole-string lookups (ignore_merges, or
  // character-level symbols), since hashing 150k strings is a large part of the load time.
  std::unique_ptr<class SymbolIndex> index_;
  std::unique_ptr<MergeTable> merges_;
  int32_t byte_ids_[256];                     // id of each single-byte symbol, -1 when absent
  int32_t byte_fallback_ids_[256];            // id of "<0xXX>", -1 when absent
};

}  // namespace r1::tok
