// Paged KV cache: keys and values of every cached token live in fixed-size pages drawn from one flat pool
// per layer ([num_pages, page_size, kv_heads, head_dim] for K and the same for V). A sequence owns an ordered
// list of page ids (its page table); page p of layer l starts at pool_l + p * page_size * kv_heads * head_dim.
//
// Pages are reference-counted so that the n samples of one prompt share the prompt's pages: forking a sequence
// copies its page list and retains every page, and a sample that appends to a shared, partially filled last page
// first copies it (copy-on-write) — full shared pages are never copied. The bookkeeping is the PageAllocator the
// GPU engine uses too; this class adds the float pools and performs the copies.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "generate/page_allocator.h"

namespace r1::gen {

struct KvGeometry {
  int num_layers = 0, num_pages = 0, page_size = 16, kv_heads = 0, head_dim = 0;
  int64_t slot_floats() const { return int64_t(kv_heads) * head_dim; }  // one token of one layer, K or V
  int64_t page_floats() const { return int64_t(page_size) * slot_floats(); }
  // Bytes of one page across all layers, K and V.
  size_t page_bytes() const { return size_t(2) * num_layers * size_t(page_floats()) * sizeof(float); }
};

// A sequence's view of the cache: page ids in order and the number of cached tokens.
using KvSequence = PagedSequence;

class KvCache {
 public:
  KvCache() = default;
  explicit KvCache(const KvGeometry& g);

  const KvGeometry& geometry() const { return g_; }
  float* k_pool(int layer) { return k_.data() + size_t(layer) * pool_floats(); }
  float* v_pool(int layer) { return v_.data() + size_t(layer) * pool_floats(); }
  const float* k_pool(int layer) const { return k_.data() + size_t(layer) * pool_floats(); }
  const float* v_pool(int layer) const { return v_.data() + size_t(layer) * pool_floats(); }
  // Where token `pos` of `seq` lives in a pool, in floats from the pool's start.
  int64_t slot_offset(const KvSequence& seq, int pos) const {
    return (int64_t(seq.pages[size_t(pos / g_.page_size)]) * g_.page_size + pos % g_.page_size) * g_.slot_floats();
  }

  // Extends seq by n tokens (length += n): allocates pages as needed and copies a shared, partially filled
  // last page before it is written (copy-on-write). Returns the number of pages allocated. Throws r1::Error
  // when the pool is exhausted (the engine's admission control prevents that).
  int grow(KvSequence& seq, int n);
  // A new sequence sharing all of seq's pages (refcount + 1 each).
  KvSequence fork(const KvSequence& seq);
  // Drops seq's references; pages whose count reaches zero return to the free list.
  void release(KvSequence& seq);

  int refcount(int32_t page) const { return pages_.refcount(page); }
  int free_pages() const { return pages_.free_pages(); }
  int used_pages() const { return pages_.used_pages(); }
  int peak_used_pages() const { return pages_.peak_used_pages(); }
  void reset_peak() { pages_.reset_peak(); }
  int64_t copy_on_writes() const { return pages_.copy_on_writes(); }
  size_t pool_bytes() const { return size_t(g_.num_pages) * g_.page_bytes(); }

 private:
  size_t pool_floats() const { return size_t(g_.num_pages) * size_t(g_.page_floats()); }
  void copy_page(int32_t dst, int32_t src, int tokens);

  KvGeometry g_;
  std::vector<float> k_, v_;       // [layers][pages][page_size][kv_heads][head_dim]
  PageAllocator pages_;
};

}  // namespace r1::gen
