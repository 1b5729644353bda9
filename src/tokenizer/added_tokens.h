// Added tokens (tokenizer.json "added_tokens"): literal strings such as "<|im_end|>" or "<think>" that are
// cut out of the text before the normalizer and the pre-tokenizer run (HF added_vocabulary.rs). Matching
// is leftmost-longest over all contents (a byte trie walked from each position), then the token's flags:
//   single_word  keep the match only if no word character (alphanumeric or '_') touches it
//   lstrip/rstrip  the match also swallows the whitespace on its left / right
// normalized=false tokens are matched on the raw text, normalized=true ones on the normalized pieces.
// `special` matters only for decoding (skip_special_tokens) and for the option to not match specials.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace r1::tok {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
  bool special = false;
};

// A piece of text after added-token matching: either an added token (id >= 0) or plain text (id == -1).
struct Segment {
  size_t begin = 0, end = 0;
  int32_t id = -1;
};

class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  // tokens: the ones this matcher looks for; `keys` are the strings to find (content, or its normalized
  // form for normalized=true tokens), same order as tokens.
  AddedTokenMatcher(std::vector<AddedToken> tokens, std::vector<std::string> keys);

  bool empty() const { return tokens_.empty(); }
  // Splits text into segments covering it; with skip_special, special tokens are left as plain text.
  // Empty text gives one empty plain segment.
  void split(std::string_view text, bool skip_special, std::vector<Segment>& out) const;

 private:
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> children;  // sorted by byte
    int32_t token = -1;                                        // index into tokens_ of a match ending here
  };
  int32_t child(int32_t node, unsigned char b) const;
  std::vector<AddedToken> tokens_;
  std::vector<Node> nodes_;
  bool first_byte_[256] = {};
};

}  // namespace r1::tok
