// UTF-8 decoding with the "maximal ill-formed subsequence" rule (Unicode §3.9, table 3-7): a lead byte
// followed by valid continuation bytes that cannot complete a character counts as ONE error, so
// E2 82 41 gives U+FFFD 'A' and F0 9F 98 gives a single U+FFFD.
#include "tokenizer/utf8.h"

namespace r1::tok {

size_t utf8_decode(std::string_view s, size_t i, char32_t* cp) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  const unsigned char b0 = p[i];
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  size_t need;
  char32_t value;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte (table 3-7)
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
    value = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    value = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    value = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    *cp = kReplacementChar;
    return 1;
  }
  size_t k = 1;
  for (; k <= need; ++k) {
    if (i + k >= n) break;
    const unsigned char b = p[i + k];
    const unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (b < l || b > h) break;
    value = (value << 6) | (b & 0x3F);
  }
  if (k <= need) {
    *cp = kReplacementChar;
    return k;  // the lead byte plus the continuation bytes that were still valid
  }
  *cp = value;
  return need + 1;
}

void utf8_append(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

bool utf8_valid(std::string_view s) {
  char32_t cp;
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const size_t len = utf8_decode(s, i, &cp);
    if (cp == kReplacementChar && !(len == 3 && s.substr(i, 3) == "\xEF\xBF\xBD")) return false;
    i += len;
  }
  return true;
}

std::string utf8_lossy(std::string_view s) {
  if (utf8_valid(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  char32_t cp;
  for (size_t i = 0; i < s.size();) {
    const size_t len = utf8_decode(s, i, &cp);
    if (cp == kReplacementChar)
      utf8_append(out, kReplacementChar);
    else
      out.append(s.substr(i, len));
    i += len;
  }
  return out;
}

size_t utf8_last_char_len(std::string_view s) {
  if (s.empty()) return 0;
  size_t k = 1;
  while (k < 4 && k < s.size() && (static_cast<unsigned char>(s[s.size() - k]) & 0xC0) == 0x80) ++k;
  char32_t cp;
  const size_t start = s.size() - k;
  if (utf8_decode(s, start, &cp) == k) return k;
  return 1;
}

}  // namespace r1::tok
