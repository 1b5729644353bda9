// config.json <-> ModelConfig. Defaults for absent keys are the ones transformers' Qwen2Config / LlamaConfig
// use, so a config that loads there loads here to the same model.
#include "model/config.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>

#include "core/error.h"

namespace r1 {

namespace {

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// Reads typed fields of one JSON object; `prefix` makes nested keys read "rope_scaling.factor" in errors.
// A key that is absent or null takes the fallback; a present key of the wrong type is an error, never ignored.
class Fields {
 public:
  Fields(const nlohmann::json& j, std::string src, std::string prefix = "")
      : j_(j), src_(std::move(src)), prefix_(std::move(prefix)) {}

  bool has(const std::string& key) const { return j_.contains(key) && !j_[key].is_null(); }
  [[noreturn]] void fail(const std::string& key, const std::string& message) const {
    fail_in_field(src_, prefix_ + key, message);
  }

  int integer(const std::string& key) const {
    const auto& v = need(key);
    if (!v.is_number_integer()) fail(key, "must be an integer, got " + v.dump());
    const bool fits = v.is_number_unsigned() ? v.get<uint64_t>() <= uint64_t(std::numeric_limits<int>::max())
                                             : v.get<int64_t>() >= std::numeric_limits<int>::min() &&
                                                   v.get<int64_t>() <= std::numeric_limits<int>::max();
    if (!fits) fail(key, "integer " + v.dump() + " is out of range");
    return v.get<int>();
  }
  int integer(const std::string& key, int fallback) const { return has(key) ? integer(key) : fallback; }

  float number(const std::string& key) const {
    const auto& v = need(key);
    if (!v.is_number()) fail(key, "must be a number, got " + v.dump());
    const double d = v.get<double>();
    if (!std::isfinite(d) || std::fabs(d) > double(std::numeric_limits<float>::max()))
      fail(key, "number " + v.dump() + " is out of the float range");
    return float(d);
  }
  float number(const std::string& key, float fallback) const { return has(key) ? number(key) : fallback; }

  bool boolean(const std::string& key, bool fallback) const {
    if (!has(key)) return fallback;
    const auto& v = j_[key];
    if (!v.is_boolean()) fail(key, "must be true or false, got " + v.dump());
    return v.get<bool>();
  }

  std::string string(const std::string& key) const {
    const auto& v = need(key);
    if (!v.is_string()) fail(key, "must be a string, got " + v.dump());
    return v.get<std::string>();
  }
  std::string string(const std::string& key, const std::string& fallback) const {
    return has(key) ? string(key) : fallback;
  }

 private:
  const nlohmann::json& need(const std::string& key) const {
    if (!has(key)) fail(key, "missing (required)");
    return j_[key];
  }
  const nlohmann::json& j_;
  std::string src_, prefix_;
};

void positive(int v, const std::string& key, const std::string& src) {
  if (v <= 0) fail_in_field(src, key, "must be positive, got " + std::to_string(v));
}

void token_in_vocab(int id, const std::string& key, const ModelConfig& c, const std::string& src) {
  if (id < 0 || id >= c.vocab_size)
    fail_in_field(
        src, key,
        "token id " + std::to_string(id) + " is outside the vocabulary [0, " + std::to_string(c.vocab_size) + ")");
}

// The shortest decimal that reads back as the same float, as a JSON number: 1e-06, not 9.999999974752427e-07.
nlohmann::json float_json(float f) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, f);
  return nlohmann::json(std::strtod(std::string(buf, r.ptr).c_str(), nullptr));
}

// RoPE scaling from `key`: "rope_scaling" (transformers < 5) or "rope_parameters" (transformers >= 5, which
// also moves rope_theta inside it and writes {"rope_type": "default"} for plain RoPE).
void parse_rope_scaling(const nlohmann::json& j, const std::string& key, const std::string& src, ModelConfig& c) {
  if (!j.contains(key) || j[key].is_null()) return;
  const auto& rs = j[key];
  if (!rs.is_object()) fail_in_field(src, key, "must be an object or null, got " + rs.dump());
  const Fields f(rs, src, key + ".");
  if (key == "rope_parameters") {  // authoritative: it replaces whatever rope_scaling said
    c.rope_scaling = {};
    c.rope_theta = f.number("rope_theta", c.rope_theta);
    if (!f.has("rope_type") && !f.has("type")) return;
  }
  // transformers >= 4.45 writes "rope_type"; older Llama configs wrote "type". Prefer the newer key.
  const std::string type_key = f.has("rope_type") ? "rope_type" : "type";
  const std::string type = f.string(type_key);
  if (type == "default") return;
  if (type != "llama3")
    f.fail(type_key, "unsupported RoPE scaling '" + type + "' (supported: llama3, default, or null)");
  // transformers requires all four llama3 keys (its rope validation raises on a missing one): so do we.
  c.rope_scaling.type = type;
  c.rope_scaling.factor = f.number("factor");
  c.rope_scaling.low_freq_factor = f.number("low_freq_factor");
  c.rope_scaling.high_freq_factor = f.number("high_freq_factor");
  c.rope_scaling.original_max_position_embeddings = f.integer("original_max_position_embeddings");
}

void parse_token_ids(const nlohmann::json& j, const std::string& src, ModelConfig& c) {
  if (j.contains("eos_token_id") && !j["eos_token_id"].is_null()) {
    const auto& e = j["eos_token_id"];
    const auto bad = [&] {
      fail_in_field(src, "eos_token_id", "must be an integer or a list of integers, got " + e.dump());
    };
    if (e.is_number_integer()) {
      c.eos_token_ids = {Fields(j, src).integer("eos_token_id")};
    } else if (e.is_array()) {
      for (const auto& x : e) {
        if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > std::numeric_limits<int>::max()) bad();
        c.eos_token_ids.push_back(x.get<int>());
      }
    } else {
      bad();
    }
  }
  c.bos_token_id = Fields(j, src).integer("bos_token_id", -1);
  c.pad_token_id = Fields(j, src).integer("pad_token_id", -1);
}

}  // namespace

const std::vector<std::string>& supported_model_types() {
  static const std::vector<std::string> kTypes = {"qwen2", "llama"};
  return kTypes;
}

void validate_model_config(const ModelConfig& c, const std::string& src) {
  bool supported = false;
  for (const auto& t : supported_model_types()) supported |= c.model_type == t;
  if (!supported)
    fail_in_field(src, "model_type",
                  "unsupported model type '" + c.model_type + "' (supported: " + join(supported_model_types()) + ")");
  positive(c.vocab_size, "vocab_size", src);
  positive(c.hidden_size, "hidden_size", src);
  positive(c.intermediate_size, "intermediate_size", src);
  positive(c.num_hidden_layers, "num_hidden_layers", src);
  positive(c.num_attention_heads, "num_attention_heads", src);
  positive(c.num_key_value_heads, "num_key_value_heads", src);
  positive(c.head_dim, "head_dim", src);
  positive(c.max_position_embeddings, "max_position_embeddings", src);
  // Grouped-query attention shares each k/v head among heads/kv_heads query heads.
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    fail_in_field(src, "num_key_value_heads",
                  std::to_string(c.num_key_value_heads) + " does not divide num_attention_heads " +
                      std::to_string(c.num_attention_heads));
  // RoPE rotates pairs of dimensions.
  if (c.head_dim % 2 != 0)
    fail_in_field(src, "head_dim", "must be even for rotary embeddings, got " + std::to_string(c.head_dim));
  if (!(c.rms_norm_eps > 0)) fail_in_field(src, "rms_norm_eps", "must be positive");
  if (!(c.rope_theta > 0)) fail_in_field(src, "rope_theta", "must be positive");
  const auto& rs = c.rope_scaling;
  if (!rs.type.empty()) {
    if (rs.type != "llama3")
      fail_in_field(src, "rope_scaling.rope_type",
                    "unsupported RoPE scaling '" + rs.type + "' (supported: llama3, or none)");
    if (!(rs.factor >= 1)) fail_in_field(src, "rope_scaling.factor", "must be >= 1");
    if (!(rs.low_freq_factor > 0)) fail_in_field(src, "rope_scaling.low_freq_factor", "must be positive");
    // The llama3 rule interpolates between the two wavelength bounds, dividing by their difference.
    if (!(rs.high_freq_factor > rs.low_freq_factor))
      fail_in_field(src, "rope_scaling.high_freq_factor", "must exceed low_freq_factor");
    positive(rs.original_max_position_embeddings, "rope_scaling.original_max_position_embeddings", src);
  }
  for (int id : c.eos_token_ids) token_in_vocab(id, "eos_token_id", c, src);
  if (c.bos_token_id != -1) token_in_vocab(c.bos_token_id, "bos_token_id", c, src);
  if (c.pad_token_id != -1) token_in_vocab(c.pad_token_id, "pad_token_id", c, src);
  if (c.model_type == "qwen2" && c.mlp_bias)
    fail_in_field(src, "mlp_bias", "Qwen2's MLP has no biases (transformers ignores the key)");
  if (c.torch_dtype != "float32" && c.torch_dtype != "bfloat16" && c.torch_dtype != "float16")
    fail_in_field(src, "torch_dtype",
                  "unsupported dtype '" + c.torch_dtype + "' (supported: float32, bfloat16, float16)");
}

ModelConfig parse_model_config(const nlohmann::json& j, const std::string& src) {
  if (!j.is_object()) fail_in_file(src, "a model config must be a JSON object");
  const Fields f(j, src);
  ModelConfig c;
  if (!f.has("model_type"))
    f.fail("model_type", "missing (required; supported: " + join(supported_model_types()) + ")");
  c.model_type = f.string("model_type");
  const bool qwen2 = c.model_type == "qwen2";
  if (!qwen2 && c.model_type != "llama")
    f.fail("model_type",
           "unsupported model type '" + c.model_type + "' (supported: " + join(supported_model_types()) + ")");

  // What we cannot compute must not load silently as something else.
  if (f.has("quantization_config")) f.fail("quantization_config", "quantized checkpoints are not supported");
  const std::string act_key = f.has("hidden_act") ? "hidden_act" : "hidden_activation";
  const std::string act = f.string(act_key, "silu");
  if (act != "silu" && act != "swish")
    f.fail(act_key, "unsupported activation '" + act + "' (the SwiGLU MLP needs silu)");
  if (qwen2 && f.boolean("use_sliding_window", false))
    f.fail("use_sliding_window", "sliding-window attention is not supported");

  c.vocab_size = f.integer("vocab_size");
  c.hidden_size = f.integer("hidden_size");
  c.intermediate_size = f.integer("intermediate_size");
  c.num_hidden_layers = f.integer("num_hidden_layers");
  c.num_attention_heads = f.integer("num_attention_heads");
  positive(c.hidden_size, "hidden_size", src);
  positive(c.num_attention_heads, "num_attention_heads", src);
  // transformers: a null/absent num_key_value_heads means multi-head attention (one k/v head per head).
  c.num_key_value_heads = f.integer("num_key_value_heads", c.num_attention_heads);
  if (!f.has("head_dim") && c.hidden_size % c.num_attention_heads != 0)
    f.fail("num_attention_heads", std::to_string(c.num_attention_heads) + " does not divide hidden_size " +
                                      std::to_string(c.hidden_size) + " and no head_dim is given");
  c.head_dim = f.integer("head_dim", c.hidden_size / c.num_attention_heads);
  c.max_position_embeddings = f.integer("max_position_embeddings", qwen2 ? 32768 : 2048);
  c.rms_norm_eps = f.number("rms_norm_eps", 1e-6f);
  c.rope_theta = f.number("rope_theta", 10000.0f);
  c.tie_word_embeddings = f.boolean("tie_word_embeddings", false);
  // Qwen2's modeling code hard-codes bias=True on q/k/v (its config has no attention_bias key); Llama reads it.
  c.attention_bias = qwen2 ? true : f.boolean("attention_bias", false);
  // Qwen2's MLP has no biases whatever the file says; Llama's follow mlp_bias.
  c.mlp_bias = qwen2 ? false : f.boolean("mlp_bias", false);
  // transformers >= 5 writes only rope_parameters; older files only rope_theta + rope_scaling. Should a file
  // carry both, rope_parameters (read last) is what transformers 5 uses.
  parse_rope_scaling(j, "rope_scaling", src, c);
  parse_rope_scaling(j, "rope_parameters", src, c);
  parse_token_ids(j, src, c);
  // transformers >= 4.56 writes "dtype"; earlier versions "torch_dtype".
  c.torch_dtype = f.has("torch_dtype") ? f.string("torch_dtype") : f.string("dtype", "float32");
  validate_model_config(c, src);
  return c;
}

ModelConfig load_model_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail_in_file(path, "cannot open the model config");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail_in_file(path, std::string("invalid JSON: ") + e.what());
  }
  return parse_model_config(j, path);
}

nlohmann::json model_config_to_json(const ModelConfig& c) {
  const bool qwen2 = c.model_type == "qwen2";
  // A plain json object dumps its keys sorted, which is also how transformers writes config.json.
  nlohmann::json j;
  j["architectures"] = {qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM"};
  j["model_type"] = c.model_type;
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  j["head_dim"] = c.head_dim;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["hidden_act"] = "silu";
  j["rms_norm_eps"] = float_json(c.rms_norm_eps);
  j["rope_theta"] = float_json(c.rope_theta);
  j["rope_scaling"] = nullptr;
  if (c.rope_scaling.type == "llama3")
    j["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", float_json(c.rope_scaling.factor)},
                         {"low_freq_factor", float_json(c.rope_scaling.low_freq_factor)},
                         {"high_freq_factor", float_json(c.rope_scaling.high_freq_factor)},
                         {"original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings}};
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  if (qwen2) {
    j["use_sliding_window"] = false;
    j["max_window_layers"] = c.num_hidden_layers;
  } else {
    j["attention_bias"] = c.attention_bias;
    j["mlp_bias"] = c.mlp_bias;
  }
  if (c.bos_token_id >= 0) j["bos_token_id"] = c.bos_token_id;
  if (c.pad_token_id >= 0) j["pad_token_id"] = c.pad_token_id;
  if (c.eos_token_ids.size() == 1)
    j["eos_token_id"] = c.eos_token_ids[0];
  else if (!c.eos_token_ids.empty())
    j["eos_token_id"] = c.eos_token_ids;
  j["initializer_range"] = 0.02;
  j["attention_dropout"] = 0.0;
  j["use_cache"] = true;
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
    throw Error("unknown built-in model '" + name + "' (known: " + join(builtin_model_names()) +
                "; or pass a Hugging Face model directory)");
  }
  c.head_dim = c.hidden_size / c.num_attention_heads;
  validate_model_config(c, "built-in model '" + name + "'");
  return c;
}

bool attention_bias_on_o_proj(const ModelConfig& c) { return c.attention_bias && c.model_type == "llama"; }

int64_t count_parameters(const ModelConfig& c) {
  const int64_t V = c.vocab_size, H = c.hidden_size, F = c.intermediate_size, L = c.num_hidden_layers;
  const int64_t QD = int64_t(c.num_attention_heads) * c.head_dim, KVD = int64_t(c.num_key_value_heads) * c.head_dim;
  // Per layer: two RMSNorm gains, q/k/v/o projections (+ q/k/v biases, + o bias for Llama), gate/up/down
  // projections (+ their biases).
  const int64_t attention = H * QD + 2 * H * KVD + QD * H + (c.attention_bias ? QD + 2 * KVD : 0) +
                            (attention_bias_on_o_proj(c) ? H : 0);
  const int64_t mlp = 3 * H * F + (c.mlp_bias ? 2 * F + H : 0);
  const int64_t per_layer = 2 * H + attention + mlp;
  return V * H + L * per_layer + H + (c.tie_word_embeddings ? 0 : V * H);
}

}  // namespace r1
