// r1::Error — every failure the user can cause names what is at fault: the file, the tensor, the config
// key or the JSONL line. Build messages with the context helpers so the wording stays uniform.
#pragma once
#include <stdexcept>
#include <string>

namespace r1 {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// "<file>: <message>"
[[noreturn]] void fail_in_file(const std::string& file, const std::string& message);
// "<file>: tensor '<name>': <message>"
[[noreturn]] void fail_in_tensor(const std::string& file, const std::string& tensor, const std::string& message);
// "<file>: field '<key>': <message>"  (key is a dotted path such as "rope_scaling.factor")
[[noreturn]] void fail_in_field(const std::string& file, const std::string& key, const std::string& message);
// "<file>:<line>: <message>"
[[noreturn]] void fail_at_line(const std::string& file, long line, const std::string& message);

}  // namespace r1

// Internal invariants (programming errors, not user input): names the condition and the source location.
#define R1_CHECK(cond, msg)                                                                                  \
  do {                                                                                                       \
    if (!(cond))                                                                                             \
      throw ::r1::Error(std::string("internal check failed: ") + #cond + " (" + (msg) + ") at " + __FILE__ + \
                        ":" + std::to_string(__LINE__));                                                     \
  } while (0)
