// Unicode character properties and normalization used by the tokenizer (via utf8proc).
#pragma once
#include <string>
#include <string_view>

namespace r1::tok {

// The Unicode White_Space property (what Rust's char::is_whitespace and Oniguruma's \s test).
bool is_white_space(char32_t c);
// Letters and numbers (general categories L* and N*): Rust's char::is_alphanumeric, close enough for
// the single_word rule.
bool is_alphanumeric(char32_t c);

enum class NormalForm { kNFC, kNFD, kNFKC, kNFKD };
// Unicode normalization of valid UTF-8 text. Fast path: text already in the form is returned unchanged
// without calling utf8proc (ASCII and most CJK, Hangul and emoji text pass a quick check).
std::string normalize(std::string_view text, NormalForm form);
// True when the quick check proves text is already in the form (false: it may or may not be).
bool is_normalized_quick(std::string_view text, NormalForm form);

// Python str.strip(): removes leading and trailing White_Space.
std::string_view strip_white_space(std::string_view s);

}  // namespace r1::tok
