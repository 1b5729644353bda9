// `r1 tokenize` (text -> ids and pieces, or --decode ids -> text) and `r1 tokenizer-train` (byte-level
// BPE from a corpus -> tokenizer.json). Thin over src/tokenizer.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "core/error.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/tokenizer.h"

namespace r1::cli {
namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_in_file(path, "cannot open file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Tokenizer load_tokenizer(const std::string& path) {
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0) return Tokenizer::from_file(path);
  return Tokenizer::from_dir(path);
}

// A token's bytes for display: JSON string escapes, invalid UTF-8 bytes as \xNN.
std::string show_bytes(const std::string& bytes) {
  std::string out;
  for (size_t i = 0; i < bytes.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x80) {
      // Copy a complete, valid UTF-8 sequence; escape anything else.
      size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
      bool ok = len > 0 && i + len <= bytes.size();
      for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(bytes[i + k]) & 0xC0) == 0x80;
      if (ok) {
        out.append(bytes, i, len);
        i += len - 1;
      } else {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\x%02X", c);
        out += buf;
      }
      continue;
    }
    const std::string one(1, static_cast<char>(c));
    out += nlohmann::json(one).dump().substr(1, nlohmann::json(one).dump().size() - 2);
  }
  return out;
}

struct TokenizeArgs {
  std::string tokenizer;
  std::vector<std::string> inputs;
  std::string file;
  bool decode = false, add_special = false, no_special = false, skip_special = false, ids_only = false;
};

void run_tokenize(const TokenizeArgs& a) {
  const Tokenizer tok = load_tokenizer(a.tokenizer);
  if (a.decode) {
    std::vector<int32_t> ids;
    for (const std::string& s : a.inputs) {
      try {
        size_t used = 0;
        ids.push_back(static_cast<int32_t>(std::stol(s, &used)));
        if (used != s.size()) throw std::invalid_argument(s);
      } catch (const std::exception&) {
        throw Error("--decode: '" + s + "' is not a token id");
      }
    }
    std::printf("%s\n", tok.decode(ids, a.skip_special).c_str());
    return;
  }
  std::string text;
  if (!a.file.empty()) text = read_all(a.file);
  for (size_t i = 0; i < a.inputs.size(); ++i) text += (i ? " " : "") + a.inputs[i];
  EncodeOptions options;
  options.add_special_tokens = a.add_special;
  options.match_special_tokens = !a.no_special;
  std::vector<int32_t> ids;
  const auto t0 = std::chrono::steady_clock::now();
  tok.encode_into(text, options, ids);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!a.file.empty()) {
    std::printf("%zu bytes -> %zu tokens (%.2f bytes/token) in %.3f s, %.1f MB/s\n", text.size(), ids.size(),
                ids.empty() ? 0.0 : double(text.size()) / ids.size(), seconds, text.size() / 1e6 / seconds);
    if (a.ids_only) return;
  }
  for (size_t i = 0; i < ids.size(); ++i) std::printf("%s%d", i ? " " : "", ids[i]);
  std::printf("\n");
  if (a.ids_only) return;
  for (int32_t id : ids)
    std::printf("%8d  %-24s \"%s\"\n", id, tok.id_to_token(id).c_str(), show_bytes(tok.token_bytes(id)).c_str());
}

struct TrainArgs {
  std::vector<std::string> corpus;
  std::string output;
  BpeTrainerOptions options;
  bool no_nfc = false;
};

// A corpus file is one document, except .jsonl: one document per line, its string fields joined by "\n".
void add_documents(const std::string& path, std::vector<std::string>& docs) {
  std::string text = read_all(path);
  if (path.size() < 6 || path.compare(path.size() - 6, 6, ".jsonl") != 0) {
    docs.push_back(std::move(text));
    return;
  }
  std::istringstream in(text);
  long line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.empty()) continue;
    nlohmann::json row;
    try {
      row = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      fail_at_line(path, line_no, std::string("invalid JSON: ") + e.what());
    }
    std::string doc;
    for (const auto& [key, value] : row.items())
      if (value.is_string()) doc += (doc.empty() ? "" : "\n") + value.get<std::string>();
    docs.push_back(std::move(doc));
  }
}

void run_train(TrainArgs a) {
  std::vector<std::string> docs;
  size_t bytes = 0;
  for (const std::string& path : a.corpus) add_documents(path, docs);
  for (const std::string& d : docs) bytes += d.size();
  a.options.nfc = !a.no_nfc;
  const auto t0 = std::chrono::steady_clock::now();
  const BpeTrainingResult result = train_bpe(docs, a.options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  write_trained_tokenizer(result, a.options, a.output);
  std::printf("trained on %zu documents (%zu bytes) in %.1f s: %d merges, vocab %d -> %s/tokenizer.json\n",
              docs.size(), bytes, seconds, result.merges, result.vocab_size, a.output.c_str());
}

}  // namespace

void register_tokenize(CLI::App& app) {
  auto tok_args = std::make_shared<TokenizeArgs>();
  auto* cmd = app.add_subcommand("tokenize", "Encode text to token ids and pieces, or --decode ids to text");
  cmd->add_option("--tokenizer,-t", tok_args->tokenizer, "Tokenizer directory (tokenizer.json [+ tokenizer_config.json]) or a tokenizer.json file")
      ->required();
  cmd->add_option("input", tok_args->inputs, "Text to encode (joined by spaces), or token ids with --decode");
  cmd->add_option("--file,-f", tok_args->file, "Encode this file's content (prints size and speed)");
  cmd->add_flag("--decode,-d", tok_args->decode, "Decode the given ids instead");
  cmd->add_flag("--add-special-tokens", tok_args->add_special, "Apply the post-processor (BOS for Llama-3 / R1-Distill)");
  cmd->add_flag("--no-special", tok_args->no_special, "Treat special-token text in the input as plain text");
  cmd->add_flag("--skip-special", tok_args->skip_special, "With --decode: drop special tokens");
  cmd->add_flag("--ids-only", tok_args->ids_only, "Print only the ids");
  cmd->callback([tok_args] { run_tokenize(*tok_args); });

  auto train_args = std::make_shared<TrainArgs>();
  auto* train = app.add_subcommand("tokenizer-train", "Train a byte-level BPE tokenizer (writes tokenizer.json)");
  train->add_option("corpus", train_args->corpus, "Corpus files (.jsonl: one document per line)")->required();
  train->add_option("--output,-o", train_args->output, "Output directory")->required();
  train->add_option("--vocab-size", train_args->options.vocab_size, "Vocabulary size incl. 256 bytes and special tokens")
      ->capture_default_str();
  train->add_option("--special", train_args->options.special_tokens, "Special tokens (first one is EOS)")->capture_default_str();
  train->add_option("--min-frequency", train_args->options.min_frequency, "Stop when the best pair is rarer")
      ->capture_default_str();
  train->add_option("--pattern", train_args->options.pattern, "Pre-tokenizer regex (default: Qwen2's)");
  train->add_flag("--no-nfc", train_args->no_nfc, "Do not NFC-normalize");
  train->callback([train_args] { run_train(*train_args); });
}

}  // namespace r1::cli
