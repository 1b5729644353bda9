// A file in the system temp directory holding given text, removed when the test ends.
#pragma once
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

namespace r1::data::testing {

class TempFile {
 public:
  TempFile(const std::string& name, const std::string& text)
      : path_(std::filesystem::temp_directory_path() / ("r1_data_" + std::to_string(::getpid()) + "_" + name)) {
    std::ofstream(path_, std::ios::binary) << text;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace r1::data::testing
