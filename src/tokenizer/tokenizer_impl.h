// Internal state of r1::Tokenizer, shared by the loader (tokenizer_loader.cpp) and the encoder/decoder
// (tokenizer.cpp). Not part of the public API.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/regex_split.h"
#include "tokenizer/string_index.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode_props.h"

namespace r1 {

struct Tokenizer::Impl {
  std::string source;

  // ---- pipeline ----
  std::vector<tok::NormalForm> normalizers;  // applied in order; empty: none
  std::vector<tok::RegexSplit> splits;       // pre-tokenizer regex steps, in order
  bool add_prefix_space = false;             // ByteLevel(add_prefix_space=true) as the first step
  tok::BpeModel model;
  tok::AddedTokenMatcher raw_matcher;         // added tokens with normalized=false
  tok::AddedTokenMatcher normalized_matcher;  // added tokens with normalized=true (keys normalized)
  std::vector<int32_t> post_prefix, post_suffix;  // post-processor for a single sequence
  bool decoder_byte_level = true;             // else tokens are joined with " " (HF with no decoder)

  // ---- vocabulary ----
  std::vector<std::string> id_to_token;      // file strings; added tokens by content
  std::vector<std::string> id_bytes;         // what each id decodes to
  std::vector<uint8_t> special;              // 1 for special added tokens
  tok::StringIndex token_to_id{&id_to_token};  // over id_to_token (vocab strings, added contents)
  std::vector<tok::AddedToken> added;

  // ---- tokenizer_config.json / generation_config.json ----
  std::string bos_token, eos_token, pad_token, chat_template;
  std::vector<int32_t> generation_eos_ids;
  bool clean_up_spaces = false;
  bool split_special_tokens = false;
};

}  // namespace r1
