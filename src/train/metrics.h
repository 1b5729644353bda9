// Training metrics, written two ways at every step:
//  - runs/NAME/metrics.jsonl: one JSON object per step, {"step": 12, "time": <unix s>, "reward/mean": 0.5, ...},
//    flushed at once so `tail -f` and a resumed run see every finished step (NaN and inf are written as null);
//  - a TensorBoard event file beside it (see tensorboard.h), so `tensorboard --logdir runs` plots them.
// read_metrics() reads the JSONL back, for reports and for resuming.
#pragma once
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace r1 {

class TensorBoardWriter;

struct MetricsRecord {
  int64_t step = 0;
  double time = 0;                        // unix seconds when the step was logged
  std::map<std::string, double> values;   // null in the file reads back as NaN
};

struct MetricsOptions {
  bool tensorboard = true;
  // Resuming from the checkpoint of this step: records after it (steps the killed run did past its last
  // checkpoint, which the resumed run will redo) are dropped from metrics.jsonl before appending.
  std::optional<int64_t> resume_from_step;
};

class MetricsWriter {
 public:
  static constexpr const char* kFileName = "metrics.jsonl";

  explicit MetricsWriter(const std::filesystem::path& run_dir, MetricsOptions options = {});
  ~MetricsWriter();
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;

  // Appends one record; "step" and "time" are reserved names. Throws r1::Error naming the file on I/O errors.
  void log(int64_t step, const std::map<std::string, double>& values);

  const std::filesystem::path& jsonl_path() const { return jsonl_path_; }
  std::filesystem::path event_path() const;  // empty without TensorBoard

 private:
  std::filesystem::path jsonl_path_;
  std::FILE* jsonl_ = nullptr;
  std::unique_ptr<TensorBoardWriter> tensorboard_;
};

// Reads metrics.jsonl. A malformed line throws r1::Error with "file:line", except an unterminated last
// line, which is what a kill mid-write leaves and is skipped. Non-numeric fields are ignored.
std::vector<MetricsRecord> read_metrics(const std::filesystem::path& jsonl_path);

}  // namespace r1
