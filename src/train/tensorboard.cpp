#include "train/tensorboard.h"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "core/error.h"

namespace r1 {
namespace {

// ---- CRC-32C ----

std::array<uint32_t, 256> make_crc32c_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}

// ---- protobuf wire format: the three encodings an Event needs ----

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += char(uint8_t(v) | 0x80);
    v >>= 7;
  }
  out += char(uint8_t(v));
}

void put_tag(std::string& out, uint32_t field, WireType type) { put_varint(out, (uint64_t(field) << 3) | type); }

template <typename T>
void put_little_endian(std::string& out, T value) {
  uint8_t bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));  // x86 and ARM (as run here) are little-endian, as the format is
  out.append(reinterpret_cast<const char*>(bytes), sizeof(T));
}

void put_bytes(std::string& out, uint32_t field, std::string_view bytes) {
  put_tag(out, field, kLengthDelimited);
  put_varint(out, bytes.size());
  out.append(bytes);
}

std::string event_header(double wall_time) {
  std::string e;
  put_tag(e, 1, kFixed64);  // Event.wall_time
  put_little_endian(e, wall_time);
  return e;
}

std::string hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "localhost";
  return buf;
}

}  // namespace

uint32_t crc32c(const void* data, size_t n, uint32_t crc) {
  static const std::array<uint32_t, 256> table = make_crc32c_table();
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t c = ~crc;
  for (size_t i = 0; i < n; i++) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return ~c;
}

uint32_t mask_crc32c(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

std::string tfrecord_frame(std::string_view data) {
  std::string out;
  std::string length;
  put_little_endian(length, uint64_t(data.size()));
  out += length;
  put_little_endian(out, mask_crc32c(crc32c(length.data(), length.size())));
  out.append(data);
  put_little_endian(out, mask_crc32c(crc32c(data.data(), data.size())));
  return out;
}

std::string encode_file_version_event(double wall_time) {
  std::string e = event_header(wall_time);
  put_bytes(e, 3, "brain.Event:2");  // Event.file_version
  return e;
}

std::string encode_scalars_event(double wall_time, int64_t step,
                                 const std::vector<std::pair<std::string, float>>& scalars) {
  std::string summary;
  for (const auto& [tag, value] : scalars) {
    std::string v;
    put_bytes(v, 1, tag);  // Summary.Value.tag
    put_tag(v, 2, kFixed32);  // Summary.Value.simple_value
    put_little_endian(v, value);
    put_bytes(summary, 1, v);  // Summary.value
  }
  std::string e = event_header(wall_time);
  put_tag(e, 2, kVarint);  // Event.step (int64: negative steps would be 10-byte varints; ours are >= 0)
  put_varint(e, uint64_t(step));
  put_bytes(e, 5, summary);  // Event.summary
  return e;
}

TensorBoardWriter::TensorBoardWriter(const std::filesystem::path& dir) {
  const double now = double(std::time(nullptr));
  // The pid keeps two writers started in the same second (a quick resume) from sharing a file.
  path_ = dir / ("events.out.tfevents." + std::to_string(int64_t(now)) + "." + hostname() + "." +
                 std::to_string(::getpid()));
  file_ = std::fopen(path_.c_str(), "ab");
  if (!file_) fail_in_file(path_.string(), std::string("cannot create the event file: ") + std::strerror(errno));
  write_record(encode_file_version_event(now));
}

TensorBoardWriter::~TensorBoardWriter() {
  if (file_) std::fclose(file_);
}

void TensorBoardWriter::add_scalars(int64_t step, const std::vector<std::pair<std::string, float>>& scalars,
                                    double wall_time) {
  write_record(encode_scalars_event(wall_time, step, scalars));
}

void TensorBoardWriter::write_record(const std::string& event) {
  const std::string frame = tfrecord_frame(event);
  if (std::fwrite(frame.data(), 1, frame.size(), file_) != frame.size() || std::fflush(file_) != 0)
    fail_in_file(path_.string(), std::string("cannot write the event file: ") + std::strerror(errno));
}

}  // namespace r1
