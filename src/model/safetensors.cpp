// safetensors reader (mmap + full validation) and atomic writer.
#include "model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"

namespace r1 {

namespace {

// The reference implementation refuses headers above 100 MB; a larger length means a corrupt or foreign file.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// The writer converts and writes this many elements at a time, so saving never doubles the model in memory.
constexpr size_t kWriteChunk = size_t(1) << 20;

std::string errno_text() { return std::strerror(errno); }

// numel of a shape read from an untrusted header, or -1 when the product overflows.
int64_t checked_numel(const Shape& s) {
  int64_t n = 1;
  for (int i = 0; i < s.ndim; i++) {
    if (s.dims[size_t(i)] != 0 && n > std::numeric_limits<int64_t>::max() / s.dims[size_t(i)]) return -1;
    n *= s.dims[size_t(i)];
  }
  return n;
}

// A file written to path + ".tmp" and renamed over path by commit(); destroyed uncommitted, it removes the
// temporary and leaves whatever was at path untouched.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path) : path_(std::move(path)), tmp_(path_ + ".tmp") {
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail_in_file(path_, "cannot create " + tmp_ + ": " + errno_text());
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
  }

  void write(const void* p, size_t n) {
    const char* c = static_cast<const char*>(p);
    while (n > 0) {
      const ssize_t w = ::write(fd_, c, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) fail_in_file(path_, "write failed (the previous file is left intact): " + errno_text());
      c += w, n -= size_t(w);
    }
  }

  void commit() {
    // fsync before rename: otherwise a crash can leave the new name pointing at data never written to disk.
    if (::fsync(fd_) != 0) fail_in_file(path_, "fsync failed (the previous file is left intact): " + errno_text());
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail_in_file(path_, "close failed (the previous file is left intact): " + errno_text());
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) fail_in_file(path_, "cannot rename into place: " + errno_text());
    committed_ = true;
    // fsync the directory too, so the rename itself survives a crash.
    std::string dir = std::filesystem::path(path_).parent_path().string();
    if (dir.empty()) dir = ".";
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }

 private:
  std::string path_, tmp_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace

DType parse_safetensors_dtype(const std::string& s, const std::string& file, const std::string& tensor) {
  if (s == "F32") return DType::F32;
  if (s == "BF16") return DType::BF16;
  if (s == "F16") return DType::F16;
  static const std::set<std::string> kOtherSpecDtypes = {"BOOL", "U8",      "I8",      "I16",     "U16",     "I32",
                                                         "U32",  "I64",     "U64",     "F64",     "F8_E4M3", "F8_E5M2",
                                                         "F4",   "F6_E2M3", "F6_E3M2", "F8_E8M0", "C64"};
  if (kOtherSpecDtypes.count(s))
    fail_in_tensor(file, tensor, "dtype '" + s + "' is not supported (supported: F32, BF16, F16)");
  fail_in_tensor(file, tensor, "unknown dtype '" + s + "' (supported: F32, BF16, F16)");
}

// ---- reader ----

SafetensorsFile::SafetensorsFile(SafetensorsFile&& o) noexcept { *this = std::move(o); }

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& o) noexcept {
  if (this != &o) {
    if (map_) munmap(map_, map_size_);
    path_ = std::move(o.path_);
    map_ = o.map_, map_size_ = o.map_size_, data_ = o.data_, data_size_ = o.data_size_;
    entries_ = std::move(o.entries_), index_ = std::move(o.index_), metadata_ = std::move(o.metadata_);
    o.map_ = nullptr, o.map_size_ = 0, o.data_ = nullptr, o.data_size_ = 0;
  }
  return *this;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) munmap(map_, map_size_);
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile f;
  f.path_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_in_file(path, "cannot open: " + errno_text());
  struct stat st {};
  const bool stat_ok = fstat(fd, &st) == 0;
  if (!stat_ok || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail_in_file(path, stat_ok ? "not a regular file" : "cannot stat: " + errno_text());
  }
  const uint64_t size = uint64_t(st.st_size);
  if (size < 8) {
    ::close(fd);
    fail_in_file(path, "truncated: " + std::to_string(size) + " bytes, shorter than the 8-byte header length");
  }
  void* m = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);  // the mapping keeps the file alive
  if (m == MAP_FAILED) fail_in_file(path, "cannot map: " + errno_text());
  f.map_ = m, f.map_size_ = size;  // from here on the destructor unmaps, also when validation throws
  const auto* bytes = static_cast<const uint8_t*>(m);
  uint64_t n = 0;
  for (int i = 0; i < 8; i++) n |= uint64_t(bytes[i]) << (8 * i);
  if (n > size - 8)
    fail_in_file(path, "header length " + std::to_string(n) + " runs past the end of the file (" +
                           std::to_string(size) + " bytes): truncated or not a safetensors file");
  if (n > kMaxHeaderBytes)
    fail_in_file(path, "header length " + std::to_string(n) + " exceeds the 100 MB limit: not a safetensors file?");
  f.data_ = bytes + 8 + n;
  f.data_size_ = size - 8 - n;
  f.parse_header(bytes + 8, n);
  f.check_tiling();
  return f;
}

void SafetensorsFile::parse_header(const uint8_t* text, uint64_t n) {
  const std::string& path = path_;
  // nlohmann keeps the last of duplicate keys; a duplicate tensor name would then hide one tensor's bytes.
  std::set<std::string> seen;
  const nlohmann::json::parser_callback_t no_duplicates = [&](int depth, nlohmann::json::parse_event_t event,
                                                              nlohmann::json& parsed) {
    if (depth == 1 && event == nlohmann::json::parse_event_t::key && !seen.insert(parsed.get<std::string>()).second)
      fail_in_tensor(path, parsed.get<std::string>(), "appears twice in the header");
    return true;
  };
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text, text + n, no_duplicates);
  } catch (const nlohmann::json::exception& e) {
    fail_in_file(path, std::string("invalid header JSON: ") + e.what());
  }
  if (!header.is_object()) fail_in_file(path, "the header is not a JSON object");
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail_in_field(path, "__metadata__", "must be an object of strings");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          fail_in_field(path, "__metadata__." + m.key(), "must be a string, got " + m.value().dump());
        metadata_[m.key()] = m.value().get<std::string>();
      }
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
    const auto& shape = v["shape"];
    if (shape.size() > e.shape.dims.size())
      fail_in_tensor(path, name, std::to_string(shape.size()) + " dimensions; at most 4 are supported");
    e.shape.ndim = int(shape.size());
    for (int i = 0; i < e.shape.ndim; i++) {
      if (!shape[size_t(i)].is_number_unsigned() || shape[size_t(i)].get<uint64_t>() > uint64_t(INT64_MAX))
        fail_in_tensor(path, name, "shape entries must be non-negative integers, got " + shape.dump());
      e.shape.dims[size_t(i)] = shape[size_t(i)].get<int64_t>();
    }
    for (int i = 0; i < 2; i++)
      if (!v["data_offsets"][size_t(i)].is_number_unsigned())
        fail_in_tensor(path, name, "data_offsets must be non-negative integers, got " + v["data_offsets"].dump());
    e.begin = v["data_offsets"][0].get<uint64_t>();
    e.end = v["data_offsets"][1].get<uint64_t>();
    const std::string span = "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + ")";
    if (e.end < e.begin) fail_in_tensor(path, name, span + " end before they begin");
    if (e.end > data_size_)
      fail_in_tensor(
          path, name,
          span + " out of range: the data section has " + std::to_string(data_size_) + " bytes (truncated file?)");
    const int64_t numel = checked_numel(e.shape);
    if (numel < 0) fail_in_tensor(path, name, "shape " + e.shape.to_string() + " overflows");
    const uint64_t want = uint64_t(numel) * dtype_size(e.dtype);
    if (want != e.bytes())
      fail_in_tensor(path, name,
                     "shape " + e.shape.to_string() + " of " + dtype_name(e.dtype) + " needs " + std::to_string(want) +
                         " bytes but " + span + " span " + std::to_string(e.bytes()));
    index_[name] = entries_.size();
    entries_.push_back(e);
  }
}

// The tensors must tile the data section: no overlap (two tensors sharing bytes), no gap, no trailing bytes.
void SafetensorsFile::check_tiling() const {
  std::vector<const SafetensorsEntry*> sorted;
  for (const auto& e : entries_) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(),
            [](auto* a, auto* b) { return a->begin != b->begin ? a->begin < b->begin : a->end < b->end; });
  uint64_t covered = 0;  // end of the bytes claimed so far
  const SafetensorsEntry* last = nullptr;
  for (const SafetensorsEntry* e : sorted) {
    if (e->begin < covered)
      fail_in_tensor(path_, e->name,
                     "data_offsets [" + std::to_string(e->begin) + ", " + std::to_string(e->end) +
                         ") overlap tensor '" + last->name + "' [" + std::to_string(last->begin) + ", " +
                         std::to_string(last->end) + ")");
    if (e->begin > covered)
      fail_in_tensor(path_, e->name,
                     "data begins at byte " + std::to_string(e->begin) + " leaving a gap of " +
                         std::to_string(e->begin - covered) + " bytes after " +
                         (last ? "tensor '" + last->name + "'" : std::string("the header")));
    covered = e->end;
    last = e;
  }
  if (covered != data_size_)
    fail_in_file(path_, "the last " + std::to_string(data_size_ - covered) + " bytes of the data section (" +
                            std::to_string(data_size_) + " bytes) belong to no tensor");
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
    fail_in_tensor(path_, name,
                   "shape " + e.shape.to_string() + " does not match the expected " + expected.to_string());
  convert_to_f32(e.dtype, raw(e), out, size_t(e.shape.numel()));
}

// ---- writer ----

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  // The header lists __metadata__ first, then the tensors in the order given, at increasing offsets.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();  // "{}", not "null", when empty
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    if (t.name.empty() || t.name == "__metadata__") fail_in_tensor(path, t.name, "is not a valid tensor name");
    if (!names.insert(t.name).second) fail_in_tensor(path, t.name, "given twice");
    R1_CHECK(t.data != nullptr || t.shape.numel() == 0, "tensor " + t.name + " has no data");
    const uint64_t bytes = uint64_t(t.shape.numel()) * dtype_size(t.dtype);
    header[t.name] = {{"dtype", dtype_name(t.dtype)},
                      {"shape", std::vector<int64_t>(t.shape.dims.begin(), t.shape.dims.begin() + t.shape.ndim)},
                      {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string h = header.dump();
  h.resize((h.size() + 7) / 8 * 8, ' ');  // 8 + N is then a multiple of 8: the data section is 8-byte aligned

  AtomicFile out(path);
  uint8_t len[8];
  for (int i = 0; i < 8; i++) len[i] = uint8_t(uint64_t(h.size()) >> (8 * i));
  out.write(len, 8);
  out.write(h.data(), h.size());
  std::vector<uint8_t> buf;
  for (const auto& t : tensors) {
    const size_t n = size_t(t.shape.numel());
    if (t.dtype == DType::F32) {  // little-endian float32 is already the stored form
      out.write(t.data, n * 4);
      continue;
    }
    for (size_t i = 0; i < n; i += kWriteChunk) {
      const size_t m = std::min(kWriteChunk, n - i);
      buf.resize(m * dtype_size(t.dtype));
      convert_from_f32(t.dtype, t.data + i, buf.data(), m);
      out.write(buf.data(), buf.size());
    }
  }
  out.commit();
}

void write_file_atomic(const std::string& path, const std::string& contents) {
  AtomicFile out(path);
  out.write(contents.data(), contents.size());
  out.commit();
}

}  // namespace r1
