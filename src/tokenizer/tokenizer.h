// r1::Tokenizer — a Hugging Face `tokenizer.json` byte-level BPE tokenizer whose ids are exactly HF's
// (Qwen2/2.5/3, DeepSeek-R1-Distill, Llama-3.x, GPT-2-style files and our own trained ones).
//
// encode: added tokens cut out first (leftmost-longest) -> normalizer (NFC when the file says so) ->
// Split pre-tokenizer with the model's regex (PCRE2) -> ByteLevel -> BPE per pre-token (cached) ->
// post-processor (TemplateProcessing BOS) only when add_special_tokens.
// decode: token strings -> bytes (GPT-2 table; tokens outside it verbatim) -> UTF-8 with U+FFFD for
// invalid sequences, like HF; unknown ids are dropped silently, as HF does.
//
// Input text that is not valid UTF-8 (HF never sees such text: Python strings are Unicode) is encoded as
// if every ill-formed sequence were U+FFFD.
//
// A Tokenizer is cheap to copy (shared immutable state) and safe to use from many threads at once.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/added_tokens.h"

namespace r1 {

struct EncodeOptions {
  bool add_special_tokens = false;    // apply the post-processor (BOS for Llama-3 and R1-Distill)
  bool match_special_tokens = true;   // false: special added tokens in the text are plain text
                                      // (transformers split_special_tokens=True); use for untrusted
                                      // user content so "<|im_end|>" typed by a user stays text
};

class Tokenizer {
 public:
  // Loads a tokenizer.json. Errors name the file and the field at fault.
  static Tokenizer from_file(const std::string& tokenizer_json);
  // Loads dir/tokenizer.json (or a dir/tokenizer.overlay*.json that names a base file and fields to
  // replace), plus dir/tokenizer_config.json (special token names, chat template, BOS/EOS flags) and
  // dir/generation_config.json (eos ids) when present.
  static Tokenizer from_dir(const std::string& dir);
  // Parses tokenizer.json text; `source` names it in errors.
  static Tokenizer from_json_text(std::string_view json_text, const std::string& source);

  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = false) const;
  void encode_into(std::string_view text, const EncodeOptions& options, std::vector<int32_t>& out) const;
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const;
  // The raw bytes one token stands for ("" for an unknown id); may be part of a UTF-8 character.
  const std::string& token_bytes(int32_t id) const;

  int32_t token_to_id(std::string_view token) const;  // vocab string or added-token content; -1 if absent
  std::string id_to_token(int32_t id) const;           // "" if the id has no token
  int32_t vocab_size() const;                          // highest assigned id + 1 (model vocab + added)
  bool is_special(int32_t id) const;                   // an added token with special=true
  const std::vector<tok::AddedToken>& added_tokens() const;

  // From tokenizer_config.json / generation_config.json when from_dir found them; -1 / empty otherwise.
  int32_t bos_id() const;
  int32_t pad_id() const;
  std::vector<int32_t> eos_ids() const;  // generation_config eos_token_id (int or list), else eos_token
  const std::string& bos_token() const;  // token text ("<|begin_of_text|>"), "" when none
  const std::string& eos_token() const;
  const std::string& chat_template() const;  // the Jinja source, "" when none
  bool clean_up_tokenization_spaces() const;
  const std::string& source() const;  // the file it was loaded from

  struct Impl;

 private:
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
  friend struct TokenizerBuilder;
};

// transformers' clean_up_tokenization_spaces (" ." -> "." etc.), for text parity with transformers'
// decode on tokenizers whose config enables it (Llama-3.x). Never use it for training text.
std::string clean_up_tokenization_spaces(std::string_view text);

}  // namespace r1
