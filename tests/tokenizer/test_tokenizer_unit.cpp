// Building blocks and robustness: UTF-8 decoding with HF's replacement rule, the GPT-2 byte table,
// decode(encode(x)) == x on valid UTF-8, pathological 300k-character single pre-tokens (linear regex, heap BPE),
// invalid UTF-8 input, added-token flags, and thread safety of a shared Tokenizer.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <thread>

#include "tokenizer/added_tokens.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/regex_split.h"
#include "tokenizer/unicode_props.h"
#include "tokenizer/utf8.h"
#include "tokenizer_test_util.h"

using namespace r1;
using namespace r1::test;

TEST(Tokenizer, Utf8LossyReplacesMaximalIllFormedSubsequences) {
  EXPECT_EQ(tok::utf8_lossy("abc"), "abc");
  EXPECT_EQ(tok::utf8_lossy("\xE2\x82" "A"), "\uFFFD" "A");          // truncated 3-byte char: one U+FFFD
  EXPECT_EQ(tok::utf8_lossy("\xF0\x9F\x98"), "\uFFFD");               // truncated emoji: one U+FFFD
  EXPECT_EQ(tok::utf8_lossy("\xC0\xAF"), "\uFFFD\uFFFD");             // overlong: each byte
  EXPECT_EQ(tok::utf8_lossy("\xED\xA0\x80"), "\uFFFD\uFFFD\uFFFD");   // surrogate: each byte
  EXPECT_EQ(tok::utf8_lossy("\xFF" "x\x80"), "\uFFFD" "x\uFFFD");
  EXPECT_TRUE(tok::utf8_valid("\uFFFD ok 😀"));
  EXPECT_FALSE(tok::utf8_valid("\xF4\x90\x80\x80"));  // above U+10FFFF
}

TEST(Tokenizer, ByteTableIsTheGpt2Bijection) {
  EXPECT_EQ(tok::byte_to_char(' '), char32_t{0x120});   // Ġ
  EXPECT_EQ(tok::byte_to_char('\n'), char32_t{0x10A});  // Ċ
  EXPECT_EQ(tok::byte_to_char(0xAD), char32_t{0x143});
  EXPECT_EQ(tok::byte_to_char('A'), char32_t{'A'});
  for (int b = 0; b < 256; ++b) EXPECT_EQ(tok::char_to_byte(tok::byte_to_char(static_cast<unsigned char>(b))), b);
  EXPECT_EQ(*tok::byte_chars_to_bytes("Ġhello"), " hello");
  EXPECT_FALSE(tok::byte_chars_to_bytes("<｜User｜>").has_value());
  EXPECT_EQ(tok::bytes_to_byte_chars("\n\n"), "ĊĊ");
}

TEST(Tokenizer, NfcNormalizationMatchesUnicode) {
  EXPECT_EQ(tok::normalize("e\u0301", tok::NormalForm::kNFC), "é");
  EXPECT_EQ(tok::normalize("\u212B", tok::NormalForm::kNFC), "\u00C5");  // Angstrom sign -> Å
  EXPECT_EQ(tok::normalize("한국어 中文 😀", tok::NormalForm::kNFC), "한국어 中文 😀");
  EXPECT_EQ(tok::normalize("\u1100\u1161", tok::NormalForm::kNFC), "\uAC00");  // jamo compose
  EXPECT_EQ(tok::normalize("\uFB01", tok::NormalForm::kNFKC), "fi");
}

TEST(Tokenizer, DecodeOfEncodeIsIdentityOnValidUtf8) {
  R1_REQUIRE_SHARED_TOKENIZERS();
  // Random strings over a mix of scripts, emoji, marks, whitespace, digits and control-token fragments.
  const std::vector<std::string> pieces = {"a", "Z", " ", "  ", "\n", "\r\n", "\t", "7", "42", "é", "中", "文", "😀", "👍🏽",
                                           "‍", "ß", "İ", "ـ", "्", "'s", "'LL", "<|", "|>", "<think>", "\\frac", "{", "}",
                                           "\u00a0", "\u3000", "\ufeff", "\x01", "$", "..."};
  std::mt19937 rng(99);
  for (const Tokenizer* tok : {&qwen25(), &llama32()}) {
    const bool nfc = tok == &qwen25();
    for (int trial = 0; trial < 300; ++trial) {
      std::string text;
      const int n = rng() % 30;
      for (int k = 0; k < n; ++k) text += pieces[rng() % pieces.size()];
      const std::string expected = nfc ? tok::normalize(text, tok::NormalForm::kNFC) : text;
      ASSERT_EQ(tok->decode(tok->encode(text)), expected) << nlohmann::json(text).dump();
    }
  }
}

// 300k-byte single pre-tokens: a quadratic regex or merge loop would take minutes, linear takes ms.
TEST(Tokenizer, HugeSingleRunsEncodeInLinearTime) {
  R1_REQUIRE_SHARED_TOKENIZERS();
  for (const Tokenizer* tok : {&qwen25(), &llama32()}) {
    for (const std::string unit : {" ", "a", "-", "\n", "1", "😀"}) {
      std::string text;
      for (int i = 0; i < 300000 / static_cast<int>(unit.size()); ++i) text += unit;
      const auto t0 = std::chrono::steady_clock::now();
      const auto ids = tok->encode(text);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      EXPECT_LT(s, 3.0) << "unit " << nlohmann::json(unit).dump();
      EXPECT_EQ(tok->decode(ids), text);
      EXPECT_LE(ids.size(), text.size());
    }
  }
}

TEST(Tokenizer, InvalidUtf8InputIsEncodedAsReplacementCharacters) {
  R1_REQUIRE_SHARED_TOKENIZERS();
  EXPECT_EQ(qwen25().encode("a\xFF" "b"), qwen25().encode("a\uFFFD" "b"));
  EXPECT_EQ(llama32().encode("\xE2\x82"), llama32().encode("\uFFFD"));
}

TEST(Tokenizer, AddedTokenFlagsFollowHfRules) {
  auto make = [](bool single_word, bool lstrip, bool rstrip) {
    tok::AddedToken t;
    t.id = 7;
    t.content = "<mask>";
    t.single_word = single_word;
    t.lstrip = lstrip;
    t.rstrip = rstrip;
    return tok::AddedTokenMatcher({t}, {t.content});
  };
  auto pieces = [](const tok::AddedTokenMatcher& m, const std::string& text) {
    std::vector<tok::Segment> segs;
    m.split(text, false, segs);
    std::vector<std::string> out;
    for (const auto& s : segs) out.push_back((s.id >= 0 ? "#" : "") + text.substr(s.begin, s.end - s.begin));
    return out;
  };
  EXPECT_EQ(pieces(make(false, false, false), "a <mask> b"), (std::vector<std::string>{"a ", "#<mask>", " b"}));
  EXPECT_EQ(pieces(make(false, true, false), "a  <mask> b"), (std::vector<std::string>{"a", "#  <mask>", " b"}));
  EXPECT_EQ(pieces(make(false, false, true), "a <mask>  b"), (std::vector<std::string>{"a ", "#<mask>  ", "b"}));
  EXPECT_EQ(pieces(make(true, false, false), "x<mask> <mask>"), (std::vector<std::string>{"x<mask> ", "#<mask>"}));
  EXPECT_EQ(pieces(make(false, false, false), ""), (std::vector<std::string>{""}));
  // Leftmost-longest between overlapping contents.
  tok::AddedToken a{1, "<|a|>"}, ab{2, "<|a|>b"};
  tok::AddedTokenMatcher both({a, ab}, {a.content, ab.content});
  EXPECT_EQ(pieces(both, "x<|a|>bc<|a|>"), (std::vector<std::string>{"x", "#<|a|>b", "c", "#<|a|>"}));
}

TEST(Tokenizer, SharedTokenizerGivesSameIdsFromManyThreads) {
  R1_REQUIRE_SHARED_TOKENIZERS();
  const Tokenizer& tok = qwen25();
  std::vector<std::string> texts;
  for (int i = 0; i < 200; ++i) texts.push_back("Document " + std::to_string(i) + ": the answer is " + std::to_string(i * 37) + " 😀 中文");
  std::vector<std::vector<int32_t>> expected;
  for (const auto& t : texts) expected.push_back(tok.encode(t));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int w = 0; w < 4; ++w)
    threads.emplace_back([&, w] {
      for (int rep = 0; rep < 5; ++rep)
        for (size_t i = 0; i < texts.size(); ++i) mismatches[w] += tok.encode(texts[i]) != expected[i];
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}
