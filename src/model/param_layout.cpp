#include "model/param_layout.h"

#include "core/error.h"

namespace r1 {

int64_t ParamLayout::add(const std::string& name, Shape shape, bool decay) {
  ParamInfo p{name, shape, total_, decay};
  index_[name] = params_.size();
  params_.push_back(p);
  total_ += shape.numel();
  return p.offset;
}

ParamLayout::ParamLayout(const ModelConfig& c) {
  const int64_t H = c.hidden_size, F = c.intermediate_size, V = c.vocab_size;
  const int64_t QD = int64_t(c.num_attention_heads) * c.head_dim, KVD = int64_t(c.num_key_value_heads) * c.head_dim;
  embed = add("model.embed_tokens.weight", {V, H}, true);
  for (int l = 0; l < c.num_hidden_layers; l++) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    Layer L{};
    L.input_norm = add(p + "input_layernorm.weight", {H}, false);
    L.q_w = add(p + "self_attn.q_proj.weight", {QD, H}, true);
    L.q_b = c.attention_bias ? add(p + "self_attn.q_proj.bias", {QD}, false) : -1;
    L.k_w = add(p + "self_attn.k_proj.weight", {KVD, H}, true);
    L.k_b = c.attention_bias ? add(p + "self_attn.k_proj.bias", {KVD}, false) : -1;
    L.v_w = add(p + "self_attn.v_proj.weight", {KVD, H}, true);
    L.v_b = c.attention_bias ? add(p + "self_attn.v_proj.bias", {KVD}, false) : -1;
    L.o_w = add(p + "self_attn.o_proj.weight", {H, QD}, true);
    L.post_norm = add(p + "post_attention_layernorm.weight", {H}, false);
    L.gate_w = add(p + "mlp.gate_proj.weight", {F, H}, true);
    L.up_w = add(p + "mlp.up_proj.weight", {F, H}, true);
    L.down_w = add(p + "mlp.down_proj.weight", {H, F}, true);
    layers_.push_back(L);
  }
  final_norm = add("model.norm.weight", {H}, false);
  lm_head = c.tie_word_embeddings ? embed : add("lm_head.weight", {V, H}, true);
}

const ParamInfo& ParamLayout::get(const std::string& hf_name) const {
  auto it = index_.find(hf_name);
  if (it == index_.end()) throw Error("model has no parameter named '" + hf_name + "'");
  return params_[it->second];
}

}  // namespace r1
