#include "model/config.h"

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "model/param_layout.h"

namespace r1 {

namespace {

const char* kSupported = "qwen2, llama";

template <typename T>
T required(const nlohmann::json& j, const std::string& key, const std::string& src) {
  if (!j.contains(key) || j[key].is_null()) fail_in_field(src, key, "missing (required)");
  try {
    if constexpr (std::is_same_v<T, int>) {
      if (!j[key].is_number_integer()) fail_in_field(src, key, "must be an integer, got " + j[key].dump());
    } else if constexpr (std::is_same_v<T, float>) {
      if (!j[key].is_number()) fail_in_field(src, key, "must be a number, got " + j[key].dump());
    }
    return j[key].get<T>();
  } catch (const nlohmann::json::exception& e) {
    fail_in_field(src, key, std::string("has the wrong type: ") + e.what());
  }
}

template <typename T>
T optional(const nlohmann::json& j, const std::string& key, T fallback, const std::string& src) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  return required<T>(j, key, src);
}

void positive(int v, const std::string& key, const std::string& src) {
  if (v <= 0) fail_in_field(src, key, "must be positive, got " + std::to_string(v));
}

}  // namespace

void validate_model_config(const ModelConfig& c, const std::string& src) {
  if (c.model_type != "qwen2" && c.model_type != "llama")
    fail_in_field(src, "model_type", "unsupported model type '" + c.model_type + "' (supported: " + kSupported + ")");
  positive(c.vocab_size, "vocab_size", src);
  positive(c.hidden_size, "hidden_size", src);
  positive(c.intermediate_size, "intermediate_size", src);
  positive(c.num_hidden_layers, "num_hidden_layers", src);
  positive(c.num_attention_heads, "num_attention_heads", src);
  positive(c.num_key_value_heads, "num_key_value_heads", src);
  positive(c.head_dim, "head_dim", src);
  positive(c.max_position_embeddings, "max_position_embeddings", src);
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    fail_in_field(src, "num_key_value_heads",
                  std::to_string(c.num_key_value_heads) + " does not divide num_attention_heads " +
                      std::to_string(c.num_attention_heads));
  if (c.head_dim % 2 != 0) fail_in_field(src, "head_dim", "must be even for rotary embeddings");
  if (!(c.rms_norm_eps > 0)) fail_in_field(src, "rms_norm_eps", "must be positive");
  if (!(c.rope_theta > 0)) fail_in_field(src, "rope_theta", "must be positive");
  if (!c.rope_scaling.type.empty() && c.rope_scaling.type != "llama3")
    fail_in_field(src, "rope_scaling.rope_type", "unsupported rope scaling '" + c.rope_scaling.type +
                                                     "' (supported: llama3, or none)");
  if (c.rope_scaling.type == "llama3" && !(c.rope_scaling.factor > 0))
    fail_in_field(src, "rope_scaling.factor", "must be positive");
}

ModelConfig parse_model_config(const nlohmann::json& j, const std::string& src) {
  if (!j.is_object()) fail_in_file(src, "config.json must be a JSON object");
  ModelConfig c;
  if (!j.contains("model_type") || !j["model_type"].is_string())
    fail_in_field(src, "model_type", std::string("missing or not a string (supported: ") + kSupported + ")");
  c.model_type = j["model_type"].get<std::string>();
  if (c.model_type != "qwen2" && c.model_type != "llama")
    fail_in_field(src, "model_type", "unsupported model type '" + c.model_type + "' (supported: " + kSupported + ")");
  c.vocab_size = required<int>(j, "vocab_size", src);
  c.hidden_size = required<int>(j, "hidden_size", src);
  c.intermediate_size = required<int>(j, "intermediate_size", src);
  c.num_hidden_layers = required<int>(j, "num_hidden_layers", src);
  c.num_attention_heads = required<int>(j, "num_attention_heads", src);
  positive(c.hidden_size, "hidden_size", src);
  positive(c.num_attention_heads, "num_attention_heads", src);
  c.num_key_value_heads = optional<int>(j, "num_key_value_heads", c.num_attention_heads, src);
  if (c.hidden_size % c.num_attention_heads != 0 && !j.contains("head_dim"))
    fail_in_field(src, "num_attention_heads", "does not divide hidden_size and no head_dim is given");
  c.head_dim = optional<int>(j, "head_dim", c.hidden_size / c.num_attention_heads, src);
  c.max_position_embeddings = optional<int>(j, "max_position_embeddings", 4096, src);
  c.rms_norm_eps = optional<float>(j, "rms_norm_eps", 1e-6f, src);
  c.rope_theta = optional<float>(j, "rope_theta", 10000.0f, src);
  c.tie_word_embeddings = optional<bool>(j, "tie_word_embeddings", false, src);
  // Qwen2's q/k/v projections always carry biases (its modeling code hard-codes bias=True).
  c.attention_bias = c.model_type == "qwen2" ? true : optional<bool>(j, "attention_bias", false, src);
  if (c.model_type == "llama" && j.contains("mlp_bias") && j["mlp_bias"].is_boolean() && j["mlp_bias"].get<bool>())
    fail_in_field(src, "mlp_bias", "MLP biases are not supported");
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
    const auto& rs = j["rope_scaling"];
    if (!rs.is_object()) fail_in_field(src, "rope_scaling", "must be an object or null");
    const std::string key = rs.contains("rope_type") ? "rope_type" : "type";
    if (!rs.contains(key) || !rs[key].is_string()) fail_in_field(src, "rope_scaling.rope_type", "missing");
    const std::string type = rs[key].get<std::string>();
    if (type != "default") {
      c.rope_scaling.type = type;
      const std::string sub = src;
      c.rope_scaling.factor = optional<float>(rs, "factor", 1.0f, sub + ": rope_scaling");
      c.rope_scaling.low_freq_factor = optional<float>(rs, "low_freq_factor", 1.0f, sub + ": rope_scaling");
      c.rope_scaling.high_freq_factor = optional<float>(rs, "high_freq_factor", 4.0f, sub + ": rope_scaling");
      c.rope_scaling.original_max_position_embeddings =
          optional<int>(rs, "original_max_position_embeddings", 8192, sub + ": rope_scaling");
    }
  }
  if (j.contains("eos_token_id") && !j["eos_token_id"].is_null()) {
    const auto& e = j["eos_token_id"];
    if (e.is_number_integer()) c.eos_token_ids = {e.get<int>()};
    else if (e.is_array()) {
      for (const auto& x : e) {
        if (!x.is_number_integer()) fail_in_field(src, "eos_token_id", "must be an integer or a list of integers");
        c.eos_token_ids.push_back(x.get<int>());
      }
    } else {
      fail_in_field(src, "eos_token_id", "must be an integer or a list of integers");
    }
  }
  c.bos_token_id = optional<int>(j, "bos_token_id", -1, src);
  c.torch_dtype = optional<std::string>(j, "torch_dtype", std::string("float32"), src);
  validate_model_config(c, src);
  return c;
}

ModelConfig load_model_config(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail_in_file(path, "cannot open");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    fail_in_file(path, std::string("invalid JSON: ") + e.what());
  }
  return parse_model_config(j, path);
}

nlohmann::json model_config_to_json(const ModelConfig& c) {
  nlohmann::json j;
  j["architectures"] = {c.model_type == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"};
  j["model_type"] = c.model_type;
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  j["head_dim"] = c.head_dim;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["rope_theta"] = c.rope_theta;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["hidden_act"] = "silu";
  if (c.model_type == "llama") {
    j["attention_bias"] = c.attention_bias;
    j["mlp_bias"] = false;
  } else {
    j["use_sliding_window"] = false;
  }
  j["rope_scaling"] = nullptr;
  if (c.rope_scaling.type == "llama3")
    j["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", c.rope_scaling.factor},
                         {"low_freq_factor", c.rope_scaling.low_freq_factor},
                         {"high_freq_factor", c.rope_scaling.high_freq_factor},
                         {"original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings}};
  if (c.eos_token_ids.size() == 1) j["eos_token_id"] = c.eos_token_ids[0];
  else if (!c.eos_token_ids.empty()) j["eos_token_id"] = c.eos_token_ids;
  if (c.bos_token_id >= 0) j["bos_token_id"] = c.bos_token_id;
  j["torch_dtype"] = c.torch_dtype;
  return j;
}

std::vector<std::string> builtin_model_names() { return {"tiny", "small", "qwen2.5-0.5b"}; }

ModelConfig builtin_model_config(const std::string& name) {
  ModelConfig c;
  c.model_type = "qwen2";
  c.attention_bias = true;
  c.tie_word_embeddings = true;
  c.rope_theta = 10000.0f;
  c.rms_norm_eps = 1e-6f;
  if (name == "tiny") {
    c.vocab_size = 512, c.hidden_size = 64, c.intermediate_size = 128, c.num_hidden_layers = 2;
    c.num_attention_heads = 4, c.num_key_value_heads = 2, c.max_position_embeddings = 512;
  } else if (name == "small") {
    c.vocab_size = 4096, c.hidden_size = 256, c.intermediate_size = 768, c.num_hidden_layers = 4;
    c.num_attention_heads = 8, c.num_key_value_heads = 2, c.max_position_embeddings = 2048;
  } else if (name == "qwen2.5-0.5b") {
    c.vocab_size = 151936, c.hidden_size = 896, c.intermediate_size = 4864, c.num_hidden_layers = 24;
    c.num_attention_heads = 14, c.num_key_value_heads = 2, c.max_position_embeddings = 32768;
    c.rope_theta = 1000000.0f;
  } else {
    std::string known;
    for (const auto& n : builtin_model_names()) known += (known.empty() ? "" : ", ") + n;
    throw Error("unknown built-in model '" + name + "' (known: " + known + ")");
  }
  c.head_dim = c.hidden_size / c.num_attention_heads;
  validate_model_config(c, "built-in model '" + name + "'");
  return c;
}

int64_t count_parameters(const ModelConfig& c) { return ParamLayout(c).total(); }

}  // namespace r1
