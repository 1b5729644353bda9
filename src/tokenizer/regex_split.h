// Split pre-tokenizer: cut text by a regex the way HF `tokenizers` does (pre_tokenizers/split.rs with
// Oniguruma). Patterns are written for Oniguruma; we compile them with PCRE2 (UTF + UCP, JIT when the
// library has it) after rewriting the few escapes whose meaning differs between the two engines:
//   \s, \S   Oniguruma: the Unicode White_Space set (includes U+0085, excludes U+180E); PCRE2 14.0's
//            UCP \s also matches U+180E, so \s becomes an explicit class.
//   \h, \H   Oniguruma: hex digit; PCRE2: horizontal space.
//   {,n}     Oniguruma: {0,n}; PCRE2 10.42: a literal.
//   \uHHHH   Oniguruma (Ruby syntax): a code point; PCRE2: an error. Becomes \x{HHHH}.
//   \w, \W, \p{Word}  Oniguruma: letters, marks, decimal digits, connector punctuation.
//   X{n}+    Oniguruma: (?:X{n})+ ; PCRE2: possessive.
//   [a[bc]]  Oniguruma: a union; PCRE2: ends at the first ']'. Nested positive classes are flattened.
//   ^ $      Oniguruma (Ruby syntax): always line anchors, so we compile with PCRE2_MULTILINE.
// Matches are enumerated like the `onig` crate's find_iter (an empty match right after the previous
// match is skipped by advancing one character), so empty-matching patterns split as HF does.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace r1::tok {

// Byte range [begin, end) of a piece inside the text being split.
struct Span {
  size_t begin = 0, end = 0;
};

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// "Removed" | "Isolated" | "MergedWithPrevious" | "MergedWithNext" | "Contiguous"; false when unknown.
bool parse_split_behavior(std::string_view name, SplitBehavior* out);

// The Oniguruma pattern rewritten for PCRE2 (see the header comment).
std::string onig_to_pcre2(std::string_view pattern);

class Regex {
 public:
  // Compiles an Oniguruma-syntax pattern (literal=true: the text itself, as HF's {"String": ...}).
  // Throws r1::Error("invalid regex ...: <PCRE2 message> at offset N") when it does not compile.
  Regex(std::string_view pattern, bool literal);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Appends every match in text (offsets relative to text), enumerated like onig's find_iter.
  // text must be valid UTF-8.
  void find_all(std::string_view text, std::vector<Span>& out) const;
  const std::string& pattern() const { return pattern_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string pattern_;
};

// One Split pre-tokenizer step. Splits text into pieces (offsets relative to text) and appends them,
// dropping empty pieces (HF PreTokenizedString::split does). Empty text yields no piece.
struct RegexSplit {
  std::shared_ptr<const Regex> regex;
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;
  void split(std::string_view text, std::vector<Span>& out) const;
};

// The regex ByteLevel(use_regex=true) applies (GPT-2's, pre_tokenizers/byte_level.rs).
extern const char* const kGpt2Pattern;

}  // namespace r1::tok
