#include "generate/model_runner.h"

#include <cstring>
#include <string>

#include "backend/cpu/ops.h"
#include "backend/cpu/paged_attention.h"
#include "core/error.h"

namespace r1::gen {

namespace {

// A bias at offset `at` of the parameters; null when the layout has none (offset -1).
const float* bias_or_null(const float* params, int64_t at) { return at >= 0 ? params + at : nullptr; }

void check_tokens(const ModelConfig& c, const int32_t* tokens, const int32_t* positions, int T) {
  for (int t = 0; t < T; t++) {
    if (tokens[t] < 0 || tokens[t] >= c.vocab_size)
      throw Error("token id " + std::to_string(tokens[t]) + " is outside the vocabulary (size " +
                  std::to_string(c.vocab_size) + ")");
    if (positions[t] >= c.max_position_embeddings)
      throw Error("position " + std::to_string(positions[t]) + " exceeds max_position_embeddings " +
                  std::to_string(c.max_position_embeddings));
  }
}

}  // namespace

ModelRunner::ModelRunner(const Transformer& model) : model_(model) {
  const ModelConfig& c = model.config();
  const int D = c.head_dim;
  rope_cos_.resize(size_t(c.max_position_embeddings) * D / 2);
  rope_sin_.resize(rope_cos_.size());
  cpu::rope_tables(rope_cos_.data(), rope_sin_.data(), c.max_position_embeddings, D, c.rope_theta, rope_scaling_of(c));
}

KvGeometry ModelRunner::kv_geometry(int num_pages, int page_size) const {
  const ModelConfig& c = config();
  KvGeometry g;
  g.num_layers = c.num_hidden_layers;
  g.num_pages = num_pages;
  g.page_size = page_size;
  g.kv_heads = c.num_key_value_heads;
  g.head_dim = c.head_dim;
  return g;
}

void ModelRunner::reserve(int T) {
  if (T <= capacity_) return;
  const ModelConfig& c = config();
  const size_t C = size_t(c.hidden_size), F = size_t(c.intermediate_size), D = size_t(c.head_dim);
  const size_t QD = size_t(c.num_attention_heads) * D, KVD = size_t(c.num_key_value_heads) * D;
  const size_t n = size_t(T);
  x_.resize(n * C), n_.resize(n * C), tmp_.resize(n * C), rstd_.resize(n);
  q_.resize(n * QD), att_.resize(n * QD), lse_.resize(n * size_t(c.num_attention_heads));
  k_.resize(n * KVD), v_.resize(n * KVD);
  gate_.resize(n * F), up_.resize(n * F), act_.resize(n * F);
  capacity_ = T;
}

void ModelRunner::embed(const int32_t* tokens, int T) {
  cpu::embedding_forward(x_.data(), tokens, model_.params() + model_.layout().embed, T, config().hidden_size);
}

void ModelRunner::qkv_to_cache(int l, int T, const int32_t* positions, const int64_t* slot_offsets, KvCache& cache) {
  const ModelConfig& c = config();
  const int C = c.hidden_size, Hq = c.num_attention_heads, Hkv = c.num_key_value_heads, D = c.head_dim;
  const float* P = model_.params();
  const auto& w = model_.layout().layer(l);
  cpu::rmsnorm_forward(n_.data(), rstd_.data(), x_.data(), P + w.input_norm, T, C, c.rms_norm_eps);
  cpu::linear_forward(q_.data(), n_.data(), P + w.q_w, bias_or_null(P, w.q_b), T, C, Hq * D);
  cpu::linear_forward(k_.data(), n_.data(), P + w.k_w, bias_or_null(P, w.k_b), T, C, Hkv * D);
  cpu::linear_forward(v_.data(), n_.data(), P + w.v_w, bias_or_null(P, w.v_b), T, C, Hkv * D);
  cpu::rope_forward(q_.data(), positions, rope_cos_.data(), rope_sin_.data(), T, Hq, D);
  cpu::rope_forward(k_.data(), positions, rope_cos_.data(), rope_sin_.data(), T, Hkv, D);
  const size_t row = size_t(Hkv) * D * sizeof(float);
  float* kp = cache.k_pool(l);
  float* vp = cache.v_pool(l);
  for (int t = 0; t < T; t++) {
    std::memcpy(kp + slot_offsets[t], k_.data() + size_t(t) * Hkv * D, row);
    std::memcpy(vp + slot_offsets[t], v_.data() + size_t(t) * Hkv * D, row);
  }
}

void ModelRunner::finish_layer(int l, int T) {
  const ModelConfig& c = config();
  const int C = c.hidden_size, F = c.intermediate_size, QD = c.num_attention_heads * c.head_dim;
  const float* P = model_.params();
  const auto& w = model_.layout().layer(l);
  const int64_t TC = int64_t(T) * C;
  cpu::linear_forward(tmp_.data(), att_.data(), P + w.o_w, bias_or_null(P, w.o_b), T, QD, C);
  cpu::add_inplace(x_.data(), tmp_.data(), TC);
  cpu::rmsnorm_forward(n_.data(), rstd_.data(), x_.data(), P + w.post_norm, T, C, c.rms_norm_eps);
  cpu::linear_forward(gate_.data(), n_.data(), P + w.gate_w, bias_or_null(P, w.gate_b), T, C, F);
  cpu::linear_forward(up_.data(), n_.data(), P + w.up_w, bias_or_null(P, w.up_b), T, C, F);
  cpu::swiglu_forward(act_.data(), gate_.data(), up_.data(), int64_t(T) * F);
  cpu::linear_forward(tmp_.data(), act_.data(), P + w.down_w, bias_or_null(P, w.down_b), T, F, C);
  cpu::add_inplace(x_.data(), tmp_.data(), TC);
}

void ModelRunner::head(const std::vector<int32_t>& rows, float* logits) {
  const ModelConfig& c = config();
  const int C = c.hidden_size, B = int(rows.size());
  // Gather the wanted rows of the residual stream into tmp_, normalise them into n_.
  for (int b = 0; b < B; b++)
    std::memcpy(tmp_.data() + size_t(b) * C, x_.data() + size_t(rows[size_t(b)]) * C, size_t(C) * sizeof(float));
  const float* P = model_.params();
  cpu::rmsnorm_forward(n_.data(), rstd_.data(), tmp_.data(), P + model_.layout().final_norm, B, C, c.rms_norm_eps);
  cpu::lm_head_logits(logits, n_.data(), P + model_.layout().lm_head, B, C, c.vocab_size);
}

void ModelRunner::prefill(const std::vector<int32_t>& tokens, const std::vector<int32_t>& cu_seqlens,
                          const std::vector<const KvSequence*>& seqs, KvCache& cache, float* logits) {
  const ModelConfig& c = config();
  const int T = int(tokens.size()), B = int(cu_seqlens.size()) - 1;
  R1_CHECK(B == int(seqs.size()) && B > 0 && cu_seqlens[size_t(B)] == T, "prefill batch shape");
  reserve(T);
  positions_.resize(size_t(T));
  slots_.resize(size_t(T));
  std::vector<int32_t> last_rows(B);
  for (int b = 0; b < B; b++) {
    const int begin = cu_seqlens[size_t(b)], len = cu_seqlens[size_t(b) + 1] - begin;
    R1_CHECK(len > 0 && seqs[size_t(b)]->length == len, "prefill: sequence must hold exactly its prompt");
    for (int i = 0; i < len; i++) {
      positions_[size_t(begin + i)] = i;
      slots_[size_t(begin + i)] = cache.slot_offset(*seqs[size_t(b)], i);
    }
    last_rows[size_t(b)] = begin + len - 1;
  }
  check_tokens(c, tokens.data(), positions_.data(), T);
  embed(tokens.data(), T);
  for (int l = 0; l < c.num_hidden_layers; l++) {
    qkv_to_cache(l, T, positions_.data(), slots_.data(), cache);
    // The prompt's own K/V are still in k_/v_ contiguous: the packed causal kernel of training applies.
    cpu::attention_forward(att_.data(), lse_.data(), q_.data(), k_.data(), v_.data(), cu_seqlens.data(), B, T,
                           c.num_attention_heads, c.num_key_value_heads, c.head_dim);
    finish_layer(l, T);
  }
  head(last_rows, logits);
}

void ModelRunner::decode(const std::vector<int32_t>& tokens, const std::vector<const KvSequence*>& seqs, KvCache& cache,
                         float* logits) {
  const ModelConfig& c = config();
  const int B = int(tokens.size());
  R1_CHECK(B == int(seqs.size()) && B > 0, "decode batch shape");
  reserve(B);
  positions_.resize(size_t(B));
  slots_.resize(size_t(B));
  // The CSR page table of this step: what the CUDA kernel receives as two device arrays.
  indptr_.assign(1, 0);
  indices_.clear();
  lens_.resize(size_t(B));
  std::vector<int32_t> rows(B);
  for (int b = 0; b < B; b++) {
    const KvSequence& s = *seqs[size_t(b)];
    R1_CHECK(s.length > 0, "decode: the cache must have grown by the new token");
    positions_[size_t(b)] = s.length - 1;
    slots_[size_t(b)] = cache.slot_offset(s, s.length - 1);
    indices_.insert(indices_.end(), s.pages.begin(), s.pages.end());
    indptr_.push_back(int32_t(indices_.size()));
    lens_[size_t(b)] = s.length;
    rows[size_t(b)] = b;
  }
  check_tokens(c, tokens.data(), positions_.data(), B);
  embed(tokens.data(), B);
  const int page_size = cache.geometry().page_size;
  for (int l = 0; l < c.num_hidden_layers; l++) {
    qkv_to_cache(l, B, positions_.data(), slots_.data(), cache);
    cpu::paged_attention_decode(att_.data(), lse_.data(), q_.data(), cache.k_pool(l), cache.v_pool(l), indptr_.data(),
                                indices_.data(), lens_.data(), B, c.num_attention_heads, c.num_key_value_heads,
                                c.head_dim, page_size);
    finish_layer(l, B);
  }
  head(rows, logits);
}

}  // namespace r1::gen
