// Encode throughput of r1::Tokenizer, one thread, on a few MB of mixed text (gsm8k train, math500,
// humaneval: each JSONL line's string fields joined by "\n", in file order, one document per line; the
// same documents hf_encode_bench.py builds for HF `tokenizers`). Prints load time and MB/s for a cold
// pass (empty word cache) and a warm pass.
//
// Not part of the CMake build (bench/ is built by hand):
//   g++ -O2 -std=c++20 -DPCRE2_CODE_UNIT_WIDTH=8 -Isrc bench/tokenizer/encode_bench.cpp \
//       src/tokenizer/*.cpp src/core/error.cpp -lpcre2-8 -lutf8proc -o encode_bench
//   ./encode_bench ../shared/data ../shared/data/tokenizers/qwen2.5 ../shared/data/tokenizers/llama-3.2
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace {

std::vector<std::string> load_documents(const std::string& data_dir) {
  std::vector<std::string> docs;
  for (const char* rel : {"gsm8k/train.jsonl", "math500/test.jsonl", "humaneval/HumanEval.jsonl"}) {
    std::ifstream in(data_dir + "/" + rel);
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      const auto row = nlohmann::ordered_json::parse(line);
      std::string doc;
      for (const auto& [key, value] : row.items())
        if (value.is_string()) doc += (doc.empty() ? "" : "\n") + value.get<std::string>();
      docs.push_back(std::move(doc));
    }
  }
  return docs;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s DATA_DIR TOKENIZER_DIR...\n", argv[0]);
    return 2;
  }
  const auto docs = load_documents(argv[1]);
  size_t bytes = 0;
  for (const auto& d : docs) bytes += d.size();
  std::printf("%zu documents, %.2f MB\n", docs.size(), bytes / 1e6);
  std::printf("%-28s %9s %9s %11s %11s %9s\n", "tokenizer", "load_ms", "tokens", "cold_MB/s", "warm_MB/s", "checksum");
  for (int i = 2; i < argc; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    const r1::Tokenizer tok = r1::Tokenizer::from_dir(argv[i]);
    const double load = seconds_since(t0);
    double pass_s[2];
    size_t tokens = 0;
    uint64_t checksum = 0;
    std::vector<int32_t> ids;
    for (int pass = 0; pass < 2; ++pass) {
      tokens = 0;
      checksum = 0;
      t0 = std::chrono::steady_clock::now();
      for (const auto& d : docs) {
        ids.clear();
        tok.encode_into(d, {}, ids);
        tokens += ids.size();
        for (int32_t id : ids) checksum = checksum * 1000003 + static_cast<uint64_t>(id);
      }
      pass_s[pass] = seconds_since(t0);
    }
    std::string name = argv[i];
    while (!name.empty() && name.back() == '/') name.pop_back();
    name = name.substr(name.find_last_of('/') + 1);
    std::printf("%-28s %9.0f %9zu %11.2f %11.2f %9llx\n", name.c_str(), load * 1e3, tokens, bytes / 1e6 / pass_s[0],
                bytes / 1e6 / pass_s[1], static_cast<unsigned long long>(checksum & 0xFFFFFFFFull));
  }
  return 0;
}
