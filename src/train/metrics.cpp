#include "train/metrics.h"

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "train/run_dir.h"
#include "train/tensorboard.h"

namespace fs = std::filesystem;

namespace r1 {
namespace {

double unix_time() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

// Parses one line; nullopt when it is not a JSON object with an integer "step".
std::optional<MetricsRecord> parse_record(const std::string& line, std::string* why) {
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    *why = "not a JSON object";
    return std::nullopt;
  }
  if (!j.contains("step") || !j["step"].is_number_integer()) {
    *why = "missing integer field 'step'";
    return std::nullopt;
  }
  MetricsRecord r;
  r.step = j["step"].get<int64_t>();
  if (j.contains("time") && j["time"].is_number()) r.time = j["time"].get<double>();
  for (const auto& [key, value] : j.items()) {
    if (key == "step" || key == "time") continue;
    if (value.is_number())
      r.values[key] = value.get<double>();
    else if (value.is_null())
      r.values[key] = std::nan("");
  }
  return r;
}

}  // namespace

std::vector<MetricsRecord> read_metrics(const fs::path& jsonl_path) {
  const std::string text = read_file(jsonl_path);
  std::vector<MetricsRecord> out;
  size_t start = 0;
  long line_no = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    const bool terminated = end != std::string::npos;
    const std::string line = text.substr(start, terminated ? end - start : std::string::npos);
    start = terminated ? end + 1 : text.size();
    line_no++;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string why;
    auto record = parse_record(line, &why);
    if (record)
      out.push_back(std::move(*record));
    else if (terminated)  // an unterminated last line is a write cut short by a kill: skip it
      fail_at_line(jsonl_path.string(), line_no, why);
  }
  return out;
}

MetricsWriter::MetricsWriter(const fs::path& run_dir, MetricsOptions options)
    : jsonl_path_(run_dir / kFileName) {
  if (options.resume_from_step && fs::exists(jsonl_path_)) {
    // Keep the steps up to the checkpoint; the resumed run writes the rest again, so the file ends up as
    // an uninterrupted run's would.
    std::string kept;
    for (const MetricsRecord& r : read_metrics(jsonl_path_)) {
      if (r.step > *options.resume_from_step) continue;
      nlohmann::json j = {{"step", r.step}, {"time", r.time}};
      for (const auto& [k, v] : r.values) j[k] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
      kept += j.dump() + "\n";
    }
    write_file_atomic(jsonl_path_, kept);
  } else if (!options.resume_from_step && fs::exists(jsonl_path_) && fs::file_size(jsonl_path_) > 0) {
    fail_in_file(jsonl_path_.string(), "already has metrics; resume the run instead of starting it again");
  }
  jsonl_ = std::fopen(jsonl_path_.c_str(), "ab");
  if (!jsonl_) fail_in_file(jsonl_path_.string(), std::string("cannot open for appending: ") + std::strerror(errno));
  if (options.tensorboard) tensorboard_ = std::make_unique<TensorBoardWriter>(run_dir);
}

MetricsWriter::~MetricsWriter() {
  if (jsonl_) std::fclose(jsonl_);
}

fs::path MetricsWriter::event_path() const { return tensorboard_ ? tensorboard_->path() : fs::path(); }

void MetricsWriter::log(int64_t step, const std::map<std::string, double>& values) {
  R1_CHECK(!values.count("step") && !values.count("time"), "'step' and 'time' are reserved metric names");
  const double now = unix_time();
  // ordered_json keeps step and time first, which makes the file pleasant to read with head/tail.
  nlohmann::ordered_json j = {{"step", step}, {"time", now}};
  std::vector<std::pair<std::string, float>> scalars;
  scalars.reserve(values.size());
  for (const auto& [name, v] : values) {
    j[name] = std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr);
    scalars.emplace_back(name, float(v));
  }
  const std::string line = j.dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), jsonl_) != line.size() || std::fflush(jsonl_) != 0)
    fail_in_file(jsonl_path_.string(), std::string("cannot append metrics: ") + std::strerror(errno));
  if (tensorboard_) tensorboard_->add_scalars(step, scalars, now);
}

}  // namespace r1
