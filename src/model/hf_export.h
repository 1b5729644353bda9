// A COMPLETE Hugging Face model directory, written atomically: config.json, generation_config.json, the weights
// (model.safetensors, or shards + model.safetensors.index.json when large) and the tokenizer (tokenizer.json,
// tokenizer_config.json and the other tokenizer files the source has), so that transformers'
// AutoModelForCausalLM, AutoTokenizer and GenerationConfig.from_pretrained all load it as it is.
//
// Every checkpoint r1 writes goes through here (r1 convert, pretrain, SFT, GRPO). The directory is built beside
// its target (<dir>.tmp) and swapped in with one rename (renameat2 RENAME_EXCHANGE when a previous directory
// exists), so a reader or a crash sees the old directory or the new one, never a mixture; a failure while
// writing removes the temporary directory and leaves the previous one untouched.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/param_layout.h"

namespace r1 {

struct HfExportOptions {
  DType dtype = DType::F32;  // how the weights are stored (config.json's torch_dtype follows)
  // The model directory the weights came from ("" when none): its tokenizer files and generation_config.json
  // are carried over. It may be the target directory itself (read before the swap).
  std::string source_dir;
  // A tokenizer directory or a tokenizer.json file; overrides source_dir's tokenizer when given.
  std::string tokenizer;
  // Fields merged over generation_config.json last (e.g. {"do_sample": true, "temperature": 1.0}).
  nlohmann::json generation_overrides = nlohmann::json::object();
  int64_t max_shard_bytes = kDefaultMaxShardBytes;
};

struct HfExportResult {
  std::vector<std::string> files;     // every file of the directory, sorted
  std::vector<std::string> warnings;  // also logged: e.g. "no tokenizer" (AutoTokenizer will not load it)
};

// Writes the directory (see the top of this file); r1::Error naming the file at fault for a tokenizer whose ids
// exceed the model's vocabulary, an unreadable source file, or a target that is not a model directory (it is
// replaced wholesale, so one holding other files is refused rather than deleted).
HfExportResult save_hf_model_dir(const std::string& dir, const ModelConfig& config, const ParamLayout& layout,
                                 const float* params, const HfExportOptions& options = {});

// generation_config.json: the source's (when given, a parsed object) with bos/eos/pad token ids filled in from
// the config where it lacks them; pad falls back to `tokenizer_pad_id` (>= 0), what tokenizer_config.json names.
nlohmann::json generation_config_for(const ModelConfig& config, const nlohmann::json& source = nullptr,
                                     int tokenizer_pad_id = -1);

// Tokenizer files transformers reads beside the weights; save_hf_model_dir copies those the source has.
const std::vector<std::string>& hf_tokenizer_files();

}  // namespace r1
