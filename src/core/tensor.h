// Tensor: a non-owning view {data, dtype, device, shape} of up to 4 dimensions, row-major and contiguous.
// No autograd: layers own explicit forward/backward functions over preallocated buffers (the llm.c way).
#pragma once
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "core/dtype.h"

namespace r1 {

enum class Device : uint8_t { CPU, CUDA };

struct Shape {
  int ndim = 0;
  std::array<int64_t, 4> dims{0, 0, 0, 0};

  Shape() = default;
  Shape(std::initializer_list<int64_t> d);
  int64_t operator[](int i) const { return dims[i]; }
  int64_t numel() const;
  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::string to_string() const;  // "[2, 3]"
};

struct Tensor {
  void* data = nullptr;
  DType dtype = DType::F32;
  Device device = Device::CPU;
  Shape shape;

  int64_t numel() const { return shape.numel(); }
  size_t bytes() const { return size_t(numel()) * dtype_size(dtype); }
  // Typed access; throws if the dtype is not float32.
  float* f32() const;
};

}  // namespace r1
