// BPE trainer: the tokenizer.json it writes loads through our loader, round-trips text, compresses the
// training text, keeps special tokens whole, and its merges applied by the heap BPE agree with a naive
// GPT-2-style reference loop.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <random>

#include "core/error.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

using namespace r1;
using nlohmann::json;

namespace {

// A small corpus: math word problems and code from shared/data when present, else generated text.
std::vector<std::string> corpus() {
  std::vector<std::string> texts;
  const std::string gsm = std::string(R1_SHARED_DATA_DIR) + "/gsm8k/test.jsonl";
  if (std::filesystem::exists(gsm)) {
    for (const json& row : test::read_jsonl(gsm)) {
      texts.push_back(row.value("question", "") + "\n" + row.value("answer", ""));
      if (texts.size() >= 400) break;
    }
  } else {
    std::mt19937 rng(7);
    const char* words[] = {"the", "number", "of", "apples", "is", "twice", "Janet", "sells", "eggs", "for", "$2", "each"};
    for (int d = 0; d < 400; ++d) {
      std::string t;
      for (int w = 0; w < 60; ++w) t += std::string(words[rng() % 12]) + (w % 9 == 8 ? ".\n" : " ");
      texts.push_back(t);
    }
  }
  texts.push_back("def add(a, b):\n    return a + b\n<|endoftext|>");
  return texts;
}

struct Trained {
  BpeTrainingResult result;
  Tokenizer tokenizer;
};

const Trained& trained() {
  static const Trained t = [] {
    BpeTrainerOptions options;
    options.vocab_size = 1000;
    BpeTrainingResult r = train_bpe(corpus(), options);
    return Trained{r, Tokenizer::from_json_text(r.tokenizer_json, "trained tokenizer.json")};
  }();
  return t;
}

// GPT-2's encoder.py loop: repeatedly merge every occurrence of the lowest-ranked adjacent pair.
std::vector<std::string> naive_bpe(const std::string& word, const std::map<std::pair<std::string, std::string>, int>& ranks) {
  std::vector<std::string> parts;
  for (char c : word) parts.emplace_back(1, c);
  while (parts.size() > 1) {
    int best = INT32_MAX;
    std::pair<std::string, std::string> best_pair;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      auto it = ranks.find({parts[i], parts[i + 1]});
      if (it != ranks.end() && it->second < best) best = it->second, best_pair = it->first;
    }
    if (best == INT32_MAX) break;
    std::vector<std::string> next;
    for (size_t i = 0; i < parts.size(); ++i) {
      if (i + 1 < parts.size() && parts[i] == best_pair.first && parts[i + 1] == best_pair.second) {
        next.push_back(parts[i] + parts[i + 1]);
        ++i;
      } else {
        next.push_back(parts[i]);
      }
    }
    parts.swap(next);
  }
  return parts;
}

}  // namespace

TEST(BpeTrainer, ReachesRequestedVocabSizeAndLoadsBack) {
  const Trained& t = trained();
  EXPECT_EQ(t.result.vocab_size, 1000);
  EXPECT_EQ(t.result.merges, 1000 - 256 - 3);
  EXPECT_EQ(t.tokenizer.vocab_size(), 1000);
  EXPECT_EQ(t.tokenizer.token_to_id("<|endoftext|>"), 997);
  EXPECT_TRUE(t.tokenizer.is_special(999));
  // The file is HF's format: merges as pairs, ByteLevel + Split pre-tokenizer, NFC.
  const json j = json::parse(t.result.tokenizer_json);
  EXPECT_EQ(j["model"]["type"], "BPE");
  EXPECT_TRUE(j["model"]["merges"][0].is_array());
  EXPECT_EQ(j["pre_tokenizer"]["pretokenizers"][1]["type"], "ByteLevel");
  EXPECT_EQ(j["normalizer"]["type"], "NFC");
}

TEST(BpeTrainer, RoundTripsTrainingAndUnseenText) {
  const Trained& t = trained();
  for (const std::string& text : corpus()) ASSERT_EQ(t.tokenizer.decode(t.tokenizer.encode(text)), text);
  for (const std::string text : {"Unseen: 中文かな 한국어 😀👍🏽 \t\n\n  x² = ∫ f(x) dx", "", " ", "<|im_start|>user\nhi<|im_end|>"})
    EXPECT_EQ(t.tokenizer.decode(t.tokenizer.encode(text)), text);
  EXPECT_EQ(t.tokenizer.encode("<|im_start|>x").front(), t.tokenizer.token_to_id("<|im_start|>"));
}

TEST(BpeTrainer, EncodingOfTrainingTextIsShorterThanBytes) {
  const Trained& t = trained();
  size_t bytes = 0, tokens = 0;
  for (const std::string& text : corpus()) {
    bytes += text.size();
    tokens += t.tokenizer.encode(text).size();
  }
  EXPECT_LT(tokens * 2, bytes);  // at least 2 bytes per token at vocab 1000
}

TEST(BpeTrainer, HeapBpeAgreesWithNaiveGpt2Loop) {
  const Trained& t = trained();
  const json j = json::parse(t.result.tokenizer_json);
  std::map<std::pair<std::string, std::string>, int> ranks;
  int r = 0;
  for (const json& m : j["model"]["merges"])
    ranks[{*tok::byte_chars_to_bytes(m[0].get<std::string>()), *tok::byte_chars_to_bytes(m[1].get<std::string>())}] = r++;
  // Random "words" over a small alphabet exercise overlapping pairs and long merge chains; no spaces or
  // digits so that each one is a single pre-token of the Qwen2 regex.
  std::mt19937 rng(123);
  const std::string alphabet = "aeinorst";
  for (int trial = 0; trial < 300; ++trial) {
    std::string word;
    const int len = 1 + rng() % 40;
    for (int k = 0; k < len; ++k) word += alphabet[rng() % alphabet.size()];
    std::vector<std::string> got;
    for (int32_t id : t.tokenizer.encode(word)) got.push_back(t.tokenizer.token_bytes(id));
    ASSERT_EQ(got, naive_bpe(word, ranks)) << word;
  }
}

TEST(BpeTrainer, WritesALoadableDirectory) {
  const std::string dir = (std::filesystem::temp_directory_path() / ("r1_bpe_" + std::to_string(::getpid()))).string();
  BpeTrainerOptions options;
  options.vocab_size = 300;
  write_trained_tokenizer(train_bpe({"hello hello hello world world"}, options), options, dir);
  const Tokenizer tok = Tokenizer::from_dir(dir);
  EXPECT_EQ(tok.eos_ids(), std::vector<int32_t>{tok.token_to_id("<|endoftext|>")});
  EXPECT_EQ(tok.decode(tok.encode("hello world")), "hello world");
  EXPECT_LT(tok.encode("hello world").size(), 11u);
  std::filesystem::remove_all(dir);
}

TEST(BpeTrainer, RejectsTooSmallVocab) {
  BpeTrainerOptions options;
  options.vocab_size = 200;
  EXPECT_THROW(train_bpe({"abc"}, options), Error);
}
