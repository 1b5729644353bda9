// ModelConfig: the HF config.json of the dense decoder families r1.cpp trains — Qwen2/Qwen2.5 ("qwen2", which
// includes the DeepSeek-R1-Distill-Qwen models) and Llama-3.x ("llama") — with field names as transformers
// spells them. Parsing is strict about what changes the computation (sizes, biases, activation, RoPE scaling,
// sliding windows, quantization) and ignores the many keys HF adds that do not (use_cache, initializer_range,
// transformers_version...). Every rejected input is an r1::Error naming the file and the field.
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
  // q/k/v projection biases: Qwen2 always has them (and no o_proj bias); for Llama the key also gives o_proj a
  // bias, as transformers' LlamaAttention does (attention_bias_on_o_proj below).
  bool attention_bias = false;
  bool mlp_bias = false;  // Llama only: gate/up/down projection biases
  struct RopeScaling {
    std::string type;  // "" (none) or "llama3"
    float factor = 1, low_freq_factor = 1, high_freq_factor = 4;
    int original_max_position_embeddings = 8192;
    bool operator==(const RopeScaling&) const = default;
  } rope_scaling;
  std::vector<int> eos_token_ids;
  int bos_token_id = -1;                // -1: none
  int pad_token_id = -1;                // -1: none
  std::string torch_dtype = "float32";  // "float32" | "bfloat16" | "float16": the dtype the weights are stored in

  bool operator==(const ModelConfig&) const = default;
};

// The model_type values r1.cpp implements: {"qwen2", "llama"}.
const std::vector<std::string>& supported_model_types();

// Reads and validates config.json; errors name the file and the field.
ModelConfig load_model_config(const std::string& path);
// Same, from parsed JSON; `source_name` is what errors call the origin (normally the file path).
ModelConfig parse_model_config(const nlohmann::json& j, const std::string& source_name);
// A config.json that transformers' AutoConfig reads back to the same model, and parse_model_config to an equal
// ModelConfig (floats are written as their shortest decimal form, e.g. 1e-06 rather than 9.99999997e-07).
nlohmann::json model_config_to_json(const ModelConfig& c);

// Built-in configurations: "tiny" (vocab 512, hidden 64, 2 layers, 4 heads, 2 kv heads, ffn 128; the CPU main
// job), "small" (vocab 4096, hidden 256, 4 layers, 8 heads, 2 kv heads, ffn 768) and "qwen2.5-0.5b" (the real
// model's shape, for benchmarks). All are qwen2-style: q/k/v biases, tied embeddings. Unknown name -> r1::Error
// listing the known ones.
ModelConfig builtin_model_config(const std::string& name);
std::vector<std::string> builtin_model_names();

// Checks internal consistency (positive sizes, head divisibility, RoPE scaling, token ids in range...);
// `source` names the origin in errors. parse_model_config and builtin_model_config call it.
void validate_model_config(const ModelConfig& c, const std::string& source);

// True when o_proj carries a bias: Llama with attention_bias (Qwen2's o_proj never has one).
bool attention_bias_on_o_proj(const ModelConfig& c);

// Number of parameters, from the closed formula (tied embeddings counted once). ParamLayout(c).total() builds
// the same number tensor by tensor; the tests hold the two against each other.
int64_t count_parameters(const ModelConfig& c);

}  // namespace r1
