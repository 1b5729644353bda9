// Arena: one allocation holding many named tensors, laid out by a MemoryPlan computed up front.
// Knowing the whole plan before allocating keeps memory use constant and reportable (`r1 info`).
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace r1 {

class MemoryPlan {
 public:
  struct Entry {
    std::string name;
    Shape shape;
    DType dtype;
    size_t offset;  // bytes from the arena's start, kAlignment-aligned
    size_t bytes;
  };
  static constexpr size_t kAlignment = 64;

  // Adds a tensor and returns its index in entries().
  size_t add(const std::string& name, const Shape& shape, DType dtype = DType::F32);
  size_t total_bytes() const { return total_; }
  const std::vector<Entry>& entries() const { return entries_; }
  // Index of the named entry; throws r1::Error naming the tensor when absent.
  size_t index_of(const std::string& name) const;

 private:
  std::vector<Entry> entries_;
  size_t total_ = 0;
};

class Arena {
 public:
  Arena() = default;
  explicit Arena(MemoryPlan plan);  // allocates total_bytes() zero-filled on the CPU
  Tensor operator[](size_t index) const;
  Tensor get(const std::string& name) const { return (*this)[plan_.index_of(name)]; }
  const MemoryPlan& plan() const { return plan_; }
  void* base() const { return base_.get(); }
  size_t bytes() const { return plan_.total_bytes(); }

 private:
  struct FreeDeleter {
    void operator()(void* p) const;
  };
  MemoryPlan plan_;
  std::unique_ptr<void, FreeDeleter> base_;
};

// "12.3 MiB" style formatting for memory reports.
std::string format_bytes(double bytes);

}  // namespace r1
