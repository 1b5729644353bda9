// The parameter table, written once in the order and with the names of the HF Qwen2/Llama state dict.
#include "model/param_layout.h"

#include "core/error.h"

namespace r1 {

int64_t ParamLayout::add(const std::string& name, Shape shape, ParamKind kind) {
  R1_CHECK(!index_.count(name), "duplicate parameter " + name);
  const bool decay = kind == ParamKind::Embedding || kind == ParamKind::Matrix;
  index_[name] = params_.size();
  params_.push_back(ParamInfo{name, shape, total_, decay, kind});
  total_ += shape.numel();
  return params_.back().offset;
}

ParamLayout::ParamLayout(const ModelConfig& c) {
  const int64_t H = c.hidden_size, F = c.intermediate_size, V = c.vocab_size;
  const int64_t QD = int64_t(c.num_attention_heads) * c.head_dim, KVD = int64_t(c.num_key_value_heads) * c.head_dim;
  using K = ParamKind;
  embed = add("model.embed_tokens.weight", {V, H}, K::Embedding);
  for (int l = 0; l < c.num_hidden_layers; l++) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    const auto bias_if = [&](bool present, const char* name, int64_t n) {
      return present ? add(p + name, {n}, K::Bias) : int64_t(-1);
    };
    const auto bias = [&](const char* name, int64_t n) { return bias_if(c.attention_bias, name, n); };
    Layer L{};
    L.input_norm = add(p + "input_layernorm.weight", {H}, K::Norm);
    L.q_w = add(p + "self_attn.q_proj.weight", {QD, H}, K::Matrix);
    L.q_b = bias("self_attn.q_proj.bias", QD);
    L.k_w = add(p + "self_attn.k_proj.weight", {KVD, H}, K::Matrix);
    L.k_b = bias("self_attn.k_proj.bias", KVD);
    L.v_w = add(p + "self_attn.v_proj.weight", {KVD, H}, K::Matrix);
    L.v_b = bias("self_attn.v_proj.bias", KVD);
    L.o_w = add(p + "self_attn.o_proj.weight", {H, QD}, K::Matrix);
    L.o_b = bias_if(attention_bias_on_o_proj(c), "self_attn.o_proj.bias", H);
    L.post_norm = add(p + "post_attention_layernorm.weight", {H}, K::Norm);
    L.gate_w = add(p + "mlp.gate_proj.weight", {F, H}, K::Matrix);
    L.gate_b = bias_if(c.mlp_bias, "mlp.gate_proj.bias", F);
    L.up_w = add(p + "mlp.up_proj.weight", {F, H}, K::Matrix);
    L.up_b = bias_if(c.mlp_bias, "mlp.up_proj.bias", F);
    L.down_w = add(p + "mlp.down_proj.weight", {H, F}, K::Matrix);
    L.down_b = bias_if(c.mlp_bias, "mlp.down_proj.bias", H);
    layers_.push_back(L);
  }
  final_norm = add("model.norm.weight", {H}, K::Norm);
  // Tied models (Qwen2.5-0.5B, Llama-3.2-1B) read logits through the embedding matrix and store no lm_head.
  lm_head = c.tie_word_embeddings ? embed : add("lm_head.weight", {V, H}, K::Matrix);
}

const ParamInfo* ParamLayout::find(const std::string& hf_name) const {
  auto it = index_.find(hf_name);
  return it == index_.end() ? nullptr : &params_[it->second];
}

const ParamInfo& ParamLayout::get(const std::string& hf_name) const {
  if (const ParamInfo* p = find(hf_name)) return *p;
  throw Error("parameter layout: tensor '" + hf_name + "': the model has no such parameter (it has " +
              std::to_string(params_.size()) + ", e.g. '" + params_.front().hf_name + "')");
}

const ParamLayout::Layer& ParamLayout::layer(int i) const {
  R1_CHECK(i >= 0 && i < num_layers(), "layer " + std::to_string(i) + " of " + std::to_string(num_layers()));
  return layers_[size_t(i)];
}

}  // namespace r1
