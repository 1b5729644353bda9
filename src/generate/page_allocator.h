// Bookkeeping of a paged KV cache, shared by the CPU cache (gen::KvCache, which adds the float pools) and the GPU
// engine (whose pools live in GPU memory): which pages are free, who references them, and which shared partial
// pages must be copied before a sequence writes into them. Deterministic lowest-id-first allocation; a request's
// samples share its prompt's pages (refcounts); a sequence about to write into a shared, partially filled last page
// gets a fresh page and the (src, dst) pair of the copy to make (copy-on-write; full shared pages are never copied).
#pragma once
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace r1::gen {

struct PagedSequence {
  std::vector<int32_t> pages;
  int length = 0;
};

class PageAllocator {
 public:
  PageAllocator() = default;
  PageAllocator(int num_pages, int page_size);

  int num_pages() const { return num_pages_; }
  int page_size() const { return page_size_; }
  // Pool slot (page * page_size + row) of token `pos` of seq.
  int32_t slot(const PagedSequence& seq, int pos) const {
    return seq.pages[size_t(pos / page_size_)] * page_size_ + pos % page_size_;
  }

  // Extends seq by n tokens, allocating pages as needed; a shared, partially filled last page is replaced by a
  // fresh one and (src, dst) appended to *copies. Returns the number of pages allocated. r1::Error when empty.
  int grow(PagedSequence& seq, int n, std::vector<std::pair<int32_t, int32_t>>* copies);
  PagedSequence fork(const PagedSequence& seq);
  void release(PagedSequence& seq);

  int refcount(int32_t page) const { return refcount_[size_t(page)]; }
  int free_pages() const { return int(free_.size()); }
  int used_pages() const { return num_pages_ - free_pages(); }
  int peak_used_pages() const { return peak_used_; }
  void reset_peak() { peak_used_ = used_pages(); }
  int64_t copy_on_writes() const { return cow_copies_; }

 private:
  int32_t allocate();

  int num_pages_ = 0, page_size_ = 16;
  std::vector<int32_t> refcount_, free_;
  int peak_used_ = 0;
  int64_t cow_copies_ = 0;
};

}  // namespace r1::gen
