// TensorBoard event files written by hand, so `tensorboard --logdir runs` shows our curves without any
// TensorFlow or protobuf dependency.
// An event file is a sequence of TFRecords: uint64 length, masked CRC32C of the length bytes, the data,
// masked CRC32C of the data (all little-endian). Each record's data is a serialized tensorflow.Event
// protobuf; we encode the few fields we need by hand:
//   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//   Summary { repeated Value value = 1; }   Value { string tag = 1; float simple_value = 2; }
// The first record carries file_version "brain.Event:2", as TensorFlow's own writer does.
#pragma once
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace r1 {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78). Passing a previous result as `crc` continues it
// over more bytes: crc32c(b, nb, crc32c(a, na)) == crc32c(ab, na + nb).
uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);
// TFRecord's masking: rotate right by 15 and add 0xa282ead8, so CRCs of CRCs stay well distributed.
uint32_t mask_crc32c(uint32_t crc);

// One TFRecord frame around `data`.
std::string tfrecord_frame(std::string_view data);

// Serialized Event protos.
std::string encode_file_version_event(double wall_time);
std::string encode_scalars_event(double wall_time, int64_t step,
                                 const std::vector<std::pair<std::string, float>>& scalars);

// Appends scalar events to runs/NAME/events.out.tfevents.<unix time>.<host>.<pid>, flushed after each step
// so a running job's curves are visible live.
class TensorBoardWriter {
 public:
  explicit TensorBoardWriter(const std::filesystem::path& dir);
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  void add_scalars(int64_t step, const std::vector<std::pair<std::string, float>>& scalars, double wall_time);
  const std::filesystem::path& path() const { return path_; }

 private:
  void write_record(const std::string& event);
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
};

}  // namespace r1
