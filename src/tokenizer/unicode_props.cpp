// utf8proc-backed properties and normalization.
#include "tokenizer/unicode_props.h"

#include <utf8proc.h>

#include <cstdlib>

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace r1::tok {

bool is_white_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_alphanumeric(char32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return true;
    default:
      return false;
  }
}

namespace {

// Code points that are unchanged by every normalization form and never compose with a neighbour
// (Quick_Check = Yes, canonical combining class 0, not a composition target): below U+0300 except
// nothing (Latin-1 precomposed letters are already composed and decompose only under NFD/NFKD), so the
// quick path is used for NFC only; plus CJK ideographs, Hangul syllables and the main emoji blocks.
bool nfc_stable(char32_t c) {
  return c < 0x300 || (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0x1F300 && c <= 0x1FAFF);
}

}  // namespace

bool is_normalized_quick(std::string_view text, NormalForm form) {
  const bool nfc = form == NormalForm::kNFC;
  char32_t cp;
  for (size_t i = 0; i < text.size();) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    if (!nfc) return false;
    i += utf8_decode(text, i, &cp);
    if (!nfc_stable(cp)) return false;
  }
  return true;
}

std::string normalize(std::string_view text, NormalForm form) {
  if (is_normalized_quick(text, form)) return std::string(text);
  int options = UTF8PROC_STABLE;
  switch (form) {
    case NormalForm::kNFC: options |= UTF8PROC_COMPOSE; break;
    case NormalForm::kNFD: options |= UTF8PROC_DECOMPOSE; break;
    case NormalForm::kNFKC: options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    case NormalForm::kNFKD: options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
  }
  utf8proc_uint8_t* result = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                          static_cast<utf8proc_ssize_t>(text.size()), &result,
                                          static_cast<utf8proc_option_t>(options));
  if (n < 0) throw Error(std::string("unicode normalization failed: ") + utf8proc_errmsg(n));
  std::string out(reinterpret_cast<const char*>(result), static_cast<size_t>(n));
  std::free(result);
  return out;
}

std::string_view strip_white_space(std::string_view s) {
  char32_t cp;
  size_t b = 0;
  while (b < s.size()) {
    const size_t len = utf8_decode(s, b, &cp);
    if (!is_white_space(cp)) break;
    b += len;
  }
  size_t e = s.size();
  while (e > b) {
    const size_t len = utf8_last_char_len(s.substr(0, e));
    utf8_decode(s, e - len, &cp);
    if (!is_white_space(cp)) break;
    e -= len;
  }
  return s.substr(b, e - b);
}

}  // namespace r1::tok
