#include "core/arena.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace r1 {

size_t MemoryPlan::add(const std::string& name, const Shape& shape, DType dtype) {
  const size_t bytes = size_t(shape.numel()) * dtype_size(dtype);
  const size_t offset = (total_ + kAlignment - 1) / kAlignment * kAlignment;
  entries_.push_back({name, shape, dtype, offset, bytes});
  total_ = offset + bytes;
  return entries_.size() - 1;
}

size_t MemoryPlan::index_of(const std::string& name) const {
  for (size_t i = 0; i < entries_.size(); i++)
    if (entries_[i].name == name) return i;
  throw Error("memory plan: no tensor named '" + name + "'");
}

void Arena::FreeDeleter::operator()(void* p) const { std::free(p); }

Arena::Arena(MemoryPlan plan) : plan_(std::move(plan)) {
  const size_t bytes = (plan_.total_bytes() + MemoryPlan::kAlignment - 1) / MemoryPlan::kAlignment * MemoryPlan::kAlignment;
  void* p = std::aligned_alloc(MemoryPlan::kAlignment, bytes ? bytes : MemoryPlan::kAlignment);
  if (!p) throw Error("arena: cannot allocate " + format_bytes(double(bytes)));
  std::memset(p, 0, bytes);
  base_.reset(p);
}

Tensor Arena::operator[](size_t index) const {
  R1_CHECK(index < plan_.entries().size(), "arena index out of range");
  const auto& e = plan_.entries()[index];
  Tensor t;
  t.data = static_cast<char*>(base_.get()) + e.offset;
  t.dtype = e.dtype;
  t.device = Device::CPU;
  t.shape = e.shape;
  return t;
}

std::string format_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 4) {
    bytes /= 1024.0;
    u++;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return buf;
}

}  // namespace r1
