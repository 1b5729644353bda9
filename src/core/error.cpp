#include "core/error.h"

namespace r1 {

void fail_in_file(const std::string& file, const std::string& message) { throw Error(file + ": " + message); }

void fail_in_tensor(const std::string& file, const std::string& tensor, const std::string& message) {
  throw Error(file + ": tensor '" + tensor + "': " + message);
}

void fail_in_field(const std::string& file, const std::string& key, const std::string& message) {
  throw Error(file + ": field '" + key + "': " + message);
}

void fail_at_line(const std::string& file, long line, const std::string& message) {
  throw Error(file + ":" + std::to_string(line) + ": " + message);
}

}  // namespace r1
