// `r1 convert`: writes a COMPLETE Hugging Face model directory — config.json, generation_config.json,
// model.safetensors (float32, bf16 or f16) and, when there is one, the tokenizer (tokenizer.json +
// tokenizer_config.json) — from a model directory (ours or transformers') or a built-in shape with fresh weights.
// transformers' AutoModelForCausalLM / AutoTokenizer.from_pretrained load the result as it is
// (bench/hf_compat/check_roundtrip.py checks that, and that r1 -> transformers -> r1 is bit-exact).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/param_layout.h"
#include "model/safetensors.h"
#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;

namespace r1::cli {

namespace {

struct ConvertArgs {
  std::string model, output, dtype = "f32", tokenizer;
  uint64_t seed = 1234;
  bool overwrite = false;
};

// Tokenizer files transformers reads beside the weights; copied verbatim when the source has them.
constexpr const char* kTokenizerFiles[] = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                                           "chat_template.jinja"};

DType parse_dtype(const std::string& s) {
  if (s == "f32" || s == "float32") return DType::F32;
  if (s == "bf16" || s == "bfloat16") return DType::BF16;
  if (s == "f16" || s == "float16") return DType::F16;
  throw Error("--dtype: unknown dtype '" + s + "' (use f32, bf16 or f16)");
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) fail_in_file(p.string(), "cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// transformers' GenerationConfig reads the special token ids from here (sampling defaults stay transformers').
nlohmann::json generation_config_for(const ModelConfig& c) {
  nlohmann::json g = nlohmann::json::object();
  if (c.bos_token_id >= 0) g["bos_token_id"] = c.bos_token_id;
  if (c.eos_token_ids.size() == 1) g["eos_token_id"] = c.eos_token_ids[0];
  if (c.eos_token_ids.size() > 1) g["eos_token_id"] = c.eos_token_ids;
  return g;
}

// A tokenizer_config.json for a bare tokenizer.json (one r1 trained): the fast-tokenizer class and the special
// tokens the model's config names, so AutoTokenizer knows its BOS/EOS.
nlohmann::json tokenizer_config_for(const Tokenizer& tok, const ModelConfig& c) {
  nlohmann::json t = {{"tokenizer_class", "PreTrainedTokenizerFast"},
                      {"model_max_length", c.max_position_embeddings},
                      {"clean_up_tokenization_spaces", false}};
  if (c.bos_token_id >= 0 && !tok.id_to_token(c.bos_token_id).empty()) t["bos_token"] = tok.id_to_token(c.bos_token_id);
  if (!c.eos_token_ids.empty() && !tok.id_to_token(c.eos_token_ids[0]).empty())
    t["eos_token"] = tok.id_to_token(c.eos_token_ids[0]);
  return t;
}

// Where the tokenizer comes from: --tokenizer (a directory or a tokenizer.json), else the source model directory.
// Returns the directory and the tokenizer.json path ("" when there is none).
std::pair<fs::path, fs::path> tokenizer_source(const ConvertArgs& a, bool model_is_dir) {
  if (!a.tokenizer.empty()) {
    const fs::path p(a.tokenizer);
    if (fs::is_regular_file(p)) return {p.parent_path(), p};
    if (!fs::is_regular_file(p / "tokenizer.json")) fail_in_file(a.tokenizer, "no tokenizer.json here (--tokenizer)");
    return {p, p / "tokenizer.json"};
  }
  if (model_is_dir && fs::is_regular_file(fs::path(a.model) / "tokenizer.json"))
    return {fs::path(a.model), fs::path(a.model) / "tokenizer.json"};
  return {};
}

void run_convert(const ConvertArgs& a) {
  const DType dtype = parse_dtype(a.dtype);
  const bool from_dir = is_model_dir(a.model);
  const ModelConfig config =
      from_dir ? load_model_config((fs::path(a.model) / "config.json").string()) : builtin_model_config(a.model);
  const ParamLayout layout(config);
  std::vector<float> params(size_t(layout.total()));
  if (from_dir)
    load_hf_weights(a.model, layout, params.data());
  else
    init_params(config, layout, params.data(), a.seed);

  const fs::path out(a.output);
  if (from_dir && fs::exists(out) && fs::equivalent(out, fs::path(a.model)))
    fail_in_file(a.output, "is the source model directory: write the converted model elsewhere");
  if (fs::exists(out / "config.json") && !a.overwrite)
    fail_in_file(a.output, "already holds a model (config.json): pass --overwrite to replace it");
  fs::create_directories(out);
  // A fresh model.safetensors takes precedence over an index in both loaders, but a stale index beside it
  // would still describe other weights to anyone reading the directory.
  if (fs::exists(out / "model.safetensors.index.json")) fs::remove(out / "model.safetensors.index.json");

  // Everything but config.json first: save_hf_checkpoint writes config.json last, which marks the directory
  // complete.
  std::vector<std::string> written;
  const auto [tok_dir, tok_json] = tokenizer_source(a, from_dir);
  if (!tok_json.empty()) {
    const Tokenizer tok = Tokenizer::from_file(tok_json.string());  // validates it, and checks it fits the model
    if (tok.vocab_size() > config.vocab_size)
      fail_in_file(tok_json.string(), "has token ids up to " + std::to_string(tok.vocab_size() - 1) +
                                          " but the model's vocab_size is " + std::to_string(config.vocab_size));
    write_file_atomic((out / "tokenizer.json").string(), read_text(tok_json));
    written.push_back("tokenizer.json");
    for (const char* f : kTokenizerFiles) {
      if (std::string(f) == "tokenizer.json" || !fs::is_regular_file(tok_dir / f)) continue;
      write_file_atomic((out / f).string(), read_text(tok_dir / f));
      written.push_back(f);
    }
    if (!fs::is_regular_file(tok_dir / "tokenizer_config.json")) {
      write_file_atomic((out / "tokenizer_config.json").string(), tokenizer_config_for(tok, config).dump(2) + "\n");
      written.push_back("tokenizer_config.json (generated)");
    }
  }
  const fs::path src_gen = fs::path(a.model) / "generation_config.json";
  if (from_dir && fs::is_regular_file(src_gen)) {
    write_file_atomic((out / "generation_config.json").string(), read_text(src_gen));
    written.push_back("generation_config.json");
  } else {
    write_file_atomic((out / "generation_config.json").string(), generation_config_for(config).dump(2) + "\n");
    written.push_back("generation_config.json (generated)");
  }
  save_hf_checkpoint(out.string(), config, layout, params.data(), dtype);

  std::printf("wrote %s: %s model, %lld parameters (%s weights from %s), model.safetensors (%s), config.json",
              out.c_str(), config.model_type.c_str(), (long long)layout.total(), from_dir ? "loaded" : "fresh",
              from_dir ? a.model.c_str() : ("built-in '" + a.model + "', seed " + std::to_string(a.seed)).c_str(),
              dtype_name(dtype));
  for (const auto& w : written) std::printf(", %s", w.c_str());
  std::printf("\n");
}

}  // namespace

void register_convert(CLI::App& app) {
  auto a = std::make_shared<ConvertArgs>();
  auto* cmd = app.add_subcommand(
      "convert", "Write a complete Hugging Face model directory (config, generation config, weights, tokenizer)");
  cmd->add_option("--model", a->model,
                  "Source: a model directory, or a built-in shape (tiny, small, qwen2.5-0.5b) "
                  "with fresh weights")
      ->required();
  cmd->add_option("--output,-o", a->output, "Output directory")->required();
  cmd->add_option("--dtype", a->dtype, "Stored weight dtype: f32, bf16 or f16")->capture_default_str();
  cmd->add_option("--tokenizer", a->tokenizer,
                  "Tokenizer directory or tokenizer.json to include (default: the source directory's, if any)");
  cmd->add_option("--seed", a->seed, "Initialisation seed for a built-in shape")->capture_default_str();
  cmd->add_flag("--overwrite", a->overwrite, "Replace a model already in the output directory");
  cmd->callback([a] { run_convert(*a); });
}

}  // namespace r1::cli
