#include "data/jsonl.h"

#include "core/error.h"

namespace r1::data {

JsonlReader::JsonlReader(std::string path) : path_(std::move(path)), in_(path_, std::ios::binary) {
  if (!in_) fail_in_file(path_, "cannot open for reading");
}

bool JsonlReader::next(nlohmann::json& out) {
  std::string text;
  while (std::getline(in_, text)) {
    ++line_;
    if (!text.empty() && text.back() == '\r') text.pop_back();  // files written on Windows
    if (text.find_first_not_of(" \t") == std::string::npos) continue;
    try {
      out = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      // nlohmann's message starts with "[json.exception.parse_error.101] parse error at line 1, column N":
      // keep only the useful tail so the location the user sees is ours.
      std::string what = e.what();
      const auto colon = what.find("column");
      fail_at_line(path_, line_, "invalid JSON (" + (colon == std::string::npos ? what : what.substr(colon)) + ")");
    }
    if (!out.is_object()) fail_at_line(path_, line_, std::string("expected a JSON object, got ") + out.type_name());
    return true;
  }
  if (in_.bad()) fail_in_file(path_, "read error after line " + std::to_string(line_));
  return false;
}

void for_each_jsonl(const std::string& path, const std::function<void(const nlohmann::json&, long)>& fn) {
  JsonlReader reader(path);
  nlohmann::json record;
  while (reader.next(record)) fn(record, reader.line());
}

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> records;
  for_each_jsonl(path, [&](const nlohmann::json& r, long) { records.push_back(r); });
  return records;
}

void write_jsonl(const std::string& path, const std::vector<nlohmann::json>& records) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail_in_file(path, "cannot open for writing");
  for (const auto& r : records) out << r.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  if (!out) fail_in_file(path, "write failed");
}

}  // namespace r1::data
