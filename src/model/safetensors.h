// safetensors: an 8-byte little-endian header length N, N bytes of JSON
//   {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}
// then the raw little-endian, row-major data (offsets relative to the end of the header).
// The reader maps the file and validates everything before handing out a byte: a malformed file is an r1::Error
// naming the file and the tensor, never a crash. The writer converts from float32 and writes atomically.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"

namespace r1 {

struct SafetensorsEntry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin = 0, end = 0;  // byte offsets into the data section
};

class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::string& path);
  SafetensorsFile(SafetensorsFile&& o) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&& o) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool has(const std::string& name) const;
  const SafetensorsEntry& entry(const std::string& name) const;  // error names the missing tensor
  // Reads a tensor as float32 into out (numel floats), checking its shape equals `expected`.
  void read_f32(const std::string& name, const Shape& expected, float* out) const;
  // The tensor's raw bytes (dtype as stored).
  const uint8_t* raw(const SafetensorsEntry& e) const { return data_ + e.begin; }

 private:
  SafetensorsFile() = default;
  std::string path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  const uint8_t* data_ = nullptr;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

struct TensorToWrite {
  std::string name;
  DType dtype;   // stored dtype (converted from the float32 data)
  Shape shape;
  const float* data;
};

// Writes a safetensors file atomically (temporary file, fsync, rename).
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

DType parse_safetensors_dtype(const std::string& s, const std::string& file, const std::string& tensor);

}  // namespace r1
