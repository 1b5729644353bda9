// GPT-2 bytes_to_unicode, built once as two lookup tables.
#include "tokenizer/byte_level.h"

#include "tokenizer/utf8.h"

namespace r1::tok {
namespace {

struct ByteTables {
  std::array<char32_t, 256> to_char{};
  std::array<int, 0x144> to_byte{};  // every table character is below U+0144
  ByteTables() {
    to_byte.fill(-1);
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      to_char[b] = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(0x100 + extra++);
      to_byte[to_char[b]] = b;
    }
  }
};

const ByteTables& tables() {
  static const ByteTables t;
  return t;
}

}  // namespace

char32_t byte_to_char(unsigned char b) { return tables().to_char[b]; }

int char_to_byte(char32_t c) { return c < 0x144 ? tables().to_byte[c] : -1; }

std::optional<std::string> byte_chars_to_bytes(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  char32_t cp;
  for (size_t i = 0; i < token.size();) {
    const size_t len = utf8_decode(token, i, &cp);
    const int b = char_to_byte(cp);
    if (b < 0) return std::nullopt;
    out += static_cast<char>(b);
    i += len;
  }
  return out;
}

std::string bytes_to_byte_chars(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) utf8_append(out, byte_to_char(b));
  return out;
}

}  // namespace r1::tok
