// Rank-priority BPE over ids, with an open-addressing merge table and a shared word cache.
#include "tokenizer/bpe_model.h"

#include <algorithm>
#include <cstdio>
#include <atomic>
#include <cstring>

#include "tokenizer/string_index.h"
#include "tokenizer/utf8.h"

namespace r1::tok {

// ---- symbol index: string -> id, looked up by string_view without allocating ----

// Owns the symbol strings so that the index's pointer to them stays valid when the model moves.
class SymbolIndex {
 public:
  std::vector<std::string> symbols;
  StringIndex index{&symbols};
  int32_t find(std::string_view s) const { return index.find(s); }
};

// ---- merge table: (left, right) -> (rank, merged id); linear probing on a power-of-two table ----

class MergeTable {
 public:
  struct Entry {
    uint64_t key;
    int32_t rank;
    int32_t merged;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};

  explicit MergeTable(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n + 1) cap <<= 1;
    slots_.assign(cap, Entry{kEmpty, 0, 0});
    mask_ = cap - 1;
  }
  static uint64_t key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }
  static size_t hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return static_cast<size_t>(k);
  }
  // A later duplicate pair overwrites the earlier one, as HF's HashMap insert does.
  void insert(int32_t a, int32_t b, int32_t rank, int32_t merged) {
    const uint64_t k = key(a, b);
    for (size_t i = hash(k) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == kEmpty) ++size_;
      if (slots_[i].key == kEmpty || slots_[i].key == k) {
        slots_[i] = Entry{k, rank, merged};
        return;
      }
    }
  }
  const Entry* find(int32_t a, int32_t b) const {
    const uint64_t k = key(a, b);
    for (size_t i = hash(k) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == k) return &slots_[i];
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }
  size_t size() const { return size_; }

 private:
  std::vector<Entry> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

// ---- word cache: pre-token -> ids, one per thread and model, so lookups take no lock ----
//
// A flat open-addressing table over two arenas (key bytes, ids): no allocation per entry. When it fills
// up it is cleared, which keeps memory bounded and lets it follow a changing text distribution.

namespace {

uint64_t hash_word(std::string_view s) {
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ s.size();
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t chunk;
    std::memcpy(&chunk, s.data() + i, 8);
    h = (h ^ chunk) * 0xFF51AFD7ED558CCDULL;
    h ^= h >> 32;
  }
  if (i < s.size()) {
    uint64_t chunk = 0;
    std::memcpy(&chunk, s.data() + i, s.size() - i);
    h = (h ^ chunk) * 0xC4CEB9FE1A85EC53ULL;
    h ^= h >> 29;
  }
  return h | 1;  // 0 marks an empty slot
}

class WordCache {
 public:
  static constexpr size_t kSlots = 1 << 16;
  static constexpr size_t kMaxEntries = kSlots / 2;

  bool get(std::string_view word, uint64_t h, std::vector<int32_t>& out) const {
    if (slots_.empty()) return false;
    for (size_t i = h & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
      const Slot& s = slots_[i];
      if (s.hash == 0) return false;
      if (s.hash == h && s.key_len == word.size() && std::memcmp(keys_.data() + s.key_off, word.data(), word.size()) == 0) {
        out.insert(out.end(), ids_.begin() + s.ids_off, ids_.begin() + s.ids_off + s.n_ids);
        return true;
      }
    }
  }
  void put(std::string_view word, uint64_t h, const int32_t* ids, size_t n) {
    if (slots_.empty()) slots_.assign(kSlots, Slot{});
    if (count_ >= kMaxEntries) {
      std::fill(slots_.begin(), slots_.end(), Slot{});
      keys_.clear();
      ids_.clear();
      count_ = 0;
    }
    size_t i = h & (kSlots - 1);
    while (slots_[i].hash != 0) i = (i + 1) & (kSlots - 1);
    slots_[i] = Slot{h, static_cast<uint32_t>(keys_.size()), static_cast<uint32_t>(ids_.size()),
                     static_cast<uint16_t>(word.size()), static_cast<uint16_t>(n)};
    keys_.append(word);
    ids_.insert(ids_.end(), ids, ids + n);
    ++count_;
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t key_off = 0, ids_off = 0;
    uint16_t key_len = 0, n_ids = 0;
  };
  std::vector<Slot> slots_;
  std::string keys_;
  std::vector<int32_t> ids_;
  size_t count_ = 0;
};

std::atomic<uint64_t> next_model_uid{1};

// This thread's cache for the model with this uid. A thread keeps caches for a few models (most
// recently used first); a model's uid is never reused, so a cache can never serve another model.
WordCache& thread_cache(uint64_t uid) {
  struct Entry {
    uint64_t uid;
    std::unique_ptr<WordCache> cache;
  };
  constexpr size_t kModelsPerThread = 4;
  thread_local std::vector<Entry> caches;
  if (!caches.empty() && caches.front().uid == uid) return *caches.front().cache;
  for (size_t k = 1; k < caches.size(); ++k)
    if (caches[k].uid == uid) {
      std::swap(caches[k], caches.front());
      return *caches.front().cache;
    }
  if (caches.size() == kModelsPerThread) caches.pop_back();
  caches.insert(caches.begin(), Entry{uid, std::make_unique<WordCache>()});
  return *caches.front().cache;
}

}  // namespace

// ---- model ----

BpeModel::BpeModel() : uid_(next_model_uid++), index_(std::make_unique<SymbolIndex>()),
                       merges_(std::make_unique<MergeTable>(0)) {
  std::fill(std::begin(byte_ids_), std::end(byte_ids_), -1);
  std::fill(std::begin(byte_fallback_ids_), std::end(byte_fallback_ids_), -1);
}
BpeModel::~BpeModel() = default;
BpeModel::BpeModel(BpeModel&&) noexcept = default;
BpeModel& BpeModel::operator=(BpeModel&&) noexcept = default;

BpeModel::BpeModel(std::vector<std::string> symbols, const std::vector<std::array<int32_t, 3>>& merges,
                   BpeOptions options)
    : options_(std::move(options)),
      uid_(next_model_uid++),
      index_(std::make_unique<SymbolIndex>()),
      merges_(std::make_unique<MergeTable>(merges.size())) {
  std::fill(std::begin(byte_ids_), std::end(byte_ids_), -1);
  std::fill(std::begin(byte_fallback_ids_), std::end(byte_fallback_ids_), -1);
  for (size_t id = 0; id < symbols.size(); ++id) {
    const std::string& s = symbols[id];
    if (options_.byte_level && s.size() == 1 && byte_ids_[static_cast<unsigned char>(s[0])] < 0)
      byte_ids_[static_cast<unsigned char>(s[0])] = static_cast<int32_t>(id);
    unsigned value = 0;
    if (s.size() == 6 && std::sscanf(s.c_str(), "<0x%2X>", &value) == 1 && value < 256 && s[5] == '>')
      byte_fallback_ids_[value] = static_cast<int32_t>(id);
  }
  if (options_.ignore_merges || !options_.byte_level) {
    index_->symbols = std::move(symbols);
    index_->index.reset(&index_->symbols, index_->symbols.size());
    for (size_t id = 0; id < index_->symbols.size(); ++id)
      if (!index_->symbols[id].empty()) index_->index.insert(static_cast<int32_t>(id));
  }
  for (size_t r = 0; r < merges.size(); ++r)
    merges_->insert(merges[r][0], merges[r][1], static_cast<int32_t>(r), merges[r][2]);
}

size_t BpeModel::merge_count() const { return merges_->size(); }

// HF merge_word: one symbol per byte (byte-level) or per character; unknown ones via byte_fallback/unk.
void BpeModel::initial_symbols(std::string_view word, std::vector<int32_t>& syms,
                               std::vector<uint32_t>& starts) const {
  bool previous_unk = false;
  auto add_unknown = [&](std::string_view piece, uint32_t start) {
    if (options_.byte_fallback) {
      bool all = true;
      for (unsigned char b : piece) all = all && byte_fallback_ids_[b] >= 0;
      if (all) {
        for (unsigned char b : piece) {
          syms.push_back(byte_fallback_ids_[b]);
          starts.push_back(start);
        }
        previous_unk = false;
        return;
      }
    }
    if (options_.unk_id) {
      if (!(options_.fuse_unk && previous_unk)) {
        syms.push_back(*options_.unk_id);
        starts.push_back(start);
      }
      previous_unk = true;
    }
    // No unk and no byte fallback: HF drops the symbol silently.
  };
  if (options_.byte_level) {
    for (size_t i = 0; i < word.size(); ++i) {
      const int32_t id = byte_ids_[static_cast<unsigned char>(word[i])];
      if (id >= 0) {
        syms.push_back(id);
        starts.push_back(static_cast<uint32_t>(i));
        previous_unk = false;
      } else {
        add_unknown(word.substr(i, 1), static_cast<uint32_t>(i));
      }
    }
    return;
  }
  char32_t cp;
  for (size_t i = 0; i < word.size();) {
    const size_t len = utf8_decode(word, i, &cp);
    const int32_t id = index_->find(word.substr(i, len));
    if (id >= 0) {
      syms.push_back(id);
      starts.push_back(static_cast<uint32_t>(i));
      previous_unk = false;
    } else {
      add_unknown(word.substr(i, len), static_cast<uint32_t>(i));
    }
    i += len;
  }
}

void BpeModel::encode_word_uncached(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    const int32_t id = index_->find(word);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  thread_local std::vector<int32_t> syms;
  thread_local std::vector<uint32_t> starts;
  thread_local std::vector<int32_t> prev, next;
  syms.clear();
  starts.clear();
  initial_symbols(word, syms, starts);
  const int32_t n = static_cast<int32_t>(syms.size());
  if (n <= 1) {
    out.insert(out.end(), syms.begin(), syms.end());
    return;
  }
  prev.resize(n);
  next.resize(n);
  for (int32_t i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  // Candidate merge at symbol i with its right neighbour; stale entries are skipped when popped.
  struct Candidate {
    int32_t rank;
    int32_t pos;
    int32_t left, right, merged;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  thread_local std::vector<Candidate> heap;  // min-heap via std::greater
  heap.clear();
  const auto cmp = std::greater<Candidate>{};
  auto push_pair = [&](int32_t i) {
    const int32_t j = next[i];
    if (i < 0 || j < 0) return;
    if (const auto* e = merges_->find(syms[i], syms[j])) {
      heap.push_back({e->rank, i, syms[i], syms[j], e->merged});
      std::push_heap(heap.begin(), heap.end(), cmp);
    }
  };
  for (int32_t i = 0; i + 1 < n; ++i) {
    if (const auto* e = merges_->find(syms[i], syms[i + 1])) heap.push_back({e->rank, i, syms[i], syms[i + 1], e->merged});
  }
  std::make_heap(heap.begin(), heap.end(), cmp);
  constexpr int32_t kRemoved = -2;
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), cmp);
    const Candidate c = heap.back();
    heap.pop_back();
    const int32_t i = c.pos;
    if (syms[i] != c.left) continue;  // also catches removed symbols (kRemoved never equals an id)
    const int32_t j = next[i];
    if (j < 0 || syms[j] != c.right) continue;
    syms[i] = c.merged;
    syms[j] = kRemoved;
    next[i] = next[j];
    if (next[j] >= 0) prev[next[j]] = i;
    if (prev[i] >= 0) push_pair(prev[i]);
    push_pair(i);
  }
  for (int32_t i = 0; i >= 0; i = next[i]) out.push_back(syms[i]);
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.size() > kCacheMaxWordBytes) {
    encode_word_uncached(word, out);
    return;
  }
  WordCache& cache = thread_cache(uid_);
  const uint64_t h = hash_word(word);
  if (cache.get(word, h, out)) return;
  const size_t before = out.size();
  encode_word_uncached(word, out);
  cache.put(word, h, out.data() + before, out.size() - before);
}

}  // namespace r1::tok
