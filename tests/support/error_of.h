// The message of the r1::Error that f throws, or "" when it throws none: for tests that check what an error says
// (each test file wraps it around its own call).
#pragma once
#include <functional>
#include <string>

#include "core/error.h"

namespace r1::test {

inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace r1::test
