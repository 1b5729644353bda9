// UTF-8 helpers for the tokenizer: decoding one code point, encoding one, validating, and the lossy
// conversion HF applies when decoding ids (`String::from_utf8_lossy`: every maximal ill-formed
// subsequence becomes one U+FFFD, the same rule as Python's bytes.decode("utf-8", "replace") and WHATWG).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace r1::tok {

constexpr char32_t kReplacementChar = 0xFFFD;

// Decodes the code point starting at s[i]. On success returns its length (1..4) and sets *cp; on an
// ill-formed sequence returns the length of the maximal ill-formed subsequence (>= 1) and sets *cp to
// U+FFFD. Never reads past s.size().
size_t utf8_decode(std::string_view s, size_t i, char32_t* cp);

// Appends the UTF-8 encoding of cp (cp must be a Unicode scalar value).
void utf8_append(std::string& out, char32_t cp);

// True when s is well-formed UTF-8 (no surrogates, no overlongs, nothing above U+10FFFF).
bool utf8_valid(std::string_view s);

// s with every maximal ill-formed subsequence replaced by U+FFFD (s itself when it is valid).
std::string utf8_lossy(std::string_view s);

// Length in bytes of the last code point of s (0 for an empty string; 1 for a stray byte).
size_t utf8_last_char_len(std::string_view s);

}  // namespace r1::tok
