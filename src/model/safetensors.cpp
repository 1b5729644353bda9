#include "model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace r1 {

DType parse_safetensors_dtype(const std::string& s, const std::string& file, const std::string& tensor) {
  if (s == "F32") return DType::F32;
  if (s == "BF16") return DType::BF16;
  if (s == "F16") return DType::F16;
  fail_in_tensor(file, tensor, "unsupported dtype '" + s + "' (supported: F32, BF16, F16)");
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& o) noexcept { *this = std::move(o); }

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& o) noexcept {
  if (this != &o) {
    if (map_) munmap(map_, map_size_);
    path_ = std::move(o.path_);
    map_ = o.map_, map_size_ = o.map_size_, data_ = o.data_;
    entries_ = std::move(o.entries_), index_ = std::move(o.index_), metadata_ = std::move(o.metadata_);
    o.map_ = nullptr, o.map_size_ = 0, o.data_ = nullptr;
  }
  return *this;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) munmap(map_, map_size_);
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile f;
  f.path_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) fail_in_file(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    ::close(fd);
    fail_in_file(path, "cannot stat");
  }
  const uint64_t size = uint64_t(st.st_size);
  if (size < 8) {
    ::close(fd);
    fail_in_file(path, "truncated: " + std::to_string(size) + " bytes, shorter than the 8-byte header length");
  }
  void* m = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (m == MAP_FAILED) fail_in_file(path, std::string("cannot map: ") + std::strerror(errno));
  f.map_ = m, f.map_size_ = size;
  const auto* bytes = static_cast<const uint8_t*>(m);
  uint64_t n = 0;
  for (int i = 0; i < 8; i++) n |= uint64_t(bytes[i]) << (8 * i);
  if (n > size - 8)
    fail_in_file(path, "header length " + std::to_string(n) + " runs past the end of the file (" +
                           std::to_string(size) + " bytes)");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes + 8, bytes + 8 + n);
  } catch (const nlohmann::json::exception& e) {
    fail_in_file(path, std::string("invalid header JSON: ") + e.what());
  }
  if (!header.is_object()) fail_in_file(path, "header is not a JSON object");
  f.data_ = bytes + 8 + n;
  const uint64_t data_size = size - 8 - n;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail_in_file(path, "__metadata__ is not an object");
      for (auto m2 = v.begin(); m2 != v.end(); ++m2)
        if (m2.value().is_string()) f.metadata_[m2.key()] = m2.value().get<std::string>();
      continue;
    }
    if (!v.is_object()) fail_in_tensor(path, name, "header entry is not an object");
    if (!v.contains("dtype") || !v["dtype"].is_string()) fail_in_tensor(path, name, "missing dtype");
    if (!v.contains("shape") || !v["shape"].is_array()) fail_in_tensor(path, name, "missing shape");
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2)
      fail_in_tensor(path, name, "data_offsets must be [begin, end]");
    SafetensorsEntry e;
    e.name = name;
    e.dtype = parse_safetensors_dtype(v["dtype"].get<std::string>(), path, name);
    if (v["shape"].size() > 4) fail_in_tensor(path, name, "more than 4 dimensions");
    e.shape.ndim = int(v["shape"].size());
    for (int i = 0; i < e.shape.ndim; i++) {
      if (!v["shape"][i].is_number_unsigned()) fail_in_tensor(path, name, "shape entries must be non-negative integers");
      e.shape.dims[size_t(i)] = v["shape"][i].get<int64_t>();
    }
    for (int i = 0; i < 2; i++)
      if (!v["data_offsets"][i].is_number_unsigned()) fail_in_tensor(path, name, "data_offsets must be non-negative integers");
    e.begin = v["data_offsets"][0].get<uint64_t>();
    e.end = v["data_offsets"][1].get<uint64_t>();
    if (e.end < e.begin) fail_in_tensor(path, name, "data_offsets end before begin");
    if (e.end > data_size)
      fail_in_tensor(path, name, "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                                     ") out of range: the data section has " + std::to_string(data_size) + " bytes");
    const uint64_t want = uint64_t(e.shape.numel()) * dtype_size(e.dtype);
    if (want != e.end - e.begin)
      fail_in_tensor(path, name, "shape " + e.shape.to_string() + " of " + dtype_name(e.dtype) + " needs " +
                                     std::to_string(want) + " bytes but data_offsets span " +
                                     std::to_string(e.end - e.begin));
    f.index_[name] = f.entries_.size();
    f.entries_.push_back(e);
  }
  // Tensors must not overlap one another.
  std::vector<const SafetensorsEntry*> sorted;
  for (const auto& e : f.entries_) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < sorted.size(); i++)
    if (sorted[i]->begin < sorted[i - 1]->end && sorted[i]->end > sorted[i]->begin)
      fail_in_tensor(path, sorted[i]->name, "data overlaps tensor '" + sorted[i - 1]->name + "'");
  return f;
}

bool SafetensorsFile::has(const std::string& name) const { return index_.count(name) > 0; }

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) fail_in_tensor(path_, name, "missing from the file");
  return entries_[it->second];
}

void SafetensorsFile::read_f32(const std::string& name, const Shape& expected, float* out) const {
  const auto& e = entry(name);
  if (e.shape != expected)
    fail_in_tensor(path_, name, "shape " + e.shape.to_string() + " does not match the expected " + expected.to_string());
  convert_to_f32(e.dtype, data_ + e.begin, out, size_t(e.shape.numel()));
}

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    const uint64_t bytes = uint64_t(t.shape.numel()) * dtype_size(t.dtype);
    std::vector<int64_t> shape(t.shape.dims.begin(), t.shape.dims.begin() + t.shape.ndim);
    header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string h = header.dump();
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');  // align the data section to 8 bytes, as HF does
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) fail_in_file(tmp, std::string("cannot create: ") + std::strerror(errno));
  auto write_all = [&](const void* p, size_t n) {
    const char* c = static_cast<const char*>(p);
    while (n > 0) {
      const ssize_t w = ::write(fd, c, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        fail_in_file(path, std::string("write failed (the previous file is left intact): ") + std::strerror(err));
      }
      c += w, n -= size_t(w);
    }
  };
  uint8_t len[8];
  for (int i = 0; i < 8; i++) len[i] = uint8_t(uint64_t(h.size()) >> (8 * i));
  write_all(len, 8);
  write_all(h.data(), h.size());
  std::vector<uint8_t> buf;
  for (const auto& t : tensors) {
    const size_t n = size_t(t.shape.numel());
    buf.resize(n * dtype_size(t.dtype));
    convert_from_f32(t.dtype, t.data, buf.data(), n);
    write_all(buf.data(), buf.size());
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    fail_in_file(path, std::string("fsync failed: ") + std::strerror(err));
  }
  ::close(fd);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    fail_in_file(path, std::string("cannot rename into place: ") + std::strerror(errno));
  }
}

}  // namespace r1
