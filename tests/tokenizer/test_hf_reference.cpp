// Exact ids against HF `tokenizers` itself on a varied corpus (tests/fixtures/tokenizer/hf_reference.jsonl,
// made by bench/tokenizer/make_reference.py from hf_reference_corpus.jsonl). Skipped only while the
// fixture has not been generated yet.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "tokenizer/unicode_props.h"
#include "tokenizer_test_util.h"

using namespace r1;
using namespace r1::test;
using nlohmann::json;

TEST(Tokenizer, HfReferenceFixtureIdsMatchExactly) {
  const std::string path = std::string(R1_FIXTURES_DIR) + "/tokenizer/hf_reference.jsonl";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not generated yet (bench/tokenizer/make_reference.py)";
  R1_REQUIRE_SHARED_TOKENIZERS();
  const std::map<std::string, const Tokenizer*> tokenizers = {{"qwen2.5", &qwen25()},
                                                               {"qwen3", &qwen3()},
                                                               {"llama-3.2", &llama32()},
                                                               {"deepseek-r1-distill-qwen", &r1_distill()}};
  std::map<std::string, int> checked;
  for (const json& row : read_jsonl(path)) {
    if (row.contains("_meta")) continue;
    const std::string name = row["tokenizer"].get<std::string>();
    ASSERT_TRUE(tokenizers.count(name)) << name;
    const Tokenizer& tok = *tokenizers.at(name);
    const std::string text = row["text"].get<std::string>();
    const auto ids = tok.encode(text, row["add_special_tokens"].get<bool>());
    EXPECT_EQ(ids, row["ids"].get<std::vector<int32_t>>()) << name << ": " << json(text).dump();
    // Round trip: the text comes back, NFC-normalized for the tokenizers with an NFC normalizer.
    const std::string expected_text = name == "llama-3.2" ? text : tok::normalize(text, tok::NormalForm::kNFC);
    if (!row["add_special_tokens"].get<bool>()) {
      EXPECT_EQ(tok.decode(ids), expected_text) << name << ": " << json(text).dump();
    }
    ++checked[name];
  }
  for (const auto& [name, tok] : tokenizers) EXPECT_GT(checked[name], 0) << name;
}
