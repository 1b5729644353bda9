#include "generate/page_allocator.h"

#include <algorithm>
#include <string>

#include "core/error.h"

namespace r1::gen {

PageAllocator::PageAllocator(int num_pages, int page_size) : num_pages_(num_pages), page_size_(page_size) {
  R1_CHECK(num_pages > 0 && page_size > 0, "page allocator geometry must be positive");
  refcount_.assign(size_t(num_pages), 0);
  // A stack with the lowest id on top: allocation order is deterministic.
  free_.resize(size_t(num_pages));
  for (int i = 0; i < num_pages; i++) free_[size_t(i)] = num_pages - 1 - i;
}

int32_t PageAllocator::allocate() {
  if (free_.empty())
    throw Error("KV cache exhausted: all " + std::to_string(num_pages_) +
                " pages are in use; raise EngineOptions::kv_pages or lower max_slots");
  const int32_t p = free_.back();
  free_.pop_back();
  refcount_[size_t(p)] = 1;
  peak_used_ = std::max(peak_used_, used_pages());
  return p;
}

int PageAllocator::grow(PagedSequence& seq, int n, std::vector<std::pair<int32_t, int32_t>>* copies) {
  R1_CHECK(n >= 0, "grow by a negative count");
  int allocated = 0;
  if (n > 0 && seq.length % page_size_ != 0) {
    int32_t& last = seq.pages.back();
    if (refcount_[size_t(last)] > 1) {
      const int32_t copy = allocate();
      copies->emplace_back(last, copy);
      refcount_[size_t(last)]--;
      last = copy;
      allocated++;
      cow_copies_++;
    }
  }
  seq.length += n;
  const size_t need = size_t((seq.length + page_size_ - 1) / page_size_);
  while (seq.pages.size() < need) {
    seq.pages.push_back(allocate());
    allocated++;
  }
  return allocated;
}

PagedSequence PageAllocator::fork(const PagedSequence& seq) {
  for (int32_t p : seq.pages) refcount_[size_t(p)]++;
  return seq;
}

void PageAllocator::release(PagedSequence& seq) {
  for (int32_t p : seq.pages) {
    R1_CHECK(refcount_[size_t(p)] > 0, "page released more often than retained");
    if (--refcount_[size_t(p)] == 0) free_.push_back(p);
  }
  seq.pages.clear();
  seq.length = 0;
}

}  // namespace r1::gen
