// safetensors: an 8-byte little-endian header length N, N bytes of JSON
//   {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {string: string}}
// then the raw little-endian, row-major data (offsets relative to the end of the header). The tensors tile the
// data section exactly: sorted by offset, each begins where the previous ends and the last ends at the file's end.
//
// The reader maps the file and validates all of that before handing out a byte, so a malformed or truncated file
// is an r1::Error naming the file and the tensor, never a crash or a silent misread. The writer converts from
// float32, pads the header with spaces to 8 bytes as the reference implementation does, and writes atomically.
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
  DType dtype = DType::F32;
  Shape shape;
  uint64_t begin = 0, end = 0;  // byte offsets into the data section
  uint64_t bytes() const { return end - begin; }
};

class SafetensorsFile {
 public:
  // Maps and validates the file; r1::Error naming the file (and tensor) when anything is wrong.
  static SafetensorsFile open(const std::string& path);
  SafetensorsFile(SafetensorsFile&& o) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&& o) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }  // sorted by name
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool has(const std::string& name) const;
  const SafetensorsEntry& entry(const std::string& name) const;  // error names the file and the missing tensor
  // Reads a tensor as float32 into out (numel floats), converting from BF16/F16; its shape must equal
  // `expected` (otherwise an error naming the tensor and both shapes).
  void read_f32(const std::string& name, const Shape& expected, float* out) const;
  // The tensor's raw bytes (dtype as stored), valid while this object lives.
  const uint8_t* raw(const SafetensorsEntry& e) const { return data_ + e.begin; }
  uint64_t data_size() const { return data_size_; }

 private:
  SafetensorsFile() = default;
  void parse_header(const uint8_t* header, uint64_t n);
  void check_tiling() const;

  std::string path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  const uint8_t* data_ = nullptr;
  uint64_t data_size_ = 0;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

struct TensorToWrite {
  std::string name;
  DType dtype = DType::F32;  // stored dtype (converted from the float32 data, round to nearest even)
  Shape shape;
  const float* data = nullptr;
};

// Writes a safetensors file atomically: path + ".tmp", fsync, rename over path, fsync the directory. A crash
// leaves either the old file or the new one, never a torn file. Names must be unique and not "__metadata__".
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Writes any file (config.json, an index) with the same temporary-file-and-rename guarantee.
void write_file_atomic(const std::string& path, const std::string& contents);

// "F32" | "BF16" | "F16" -> DType; other safetensors dtypes (F64, I64, F8_E4M3...) and unknown spellings are
// an error naming the file and the tensor.
DType parse_safetensors_dtype(const std::string& s, const std::string& file, const std::string& tensor);

}  // namespace r1
