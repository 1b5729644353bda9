#include "generate/kv_cache.h"

#include <cstring>
#include <utility>
#include <vector>

#include "core/error.h"

namespace r1::gen {

KvCache::KvCache(const KvGeometry& g) : g_(g) {
  R1_CHECK(g.num_layers > 0 && g.num_pages > 0 && g.page_size > 0 && g.kv_heads > 0 && g.head_dim > 0,
           "KV cache geometry must be positive");
  const size_t n = size_t(g.num_layers) * pool_floats();
  k_.assign(n, 0.0f);
  v_.assign(n, 0.0f);
  pages_ = PageAllocator(g.num_pages, g.page_size);
}

void KvCache::copy_page(int32_t dst, int32_t src, int tokens) {
  const size_t n = size_t(tokens) * size_t(g_.slot_floats()) * sizeof(float);
  for (int l = 0; l < g_.num_layers; l++) {
    std::memcpy(k_pool(l) + int64_t(dst) * g_.page_floats(), k_pool(l) + int64_t(src) * g_.page_floats(), n);
    std::memcpy(v_pool(l) + int64_t(dst) * g_.page_floats(), v_pool(l) + int64_t(src) * g_.page_floats(), n);
  }
}

int KvCache::grow(KvSequence& seq, int n) {
  // The next token lands in a shared, partially filled last page: the allocator hands out a fresh page and the
  // copy to make, of the tokens already in it.
  const int filled = seq.length % g_.page_size;
  std::vector<std::pair<int32_t, int32_t>> copies;
  const int allocated = pages_.grow(seq, n, &copies);
  for (const auto& [src, dst] : copies) copy_page(dst, src, filled);
  return allocated;
}

KvSequence KvCache::fork(const KvSequence& seq) { return pages_.fork(seq); }

void KvCache::release(KvSequence& seq) { pages_.release(seq); }

}  // namespace r1::gen
