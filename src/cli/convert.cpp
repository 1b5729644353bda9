// `r1 convert`: writes a COMPLETE Hugging Face model directory — config.json, generation_config.json, the weights
// (float32, bf16 or f16; sharded past --max-shard-size) and, when there is one, the tokenizer (tokenizer.json +
// tokenizer_config.json) — from a model directory (ours or transformers') or a built-in shape with fresh weights.
// Thin over save_hf_model_dir (model/hf_export.h), which every checkpoint writer uses.
// transformers' AutoModelForCausalLM / AutoTokenizer.from_pretrained load the result as it is
// (bench/hf_compat/check_roundtrip.py checks that, and that r1 -> transformers -> r1 is bit-exact).
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/hf_export.h"
#include "model/param_layout.h"
#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;

namespace r1::cli {

namespace {

struct ConvertArgs {
  std::string model, output, dtype = "f32", tokenizer, max_shard_size = "5GB";
  uint64_t seed = 1234;
  bool overwrite = false;
};

DType parse_dtype(const std::string& s) {
  if (s == "f32" || s == "float32") return DType::F32;
  if (s == "bf16" || s == "bfloat16") return DType::BF16;
  if (s == "f16" || s == "float16") return DType::F16;
  throw Error("--dtype: unknown dtype '" + s + "' (use f32, bf16 or f16)");
}

// "5GB", "500MB", "64KB" (decimal units, as transformers' max_shard_size) or a plain number of bytes.
int64_t parse_size(const std::string& s) {
  size_t end = 0;
  double v = 0;
  try {
    v = std::stod(s, &end);
  } catch (const std::exception&) {
    throw Error("--max-shard-size: '" + s + "' is not a size (e.g. 5GB, 500MB or a number of bytes)");
  }
  std::string unit = s.substr(end);
  for (char& c : unit) c = char(std::toupper(static_cast<unsigned char>(c)));
  double scale = 0;
  if (unit.empty() || unit == "B") scale = 1;
  if (unit == "KB") scale = 1e3;
  if (unit == "MB") scale = 1e6;
  if (unit == "GB") scale = 1e9;
  if (scale == 0 || !(v * scale >= 1))
    throw Error("--max-shard-size: '" + s + "' is not a positive size (units: B, KB, MB, GB)");
  return int64_t(v * scale);
}

// The tokenizer the directory will carry, validated by loading it (ids must fit the model's vocabulary).
void check_tokenizer(const ConvertArgs& a, bool from_dir, const ModelConfig& config) {
  fs::path json;
  if (!a.tokenizer.empty())
    json = fs::is_regular_file(a.tokenizer) ? fs::path(a.tokenizer) : fs::path(a.tokenizer) / "tokenizer.json";
  else if (from_dir)
    json = fs::path(a.model) / "tokenizer.json";
  if (json.empty() || !fs::is_regular_file(json)) return;  // save_hf_model_dir names a missing --tokenizer
  const Tokenizer tok = Tokenizer::from_file(json.string());
  if (tok.vocab_size() > config.vocab_size)
    fail_in_file(json.string(), "has token ids up to " + std::to_string(tok.vocab_size() - 1) +
                                    " but the model's vocab_size is " + std::to_string(config.vocab_size));
}

void run_convert(const ConvertArgs& a) {
  HfExportOptions opts;
  opts.dtype = parse_dtype(a.dtype);
  opts.max_shard_bytes = parse_size(a.max_shard_size);
  opts.tokenizer = a.tokenizer;
  const bool from_dir = is_model_dir(a.model);
  if (from_dir) opts.source_dir = a.model;
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
  check_tokenizer(a, from_dir, config);
  const HfExportResult r = save_hf_model_dir(out.string(), config, layout, params.data(), opts);

  std::printf("wrote %s: %s model, %lld parameters (%s weights from %s, stored as %s):", out.c_str(),
              config.model_type.c_str(), (long long)layout.total(), from_dir ? "loaded" : "fresh",
              from_dir ? a.model.c_str() : ("built-in '" + a.model + "', seed " + std::to_string(a.seed)).c_str(),
              dtype_name(opts.dtype));
  for (const auto& f : r.files) std::printf(" %s", f.c_str());
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
  cmd->add_option("--max-shard-size", a->max_shard_size,
                  "Largest weights file (e.g. 5GB, 500MB); larger models are sharded with an index")
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "Initialisation seed for a built-in shape")->capture_default_str();
  cmd->add_flag("--overwrite", a->overwrite, "Replace a model already in the output directory");
  cmd->callback([a] { run_convert(*a); });
}

}  // namespace r1::cli
