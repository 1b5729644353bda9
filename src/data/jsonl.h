// JSON Lines reading and writing. Every record must be one JSON object on one line; blank lines are skipped.
// A bad line is reported as "<file>:<line>: ..." so the user can open the file at the fault.
#pragma once
#include <functional>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace r1::data {

// Streams a JSONL file one object at a time, so large files need not fit in memory.
class JsonlReader {
 public:
  explicit JsonlReader(std::string path);
  // Reads the next object into `out`; false at the end of the file. Throws r1::Error naming path:line for
  // invalid JSON or a value that is not an object.
  bool next(nlohmann::json& out);
  long line() const { return line_; }  // 1-based line of the object last returned
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ifstream in_;
  long line_ = 0;
};

// Calls fn(object, line) for every object of the file, in order.
void for_each_jsonl(const std::string& path, const std::function<void(const nlohmann::json&, long)>& fn);

// All objects of the file.
std::vector<nlohmann::json> read_jsonl(const std::string& path);

// Writes one compact object per line (UTF-8 kept as is), replacing the file.
void write_jsonl(const std::string& path, const std::vector<nlohmann::json>& records);

}  // namespace r1::data
