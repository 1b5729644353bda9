// Metrics: JSONL lines and TensorBoard event files, the latter decoded here by an independent minimal
// TFRecord + protobuf reader that checks every CRC.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "train/metrics.h"
#include "train/run_dir.h"
#include "train/tensorboard.h"

using namespace r1;
namespace fs = std::filesystem;

namespace {

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("r1_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// ---- an independent reader of what TensorBoard reads ----

struct Scalar {
  std::string tag;
  float value;
};
struct Event {
  double wall_time = 0;
  int64_t step = 0;
  std::string file_version;
  std::vector<Scalar> scalars;
};

struct Reader {
  const std::string& b;
  size_t pos = 0;
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      const uint8_t byte = uint8_t(b.at(pos++));
      v |= uint64_t(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return v;
    }
  }
  template <typename T>
  T fixed() {
    T v;
    std::memcpy(&v, b.data() + pos, sizeof v);
    pos += sizeof v;
    return v;
  }
  std::string bytes() {
    const size_t n = varint();
    std::string s = b.substr(pos, n);
    pos += n;
    return s;
  }
};

Scalar decode_value(const std::string& data) {
  Reader r{data};
  Scalar s{};
  while (r.pos < data.size()) {
    const uint64_t key = r.varint();
    if (key == (1 << 3 | 2)) s.tag = r.bytes();
    else if (key == (2 << 3 | 5)) s.value = r.fixed<float>();
    else ADD_FAILURE() << "unexpected Value field " << key;
  }
  return s;
}

Event decode_event(const std::string& data) {
  Reader r{data};
  Event e;
  while (r.pos < data.size()) {
    const uint64_t key = r.varint();
    if (key == (1 << 3 | 1)) e.wall_time = r.fixed<double>();
    else if (key == (2 << 3 | 0)) e.step = int64_t(r.varint());
    else if (key == (3 << 3 | 2)) e.file_version = r.bytes();
    else if (key == (5 << 3 | 2)) {
      const std::string summary = r.bytes();
      Reader s{summary};
      while (s.pos < summary.size()) {
        EXPECT_EQ(s.varint(), uint64_t(1 << 3 | 2));  // Summary.value
        e.scalars.push_back(decode_value(s.bytes()));
      }
    } else {
      ADD_FAILURE() << "unexpected Event field " << key;
      break;
    }
  }
  return e;
}

// Splits a TFRecord file, failing the test on any bad CRC.
std::vector<Event> read_events(const fs::path& path) {
  const std::string file = read_file(path);
  std::vector<Event> events;
  size_t pos = 0;
  while (pos < file.size()) {
    EXPECT_LE(pos + 12, file.size());
    uint64_t len;
    uint32_t len_crc, data_crc;
    std::memcpy(&len, file.data() + pos, 8);
    std::memcpy(&len_crc, file.data() + pos + 8, 4);
    EXPECT_EQ(len_crc, mask_crc32c(crc32c(file.data() + pos, 8))) << "length CRC at " << pos;
    const std::string data = file.substr(pos + 12, len);
    std::memcpy(&data_crc, file.data() + pos + 12 + len, 4);
    EXPECT_EQ(data_crc, mask_crc32c(crc32c(data.data(), data.size()))) << "data CRC at " << pos;
    events.push_back(decode_event(data));
    pos += 12 + len + 4;
  }
  EXPECT_EQ(pos, file.size());
  return events;
}

}  // namespace

TEST(Crc32c, KnownAnswers) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);  // the standard check value of CRC-32C
  EXPECT_EQ(crc32c("", 0), 0u);
  const std::string zeros(32, '\0');
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);  // RFC 3720 B.4: 32 bytes of zeros
  const std::string ones(32, '\xff');
  EXPECT_EQ(crc32c(ones.data(), ones.size()), 0x62A8AB43u);  // RFC 3720 B.4: 32 bytes of 0xff
  // Continuing a CRC over a second piece equals the CRC of the whole.
  EXPECT_EQ(crc32c("6789", 4, crc32c("12345", 5)), 0xE3069283u);
}

TEST(TensorBoard, MaskRotatesAndOffsets) {
  EXPECT_EQ(mask_crc32c(0), 0xa282ead8u);
  EXPECT_EQ(mask_crc32c(0x8000u), 1u + 0xa282ead8u);  // bit 15 rotates to bit 0
}

TEST(TensorBoard, EventFileDecodesToTheLoggedScalars) {
  const fs::path dir = fresh_dir("tb");
  fs::path event_path;
  {
    MetricsWriter w(dir);
    event_path = w.event_path();
    w.log(1, {{"reward/mean", 0.25}, {"loss", 1.5}});
    w.log(2, {{"reward/mean", 0.5}, {"loss", 1.25}});
    w.log(300, {{"reward/mean", 0.75}, {"loss", -3.0e-7}});
  }
  EXPECT_THAT(event_path.filename().string(), ::testing::StartsWith("events.out.tfevents."));
  const auto events = read_events(event_path);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].file_version, "brain.Event:2");
  EXPECT_GT(events[0].wall_time, 1.6e9);  // unix seconds
  const int64_t steps[] = {1, 2, 300};
  const float reward[] = {0.25f, 0.5f, 0.75f}, loss[] = {1.5f, 1.25f, -3.0e-7f};
  for (int i = 0; i < 3; i++) {
    const Event& e = events[i + 1];
    EXPECT_EQ(e.step, steps[i]);
    ASSERT_EQ(e.scalars.size(), 2u);
    EXPECT_EQ(e.scalars[0].tag, "loss");  // map order
    EXPECT_EQ(e.scalars[0].value, loss[i]);
    EXPECT_EQ(e.scalars[1].tag, "reward/mean");
    EXPECT_EQ(e.scalars[1].value, reward[i]);
    EXPECT_GE(e.wall_time, events[0].wall_time - 1);
  }
  fs::remove_all(dir);
}

TEST(TensorBoard, FrameLayoutIsLengthCrcDataCrc) {
  const std::string frame = tfrecord_frame("abc");
  ASSERT_EQ(frame.size(), 8u + 4 + 3 + 4);
  EXPECT_EQ(frame.substr(0, 8), std::string("\x03\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(frame.substr(12, 3), "abc");
}

TEST(Metrics, JsonlRoundTripsIncludingNonFiniteAsNaN) {
  const fs::path dir = fresh_dir("jsonl");
  {
    MetricsWriter w(dir, MetricsOptions{.tensorboard = false, .resume_from_step = std::nullopt});
    EXPECT_TRUE(w.event_path().empty());
    w.log(1, {{"acc", 0.1}, {"kl", 1e-9}});
    w.log(2, {{"acc", 0.2}, {"kl", std::nan("")}});
    // The line is on disk as soon as log() returns (flushed per step), before the writer closes.
    EXPECT_EQ(read_metrics(w.jsonl_path()).size(), 2u);
    EXPECT_THROW(w.log(3, {{"step", 1}}), Error);  // reserved name
  }
  const auto records = read_metrics(dir / "metrics.jsonl");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].step, 1);
  EXPECT_EQ(records[0].values.at("acc"), 0.1);
  EXPECT_EQ(records[0].values.at("kl"), 1e-9);
  EXPECT_TRUE(std::isnan(records[1].values.at("kl")));
  EXPECT_GT(records[1].time, 1.6e9);
  fs::remove_all(dir);
}

TEST(Metrics, ReaderSkipsACutLastLineButNamesABadMiddleLine) {
  const fs::path dir = fresh_dir("reader");
  const fs::path path = dir / "metrics.jsonl";
  write_file_atomic(path, "{\"step\":1,\"a\":1}\n{\"step\":2,\"a\":2}\n{\"step\":3,\"a");
  EXPECT_EQ(read_metrics(path).size(), 2u);  // a kill mid-write leaves an unterminated line
  write_file_atomic(path, "{\"step\":1,\"a\":1}\nnot json\n{\"step\":3}\n");
  try {
    read_metrics(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr(path.string() + ":2:"));
  }
  write_file_atomic(path, "{\"a\":1}\n");
  EXPECT_THROW(read_metrics(path), Error);  // no step
  fs::remove_all(dir);
}

TEST(Metrics, ResumeDropsStepsAfterTheCheckpointAndFreshStartRefusesOldMetrics) {
  const fs::path dir = fresh_dir("resume");
  {
    MetricsWriter w(dir, MetricsOptions{.tensorboard = false, .resume_from_step = std::nullopt});
    for (int s = 1; s <= 7; s++) w.log(s, {{"x", double(s)}});
  }
  EXPECT_THROW(MetricsWriter(dir, MetricsOptions{.tensorboard = false, .resume_from_step = std::nullopt}), Error);  // would mix two runs' metrics
  {
    MetricsWriter w(dir, MetricsOptions{.tensorboard = false, .resume_from_step = 5});  // killed at 7, checkpoint at 5
    w.log(6, {{"x", 60.0}});
  }
  const auto records = read_metrics(dir / "metrics.jsonl");
  ASSERT_EQ(records.size(), 6u);
  for (int i = 0; i < 5; i++) EXPECT_EQ(records[i].step, i + 1);
  EXPECT_EQ(records[5].step, 6);
  EXPECT_EQ(records[5].values.at("x"), 60.0);
  fs::remove_all(dir);
}
