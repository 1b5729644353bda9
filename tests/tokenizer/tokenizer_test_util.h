// Shared helpers for the tokenizer tests: where the real tokenizer files live, loading each of them once
// per test binary (the 7 MB / 17 MB files), and reading JSON / JSONL vector files.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace r1::test {

inline std::string shared_tokenizers_dir() { return std::string(R1_SHARED_DATA_DIR) + "/tokenizers"; }
inline std::string shared_path(const std::string& rel) { return shared_tokenizers_dir() + "/" + rel; }
inline bool have_shared_tokenizers() {
  return std::filesystem::exists(shared_path("qwen2.5/tokenizer.json")) &&
         std::filesystem::exists(shared_path("llama-3.2/tokenizer.json"));
}

// Skips the current test when the shared data folder is not mounted (e.g. a bare checkout).
#define R1_REQUIRE_SHARED_TOKENIZERS()                                                   \
  do {                                                                                   \
    if (!::r1::test::have_shared_tokenizers()) GTEST_SKIP() << "shared tokenizers absent"; \
  } while (0)

// Each real tokenizer, loaded from its directory (tokenizer_config.json included) once per process.
inline const Tokenizer& qwen25() {
  static const Tokenizer t = Tokenizer::from_dir(shared_path("qwen2.5"));
  return t;
}
inline const Tokenizer& qwen3() {
  static const Tokenizer t = Tokenizer::from_dir(shared_path("qwen3"));
  return t;
}
inline const Tokenizer& llama32() {
  static const Tokenizer t = Tokenizer::from_dir(shared_path("llama-3.2"));
  return t;
}
// R1-Distill-Qwen: qwen2.5/tokenizer.json composed with the overlay (from_dir does it).
inline const Tokenizer& r1_distill() {
  static const Tokenizer t = Tokenizer::from_dir(shared_path("deepseek-r1-distill-qwen"));
  return t;
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline nlohmann::json read_json(const std::string& path) { return nlohmann::json::parse(read_text(path)); }

inline std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> rows;
  std::istringstream in(read_text(path));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

}  // namespace r1::test
