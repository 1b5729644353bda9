// Helpers for the model I/O tests: scratch directories, a model's parameters in host memory, hand-built
// (malformed) safetensors files, and an assertion that an r1::Error names every expected culprit.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/param_layout.h"

namespace r1::test {

namespace fs = std::filesystem;

// A fresh directory, removed again when the test ends.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("r1_model_" + std::string(info ? info->name() : "x") + "_" + tag + "_" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }
  std::string str(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

// A config, its layout and initialised parameters, with every 7th value moved (norms and biases included) so that
// a misplaced or dropped tensor cannot go unnoticed.
struct HostModel {
  ModelConfig config;
  ParamLayout layout;
  std::vector<float> params;
  explicit HostModel(const ModelConfig& c, uint64_t seed = 5) : config(c), layout(c), params(size_t(layout.total())) {
    init_params(config, layout, params.data(), seed);
    for (size_t i = 0; i < params.size(); i += 7) params[i] += 0.25f * float(i % 13);
  }
};

inline std::string read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

inline void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary);
  f << bytes;
}

// A raw safetensors file: 8-byte little-endian length (the header's, unless `declared_len` overrides it),
// header text, data bytes.
inline std::string write_raw_safetensors(const fs::path& p, const std::string& header, const std::string& data,
                                         int64_t declared_len = -1) {
  const uint64_t n = declared_len >= 0 ? uint64_t(declared_len) : header.size();
  std::string bytes;
  for (int i = 0; i < 8; i++) bytes.push_back(char(n >> (8 * i)));
  write_bytes(p, bytes + header + data);
  return p.string();
}

// Runs fn, which must throw r1::Error whose message contains every fragment; returns the message.
inline std::string expect_error(const std::function<void()>& fn, const std::vector<std::string>& fragments) {
  try {
    fn();
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "message: " << msg << "\nlacks: " << f;
    return msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-r1::Error: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error thrown (expected one naming " << (fragments.empty() ? "" : fragments[0]) << ")";
  return "";
}

}  // namespace r1::test
