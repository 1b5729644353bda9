#include "generate/kv_cache.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/arena.h"
#include "core/error.h"

namespace r1::gen {

KvCache::KvCache(const KvGeometry& g) : g_(g) {
  R1_CHECK(g.num_layers > 0 && g.num_pages > 0 && g.page_size > 0 && g.kv_heads > 0 && g.head_dim > 0,
           "KV cache geometry must be positive");
  const size_t n = size_t(g.num_layers) * pool_floats();
  k_.assign(n, 0.0f);
  v_.assign(n, 0.0f);
  refcount_.assign(size_t(g.num_pages), 0);
  // Stack of free pages, lowest id on top, so allocation order is deterministic.
  free_.resize(size_t(g.num_pages));
  for (int i = 0; i < g.num_pages; i++) free_[size_t(i)] = g.num_pages - 1 - i;
}

int32_t KvCache::allocate() {
  if (free_.empty())
    throw Error("KV cache exhausted: all " + std::to_string(g_.num_pages) + " pages (" +
                format_bytes(double(pool_bytes())) + ") are in use; raise EngineOptions::kv_pages or lower max_slots");
  const int32_t p = free_.back();
  free_.pop_back();
  refcount_[size_t(p)] = 1;
  peak_used_ = std::max(peak_used_, used_pages());
  return p;
}

void KvCache::copy_page(int32_t dst, int32_t src, int tokens) {
  const size_t n = size_t(tokens) * size_t(g_.slot_floats()) * sizeof(float);
  for (int l = 0; l < g_.num_layers; l++) {
    std::memcpy(k_pool(l) + int64_t(dst) * g_.page_floats(), k_pool(l) + int64_t(src) * g_.page_floats(), n);
    std::memcpy(v_pool(l) + int64_t(dst) * g_.page_floats(), v_pool(l) + int64_t(src) * g_.page_floats(), n);
  }
}

int KvCache::grow(KvSequence& seq, int n) {
  R1_CHECK(n >= 0, "grow by a negative count");
  int allocated = 0;
  const int filled = seq.length % g_.page_size;
  if (n > 0 && filled != 0) {
    // The next token lands in the last page; if another sequence still reads that page, write to a copy.
    int32_t& last = seq.pages.back();
    if (refcount_[size_t(last)] > 1) {
      const int32_t copy = allocate();
      copy_page(copy, last, filled);
      refcount_[size_t(last)]--;
      last = copy;
      allocated++;
      cow_copies_++;
    }
  }
  seq.length += n;
  const size_t need = size_t((seq.length + g_.page_size - 1) / g_.page_size);
  while (seq.pages.size() < need) {
    seq.pages.push_back(allocate());
    allocated++;
  }
  return allocated;
}

KvSequence KvCache::fork(const KvSequence& seq) {
  for (int32_t p : seq.pages) refcount_[size_t(p)]++;
  return seq;
}

void KvCache::release(KvSequence& seq) {
  for (int32_t p : seq.pages) {
    R1_CHECK(refcount_[size_t(p)] > 0, "page released more often than retained");
    if (--refcount_[size_t(p)] == 0) free_.push_back(p);
  }
  seq.pages.clear();
  seq.length = 0;
}

}  // namespace r1::gen
