// Byte-level BPE training for our small self-trained models: pre-tokenize a corpus with a split regex
// (Qwen2's by default), count the words, then repeatedly merge the most frequent adjacent pair (ties:
// the smaller pair of ids) until the vocabulary reaches the requested size. The result is written as an
// HF tokenizer.json (byte-level, NFC, Split + ByteLevel, merges as ["a","b"] pairs), which both our
// loader and HF `tokenizers` read.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace r1 {

// Qwen2/2.5's pre-tokenizer regex (every digit its own pre-token).
extern const char* const kQwen2Pattern;

struct BpeTrainerOptions {
  int32_t vocab_size = 4096;               // 256 byte tokens + merges + special tokens
  std::vector<std::string> special_tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
  int64_t min_frequency = 2;               // stop when the best pair occurs fewer times
  std::string pattern = kQwen2Pattern;     // pre-tokenizer Split regex (Oniguruma syntax)
  bool nfc = true;                         // write an NFC normalizer (and train on NFC text)
};

struct BpeTrainingResult {
  std::string tokenizer_json;     // the HF tokenizer.json text
  int32_t merges = 0;             // number of merges learned
  int32_t vocab_size = 0;         // byte tokens + merges + special tokens
};

// Trains on the given texts (each a document; pre-tokens never cross documents). Throws r1::Error if
// vocab_size is smaller than 256 + the number of special tokens, or the pattern does not compile.
BpeTrainingResult train_bpe(const std::vector<std::string>& texts, const BpeTrainerOptions& options);

// Writes dir/tokenizer.json and dir/tokenizer_config.json (eos_token = the first special token,
// pad_token the same, no BOS) and creates dir if needed.
void write_trained_tokenizer(const BpeTrainingResult& result, const BpeTrainerOptions& options,
                             const std::string& dir);

}  // namespace r1
