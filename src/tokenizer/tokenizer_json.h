// Reading tokenizer.json fast: a SAX pass that streams the two huge members, model.vocab (up to 150k
// entries) and model.merges (up to 280k), straight into flat vectors and builds an ordinary JSON tree
// for everything else (where they stood, the tree holds null). Building a full DOM of a 17 MB file
// costs most of a second; this keeps loading well under that.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace r1::tok {

struct MergeEntry {
  std::string a, b;
  bool ok = true;     // false: malformed; `a` then holds a description of what was found
};

struct TokenizerJson {
  nlohmann::json rest;                               // the file without model.vocab / model.merges
  bool has_vocab = false, has_merges = false;        // present as an object / an array
  std::vector<std::pair<std::string, int64_t>> vocab;
  std::string vocab_error;                           // first bad vocab entry (non-integer id), if any
  std::vector<MergeEntry> merges;
};

// Parses tokenizer.json text. Throws r1::Error naming `source` on invalid JSON.
TokenizerJson parse_tokenizer_json(std::string_view text, const std::string& source);

}  // namespace r1::tok
