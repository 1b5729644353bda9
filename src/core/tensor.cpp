#include "core/tensor.h"

#include "core/error.h"

namespace r1 {

Shape::Shape(std::initializer_list<int64_t> d) {
  R1_CHECK(d.size() <= 4, "at most 4 dimensions");
  ndim = int(d.size());
  int i = 0;
  for (int64_t v : d) dims[i++] = v;
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= dims[i];
  return n;
}

bool Shape::operator==(const Shape& o) const {
  if (ndim != o.ndim) return false;
  for (int i = 0; i < ndim; i++)
    if (dims[i] != o.dims[i]) return false;
  return true;
}

std::string Shape::to_string() const {
  std::string s = "[";
  for (int i = 0; i < ndim; i++) {
    if (i) s += ", ";
    s += std::to_string(dims[i]);
  }
  return s + "]";
}

float* Tensor::f32() const {
  R1_CHECK(dtype == DType::F32, std::string("tensor is ") + dtype_name(dtype) + ", not F32");
  return static_cast<float*>(data);
}

}  // namespace r1
