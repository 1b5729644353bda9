// BPE training with incremental pair counts: each merge touches only the words that contain the pair
// (an index pair -> words), and a max-heap with lazy re-validation picks the next pair.
#include "tokenizer/bpe_trainer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <queue>
#include <unordered_map>

#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/regex_split.h"
#include "tokenizer/unicode_props.h"

namespace r1 {

const char* const kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

namespace {

uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

struct Word {
  std::vector<int32_t> symbols;
  int64_t count = 0;
};

}  // namespace

BpeTrainingResult train_bpe(const std::vector<std::string>& texts, const BpeTrainerOptions& options) {
  const int32_t n_special = static_cast<int32_t>(options.special_tokens.size());
  if (options.vocab_size < 256 + n_special)
    throw Error("BPE training: vocab_size " + std::to_string(options.vocab_size) + " is smaller than 256 byte tokens + " +
                std::to_string(n_special) + " special tokens");
  const int32_t target_merges = options.vocab_size - 256 - n_special;

  // 1. Word counts (pre-tokens as raw bytes), special tokens cut out of the text first.
  tok::RegexSplit split{std::make_shared<tok::Regex>(options.pattern, false), tok::SplitBehavior::kIsolated, false};
  std::unordered_map<std::string, int64_t> word_counts;
  std::vector<tok::Span> spans;
  auto count_words = [&](std::string_view text) {
    spans.clear();
    split.split(text, spans);
    for (const tok::Span& s : spans) ++word_counts[std::string(text.substr(s.begin, s.end - s.begin))];
  };
  for (const std::string& raw : texts) {
    const std::string text = options.nfc ? tok::normalize(raw, tok::NormalForm::kNFC) : raw;
    size_t pos = 0;
    while (pos < text.size()) {
      size_t next = std::string::npos, len = 0;
      for (const std::string& sp : options.special_tokens) {
        const size_t at = text.find(sp, pos);
        if (at < next) next = at, len = sp.size();
      }
      if (next == std::string::npos) next = text.size();
      count_words(std::string_view(text).substr(pos, next - pos));
      pos = next + len;
    }
  }

  // 2. Words as symbol ids (0..255 = bytes), with the pair counts and the pair -> words index.
  std::vector<Word> words;
  words.reserve(word_counts.size());
  std::vector<std::pair<std::string, int64_t>> sorted(word_counts.begin(), word_counts.end());
  std::sort(sorted.begin(), sorted.end());  // deterministic word order
  for (const auto& [w, c] : sorted) {
    Word word;
    word.count = c;
    for (unsigned char b : w) word.symbols.push_back(b);
    words.push_back(std::move(word));
  }
  std::unordered_map<uint64_t, int64_t> pair_counts;
  std::unordered_map<uint64_t, std::vector<int32_t>> where;
  for (int32_t wi = 0; wi < static_cast<int32_t>(words.size()); ++wi) {
    const Word& w = words[wi];
    for (size_t i = 0; i + 1 < w.symbols.size(); ++i) {
      const uint64_t k = pair_key(w.symbols[i], w.symbols[i + 1]);
      pair_counts[k] += w.count;
      auto& list = where[k];
      if (list.empty() || list.back() != wi) list.push_back(wi);
    }
  }

  // 3. Merge loop. Heap of (count, pair); an entry whose count is stale is re-pushed with the current one.
  struct Entry {
    int64_t count;
    uint64_t pair;
    bool operator<(const Entry& o) const { return count != o.count ? count < o.count : pair > o.pair; }
  };
  std::priority_queue<Entry> heap;
  for (const auto& [k, c] : pair_counts) heap.push({c, k});
  std::vector<std::string> token_bytes(256);
  for (int b = 0; b < 256; ++b) token_bytes[b] = std::string(1, static_cast<char>(b));
  std::vector<std::pair<int32_t, int32_t>> merges;
  std::vector<int32_t> rebuilt;
  while (static_cast<int32_t>(merges.size()) < target_merges && !heap.empty()) {
    const Entry top = heap.top();
    heap.pop();
    auto it = pair_counts.find(top.pair);
    const int64_t current = it == pair_counts.end() ? 0 : it->second;
    if (current != top.count) {
      if (current > 0) heap.push({current, top.pair});
      continue;
    }
    if (current < options.min_frequency) break;
    const int32_t a = static_cast<int32_t>(top.pair >> 32), b = static_cast<int32_t>(top.pair & 0xFFFFFFFF);
    const int32_t merged = static_cast<int32_t>(token_bytes.size());
    token_bytes.push_back(token_bytes[a] + token_bytes[b]);
    merges.emplace_back(a, b);
    std::vector<int32_t> affected = std::move(where[top.pair]);
    where.erase(top.pair);
    std::sort(affected.begin(), affected.end());
    affected.erase(std::unique(affected.begin(), affected.end()), affected.end());
    std::unordered_map<uint64_t, int64_t> delta;
    for (int32_t wi : affected) {
      Word& w = words[wi];
      rebuilt.clear();
      bool changed = false;
      for (size_t i = 0; i < w.symbols.size(); ++i) {
        if (i + 1 < w.symbols.size() && w.symbols[i] == a && w.symbols[i + 1] == b) {
          rebuilt.push_back(merged);
          ++i;
          changed = true;
        } else {
          rebuilt.push_back(w.symbols[i]);
        }
      }
      if (!changed) continue;
      for (size_t i = 0; i + 1 < w.symbols.size(); ++i) delta[pair_key(w.symbols[i], w.symbols[i + 1])] -= w.count;
      for (size_t i = 0; i + 1 < rebuilt.size(); ++i) {
        const uint64_t k = pair_key(rebuilt[i], rebuilt[i + 1]);
        delta[k] += w.count;
        if (rebuilt[i] == merged || rebuilt[i + 1] == merged) {
          auto& list = where[k];
          if (list.empty() || list.back() != wi) list.push_back(wi);
        }
      }
      w.symbols.swap(rebuilt);
    }
    for (const auto& [k, d] : delta) {
      if (d == 0) continue;
      int64_t& c = pair_counts[k];
      c += d;
      if (c <= 0) pair_counts.erase(k);
      else if (d > 0) heap.push({c, k});
    }
  }

  // 4. tokenizer.json, keys in the order HF writes them.
  using ojson = nlohmann::ordered_json;
  ojson vocab = ojson::object();
  for (size_t id = 0; id < token_bytes.size(); ++id) vocab[tok::bytes_to_byte_chars(token_bytes[id])] = id;
  ojson merge_list = ojson::array();
  for (const auto& [a, b] : merges)
    merge_list.push_back(ojson::array({tok::bytes_to_byte_chars(token_bytes[a]), tok::bytes_to_byte_chars(token_bytes[b])}));
  ojson added = ojson::array();
  for (int32_t s = 0; s < n_special; ++s)
    added.push_back(ojson{{"id", static_cast<int32_t>(token_bytes.size()) + s},
                          {"content", options.special_tokens[s]},
                          {"single_word", false},
                          {"lstrip", false},
                          {"rstrip", false},
                          {"normalized", false},
                          {"special", true}});
  const ojson byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}};
  ojson root;
  root["version"] = "1.0";
  root["truncation"] = nullptr;
  root["padding"] = nullptr;
  root["added_tokens"] = added;
  root["normalizer"] = options.nfc ? ojson{{"type", "NFC"}} : ojson(nullptr);
  root["pre_tokenizer"] = {{"type", "Sequence"},
                           {"pretokenizers", ojson::array({ojson{{"type", "Split"},
                                                                 {"pattern", {{"Regex", options.pattern}}},
                                                                 {"behavior", "Isolated"},
                                                                 {"invert", false}},
                                                           byte_level})}};
  root["post_processor"] = byte_level;
  root["decoder"] = byte_level;
  root["model"] = {{"type", "BPE"},
                   {"dropout", nullptr},
                   {"unk_token", nullptr},
                   {"continuing_subword_prefix", ""},
                   {"end_of_word_suffix", ""},
                   {"fuse_unk", false},
                   {"byte_fallback", false},
                   {"ignore_merges", false},
                   {"vocab", vocab},
                   {"merges", merge_list}};
  BpeTrainingResult result;
  result.tokenizer_json = root.dump(2, ' ', false);
  result.merges = static_cast<int32_t>(merges.size());
  result.vocab_size = static_cast<int32_t>(token_bytes.size()) + n_special;
  return result;
}

void write_trained_tokenizer(const BpeTrainingResult& result, const BpeTrainerOptions& options, const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail_in_file(dir, "cannot create directory: " + ec.message());
  const std::string tj = (fs::path(dir) / "tokenizer.json").string();
  std::ofstream(tj, std::ios::binary) << result.tokenizer_json;
  nlohmann::ordered_json cfg;
  cfg["tokenizer_class"] = "PreTrainedTokenizerFast";
  cfg["bos_token"] = nullptr;
  cfg["eos_token"] = options.special_tokens.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(options.special_tokens[0]);
  cfg["pad_token"] = cfg["eos_token"];
  cfg["clean_up_tokenization_spaces"] = false;
  cfg["model_max_length"] = 1 << 20;
  const std::string cj = (fs::path(dir) / "tokenizer_config.json").string();
  std::ofstream out(cj, std::ios::binary);
  out << cfg.dump(2) << "\n";
  if (!out) fail_in_file(cj, "cannot write file");
}

}  // namespace r1
