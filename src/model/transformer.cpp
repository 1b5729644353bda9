#include "model/transformer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/ops.h"
#include "core/error.h"

namespace r1 {

namespace {

void zero(float* p, int64_t n) { std::memset(p, 0, size_t(n) * sizeof(float)); }

// A bias (or its gradient) at offset `at` of a flat buffer; null when the layout has none (offset -1), which the
// linear kernels read as "no bias".
template <typename T>
T* at_or_null(T* base, int64_t at) {
  return at >= 0 ? base + at : nullptr;
}

}  // namespace

cpu::RopeScaling rope_scaling_of(const ModelConfig& c) {
  cpu::RopeScaling s;
  if (c.rope_scaling.type == "llama3") {
    s.type = cpu::RopeScaling::Type::Llama3;
    s.factor = c.rope_scaling.factor;
    s.low_freq_factor = c.rope_scaling.low_freq_factor;
    s.high_freq_factor = c.rope_scaling.high_freq_factor;
    s.original_max_position = c.rope_scaling.original_max_position_embeddings;
  }
  return s;
}

Transformer::Transformer(const ModelConfig& config) : config_(config), layout_(config) {
  params_.assign(size_t(layout_.total()), 0.0f);
  grads_.assign(size_t(layout_.total()), 0.0f);
  const int D = config_.head_dim;
  rope_cos_.resize(size_t(config_.max_position_embeddings) * D / 2);
  rope_sin_.resize(rope_cos_.size());
  cpu::rope_tables(rope_cos_.data(), rope_sin_.data(), config_.max_position_embeddings, D, config_.rope_theta,
                   rope_scaling_of(config_));
}

void Transformer::zero_grads() { std::fill(grads_.begin(), grads_.end(), 0.0f); }

namespace {

// The activation plan: one function lays it out for both reserve() and activation_bytes().
struct ActPlan {
  MemoryPlan plan;
  std::vector<size_t> layer_first;  // index of each layer's first entry (14 entries per layer)
  size_t x_final, n_final, rstd_final, tmp_c, dres, dnorm, dF1, dF2, dF3, dq, datt, dk, dv;
};

ActPlan make_plan(const ModelConfig& c, int T) {
  ActPlan p;
  const int64_t C = c.hidden_size, F = c.intermediate_size, QD = int64_t(c.num_attention_heads) * c.head_dim,
                KVD = int64_t(c.num_key_value_heads) * c.head_dim, H = c.num_attention_heads;
  for (int l = 0; l < c.num_hidden_layers; l++) {
    const std::string L = "layer" + std::to_string(l) + ".";
    p.layer_first.push_back(p.plan.add(L + "x", {T, C}));
    p.plan.add(L + "n1", {T, C});
    p.plan.add(L + "rstd1", {T});
    p.plan.add(L + "q", {T, QD});
    p.plan.add(L + "k", {T, KVD});
    p.plan.add(L + "v", {T, KVD});
    p.plan.add(L + "att", {T, QD});
    p.plan.add(L + "lse", {T, H});
    p.plan.add(L + "h", {T, C});
    p.plan.add(L + "n2", {T, C});
    p.plan.add(L + "rstd2", {T});
    p.plan.add(L + "gate", {T, F});
    p.plan.add(L + "up", {T, F});
    p.plan.add(L + "act", {T, F});
  }
  p.x_final = p.plan.add("x_final", {T, C});
  p.n_final = p.plan.add("n_final", {T, C});
  p.rstd_final = p.plan.add("rstd_final", {T});
  p.tmp_c = p.plan.add("scratch.tmp_c", {T, C});
  p.dres = p.plan.add("grad.residual", {T, C});
  p.dnorm = p.plan.add("grad.norm_out", {T, C});
  p.dF1 = p.plan.add("grad.ffn_act", {T, F});
  p.dF2 = p.plan.add("grad.ffn_gate", {T, F});
  p.dF3 = p.plan.add("grad.ffn_up", {T, F});
  p.dq = p.plan.add("grad.q", {T, QD});
  p.datt = p.plan.add("grad.att", {T, QD});
  p.dk = p.plan.add("grad.k", {T, KVD});
  p.dv = p.plan.add("grad.v", {T, KVD});
  return p;
}

}  // namespace

size_t Transformer::activation_bytes(const ModelConfig& config, int max_tokens, int head_chunk) {
  // Plus the head's [chunk, vocab] logits scratch, the only vocabulary-sized buffer.
  return make_plan(config, max_tokens).plan.total_bytes() + size_t(head_chunk) * config.vocab_size * sizeof(float);
}

void Transformer::reserve(int max_tokens) {
  if (max_tokens <= capacity_) return;
  ActPlan p = make_plan(config_, max_tokens);
  layer_acts_.clear();
  for (size_t first : p.layer_first) {
    LayerActs a;
    size_t i = first;
    a.x = i++, a.n1 = i++, a.rstd1 = i++, a.q = i++, a.k = i++, a.v = i++, a.att = i++, a.lse = i++, a.h = i++,
    a.n2 = i++, a.rstd2 = i++, a.gate = i++, a.up = i++, a.act = i++;
    layer_acts_.push_back(a);
  }
  x_final_ = p.x_final, n_final_ = p.n_final, rstd_final_ = p.rstd_final;
  scratch_c_ = p.tmp_c, dresid_ = p.dres, dnorm_ = p.dnorm;
  scratch_f_ = p.dF1, scratch_kv1_ = p.dk, scratch_kv2_ = p.dv, scratch_q_ = p.dq, scratch_q2_ = p.datt;
  dF_gate_ = p.dF2, dF_up_ = p.dF3;
  acts_ = Arena(std::move(p.plan));
  capacity_ = max_tokens;
}

void Transformer::forward(const PackedBatch& batch) {
  const int T = batch.num_tokens(), B = batch.num_sequences();
  if (T > capacity_) reserve(T);
  const ModelConfig& c = config_;
  const int C = c.hidden_size, F = c.intermediate_size, Hq = c.num_attention_heads, Hkv = c.num_key_value_heads,
            D = c.head_dim;
  validate_batch(c, batch);
  const float* P = params_.data();
  float* x0 = layer_acts_.empty() ? act(x_final_) : act(layer_acts_[0].x);
  cpu::embedding_forward(x0, batch.tokens.data(), P + layout_.embed, T, C);
  float* tmp = act(scratch_c_);
  for (int l = 0; l < c.num_hidden_layers; l++) {
    const auto& w = layout_.layer(l);
    const LayerActs& a = layer_acts_[l];
    float* x = act(a.x);
    cpu::rmsnorm_forward(act(a.n1), act(a.rstd1), x, P + w.input_norm, T, C, c.rms_norm_eps);
    cpu::linear_forward(act(a.q), act(a.n1), P + w.q_w, at_or_null(P, w.q_b), T, C, Hq * D);
    cpu::linear_forward(act(a.k), act(a.n1), P + w.k_w, at_or_null(P, w.k_b), T, C, Hkv * D);
    cpu::linear_forward(act(a.v), act(a.n1), P + w.v_w, at_or_null(P, w.v_b), T, C, Hkv * D);
    cpu::rope_forward(act(a.q), batch.positions.data(), rope_cos_.data(), rope_sin_.data(), T, Hq, D);
    cpu::rope_forward(act(a.k), batch.positions.data(), rope_cos_.data(), rope_sin_.data(), T, Hkv, D);
    cpu::attention_forward(act(a.att), act(a.lse), act(a.q), act(a.k), act(a.v), batch.cu_seqlens.data(), B, T, Hq,
                           Hkv, D);
    cpu::linear_forward(tmp, act(a.att), P + w.o_w, at_or_null(P, w.o_b), T, Hq * D, C);
    float* h = act(a.h);
    std::memcpy(h, x, size_t(T) * C * sizeof(float));
    cpu::add_inplace(h, tmp, int64_t(T) * C);
    cpu::rmsnorm_forward(act(a.n2), act(a.rstd2), h, P + w.post_norm, T, C, c.rms_norm_eps);
    cpu::linear_forward(act(a.gate), act(a.n2), P + w.gate_w, at_or_null(P, w.gate_b), T, C, F);
    cpu::linear_forward(act(a.up), act(a.n2), P + w.up_w, at_or_null(P, w.up_b), T, C, F);
    cpu::swiglu_forward(act(a.act), act(a.gate), act(a.up), int64_t(T) * F);
    cpu::linear_forward(tmp, act(a.act), P + w.down_w, at_or_null(P, w.down_b), T, F, C);
    float* next = l + 1 < c.num_hidden_layers ? act(layer_acts_[l + 1].x) : act(x_final_);
    std::memcpy(next, h, size_t(T) * C * sizeof(float));
    cpu::add_inplace(next, tmp, int64_t(T) * C);
  }
  cpu::rmsnorm_forward(act(n_final_), act(rstd_final_), act(x_final_), P + layout_.final_norm, T, C, c.rms_norm_eps);
}

const float* Transformer::hidden() const { return act(n_final_); }

void Transformer::head_forward(const PackedBatch& batch, float* logprob, float* entropy, float inv_temperature) {
  cpu::lm_head_forward(logprob, entropy, act(n_final_), params_.data() + layout_.lm_head, batch.targets.data(),
                       batch.num_tokens(), config_.hidden_size, config_.vocab_size, inv_temperature, head_chunk_);
}

void Transformer::backward(const PackedBatch& batch, const float* dlogprob, const float* dentropy,
                           float inv_temperature) {
  const int T = batch.num_tokens(), B = batch.num_sequences();
  const ModelConfig& c = config_;
  const int C = c.hidden_size, F = c.intermediate_size, Hq = c.num_attention_heads, Hkv = c.num_key_value_heads,
            D = c.head_dim;
  const float* P = params_.data();
  float* G = grads_.data();
  const int64_t TC = int64_t(T) * C, TF = int64_t(T) * F;

  // Head and final norm. dres carries d(loss)/d(residual stream) down through the layers.
  float* dnorm = act(dnorm_);
  float* dres = act(dresid_);
  zero(dnorm, TC);
  zero(dres, TC);
  cpu::lm_head_backward(dnorm, G + layout_.lm_head, dlogprob, dentropy, act(n_final_), P + layout_.lm_head,
                        batch.targets.data(), T, C, c.vocab_size, inv_temperature, head_chunk_);
  cpu::rmsnorm_backward(dres, G + layout_.final_norm, dnorm, act(x_final_), P + layout_.final_norm, act(rstd_final_),
                        T, C);

  float* dact = act(scratch_f_);
  float* dgate = act(dF_gate_);
  float* dup = act(dF_up_);
  float* dq = act(scratch_q_);
  float* datt = act(scratch_q2_);
  float* dk = act(scratch_kv1_);
  float* dv = act(scratch_kv2_);
  for (int l = c.num_hidden_layers - 1; l >= 0; l--) {
    const auto& w = layout_.layer(l);
    const LayerActs& a = layer_acts_[l];
    // MLP: out = h + down(swiglu(gate(n2), up(n2))) (each projection with its bias under mlp_bias); the residual
    // passes dres through unchanged.
    zero(dact, TF);
    cpu::linear_backward(dact, G + w.down_w, at_or_null(G, w.down_b), dres, act(a.act), P + w.down_w, T, F, C);
    zero(dgate, TF);
    zero(dup, TF);
    cpu::swiglu_backward(dgate, dup, dact, act(a.gate), act(a.up), TF);
    zero(dnorm, TC);
    cpu::linear_backward(dnorm, G + w.gate_w, at_or_null(G, w.gate_b), dgate, act(a.n2), P + w.gate_w, T, C, F);
    cpu::linear_backward(dnorm, G + w.up_w, at_or_null(G, w.up_b), dup, act(a.n2), P + w.up_w, T, C, F);
    cpu::rmsnorm_backward(dres, G + w.post_norm, dnorm, act(a.h), P + w.post_norm, act(a.rstd2), T, C);
    // Attention: h = x + o_proj(attn(rope(q), rope(k), v)) (o_proj's bias: Llama with attention_bias).
    zero(datt, int64_t(T) * Hq * D);
    cpu::linear_backward(datt, G + w.o_w, at_or_null(G, w.o_b), dres, act(a.att), P + w.o_w, T, Hq * D, C);
    zero(dq, int64_t(T) * Hq * D);
    zero(dk, int64_t(T) * Hkv * D);
    zero(dv, int64_t(T) * Hkv * D);
    cpu::attention_backward(dq, dk, dv, datt, act(a.q), act(a.k), act(a.v), act(a.att), act(a.lse),
                            batch.cu_seqlens.data(), B, T, Hq, Hkv, D);
    cpu::rope_backward(dq, batch.positions.data(), rope_cos_.data(), rope_sin_.data(), T, Hq, D);
    cpu::rope_backward(dk, batch.positions.data(), rope_cos_.data(), rope_sin_.data(), T, Hkv, D);
    zero(dnorm, TC);
    cpu::linear_backward(dnorm, G + w.q_w, at_or_null(G, w.q_b), dq, act(a.n1), P + w.q_w, T, C, Hq * D);
    cpu::linear_backward(dnorm, G + w.k_w, at_or_null(G, w.k_b), dk, act(a.n1), P + w.k_w, T, C, Hkv * D);
    cpu::linear_backward(dnorm, G + w.v_w, at_or_null(G, w.v_b), dv, act(a.n1), P + w.v_w, T, C, Hkv * D);
    cpu::rmsnorm_backward(dres, G + w.input_norm, dnorm, act(a.x), P + w.input_norm, act(a.rstd1), T, C);
  }
  cpu::embedding_backward(G + layout_.embed, dres, batch.tokens.data(), T, C);
}

double Transformer::cross_entropy_step(const PackedBatch& batch, bool train) {
  const int T = batch.num_tokens();
  const int64_t n_targets = batch.num_targets();
  if (n_targets == 0) throw Error("batch has no target tokens");
  forward(batch);
  std::vector<float> logprob(size_t(T), 0.0f);
  head_forward(batch, logprob.data(), nullptr);
  double loss = 0;
  for (int t = 0; t < T; t++) loss -= batch.targets[t] >= 0 ? logprob[t] : 0.0f;
  loss /= double(n_targets);
  if (train) {
    std::vector<float> dlogprob(size_t(T), 0.0f);
    for (int t = 0; t < T; t++) dlogprob[t] = batch.targets[t] >= 0 ? float(-1.0 / double(n_targets)) : 0.0f;
    backward(batch, dlogprob.data(), nullptr);
  }
  return loss;
}

}  // namespace r1
