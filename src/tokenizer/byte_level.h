// The GPT-2 byte <-> unicode table (openai/gpt-2 encoder.py bytes_to_unicode, HF ByteLevel): the 188
// printable bytes map to the code point of the same value, the other 68 (0x00-0x20, 0x7F-0xA0, 0xAD) in
// increasing order to U+0100.. U+0143. Every vocab and merge string of a byte-level BPE is written in this
// alphabet ("Ġhello" = " hello"); we convert them back to raw bytes at load time and run BPE on bytes.
#pragma once
#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace r1::tok {

// The code point that stands for byte b.
char32_t byte_to_char(unsigned char b);
// The byte that code point c stands for, or -1 when c is not one of the 256 table characters.
int char_to_byte(char32_t c);

// "Ġhello" -> " hello". nullopt when some character is outside the table (such a token is not made of
// byte characters: HF's ByteLevel decoder then emits the token's own UTF-8 unchanged).
std::optional<std::string> byte_chars_to_bytes(std::string_view token);
// " hello" -> "Ġhello" (every byte becomes its table character, UTF-8 encoded).
std::string bytes_to_byte_chars(std::string_view bytes);

}  // namespace r1::tok
