// ModelConfig: the HF config.json of the dense families r1.cpp trains (Qwen2/Qwen2.5 "qwen2", Llama-3 "llama"),
// with names as transformers spells them, validated on load: a wrong field is an error naming file and field.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace r1 {

struct ModelConfig {
  std::string model_type;  // "qwen2" | "llama"
  int vocab_size = 0, hidden_size = 0, intermediate_size = 0, num_hidden_layers = 0, num_attention_heads = 0,
      num_key_value_heads = 0, head_dim = 0, max_position_embeddings = 0;
  float rms_norm_eps = 1e-6f, rope_theta = 10000.0f;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v projection biases (Qwen2 always has them)
  struct RopeScaling {
    std::string type;  // "" (none) or "llama3"
    float factor = 1, low_freq_factor = 1, high_freq_factor = 4;
    int original_max_position_embeddings = 8192;
  } rope_scaling;
  std::vector<int> eos_token_ids;
  int bos_token_id = -1;
  std::string torch_dtype = "float32";
};

// Reads and validates config.json; errors name the file and the field.
ModelConfig load_model_config(const std::string& path);
ModelConfig parse_model_config(const nlohmann::json& j, const std::string& source_name);
// A config.json transformers' AutoConfig reads back to the same model.
nlohmann::json model_config_to_json(const ModelConfig& c);
// Built-in configurations: "tiny" (the CPU main job), "small", "qwen2.5-0.5b" (shape only, for benchmarks).
ModelConfig builtin_model_config(const std::string& name);
std::vector<std::string> builtin_model_names();
// Checks internal consistency (positive sizes, head divisibility...); `source` names the origin in errors.
void validate_model_config(const ModelConfig& c, const std::string& source);
int64_t count_parameters(const ModelConfig& c);

}  // namespace r1
