// Leftmost-longest added-token matching with HF's single_word / lstrip / rstrip rules.
#include "tokenizer/added_tokens.h"

#include <algorithm>

#include "tokenizer/unicode_props.h"
#include "tokenizer/utf8.h"

namespace r1::tok {
namespace {

char32_t last_char(std::string_view s) {
  if (s.empty()) return 0;
  char32_t cp;
  const size_t len = utf8_last_char_len(s);
  utf8_decode(s, s.size() - len, &cp);
  return cp;
}

char32_t first_char(std::string_view s) {
  if (s.empty()) return 0;
  char32_t cp;
  utf8_decode(s, 0, &cp);
  return cp;
}

// Rust's `c.is_alphanumeric() || c == '_'` (HF ends_with_word / starts_with_word).
bool is_word_char(char32_t c) { return c == '_' || is_alphanumeric(c); }

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens, std::vector<std::string> keys)
    : tokens_(std::move(tokens)) {
  nodes_.emplace_back();
  for (size_t t = 0; t < tokens_.size(); ++t) {
    const std::string& key = keys[t];
    if (key.empty()) continue;  // HF never matches an empty content
    first_byte_[static_cast<unsigned char>(key[0])] = true;
    int32_t node = 0;
    for (unsigned char b : key) {
      int32_t next = child(node, b);
      if (next < 0) {
        next = static_cast<int32_t>(nodes_.size());
        nodes_.emplace_back();
        auto& ch = nodes_[node].children;
        ch.insert(std::lower_bound(ch.begin(), ch.end(), std::make_pair(b, int32_t{-1})), {b, next});
      }
      node = next;
    }
    // Two tokens with the same content: the later one wins, like a later insert into HF's map.
    nodes_[node].token = static_cast<int32_t>(t);
  }
}

int32_t AddedTokenMatcher::child(int32_t node, unsigned char b) const {
  const auto& ch = nodes_[node].children;
  for (const auto& [byte, next] : ch)
    if (byte == b) return next;
  return -1;
}

void AddedTokenMatcher::split(std::string_view text, bool skip_special, std::vector<Segment>& out) const {
  const size_t first_out = out.size();
  size_t start_offset = 0;  // end of the previous emitted match
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    if (!first_byte_[static_cast<unsigned char>(text[i])]) {
      ++i;
      continue;
    }
    // Longest match starting at i.
    int32_t best = -1;
    size_t best_len = 0;
    int32_t node = 0;
    for (size_t k = i; k < n; ++k) {
      node = child(node, static_cast<unsigned char>(text[k]));
      if (node < 0) break;
      if (nodes_[node].token >= 0) {
        best = nodes_[node].token;
        best_len = k + 1 - i;
      }
    }
    if (best < 0) {
      ++i;
      continue;
    }
    size_t start = i, stop = i + best_len;
    i = stop;  // matches never overlap, even when this one is then rejected
    const AddedToken& tok = tokens_[best];
    if (skip_special && tok.special) continue;
    if (tok.single_word) {
      const bool start_space = start == 0 || !is_word_char(last_char(text.substr(0, start)));
      const bool stop_space = stop == n || !is_word_char(first_char(text.substr(stop)));
      if (!start_space || !stop_space) continue;
    }
    if (tok.lstrip) {
      size_t s = start;
      while (s > 0) {
        const size_t len = utf8_last_char_len(text.substr(0, s));
        if (!is_white_space(last_char(text.substr(0, s)))) break;
        s -= len;
      }
      start = std::max(s, start_offset);
    }
    if (tok.rstrip) {
      char32_t cp;
      while (stop < n) {
        const size_t len = utf8_decode(text, stop, &cp);
        if (!is_white_space(cp)) break;
        stop += len;
      }
      i = stop;
    }
    if (start_offset < start) out.push_back({start_offset, start, -1});
    out.push_back({start, stop, tok.id});
    start_offset = stop;
  }
  if (start_offset != n || out.size() == first_out) out.push_back({start_offset, n, -1});
}

}  // namespace r1::tok
