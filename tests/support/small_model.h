// Header-only helpers for model-level tests (tests/model, tests/hfcompat): a small GQA config builder (with any of
// transformers' Llama biases), a randomizer that makes every tensor kind matter, random packed batches and the
// training head's log-probs. Header-only because those test binaries do not link r1_test_support (r1_train).
#pragma once
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "core/rng.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/packed_batch.h"
#include "model/param_layout.h"
#include "model/transformer.h"

namespace r1::test {

// The shape of a small model: 2 layers, 4 query heads sharing 2 KV heads (GQA 2) of dimension 4, RoPE theta 1e4,
// RMSNorm eps 1e-6; the rest as given.
struct SmallModel {
  std::string model_type = "llama";
  int vocab_size = 19;
  int hidden_size = 12;
  int intermediate_size = 20;
  int max_positions = 32;
  bool attention_bias = false;  // q/k/v (and, for llama, o_proj) biases
  bool mlp_bias = false;        // gate/up/down biases
  bool tied = false;
};

inline ModelConfig small_model_config(const SmallModel& s) {
  ModelConfig c = builtin_model_config("tiny");
  c.model_type = s.model_type;
  c.vocab_size = s.vocab_size;
  c.hidden_size = s.hidden_size;
  c.intermediate_size = s.intermediate_size;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 4;
  c.max_position_embeddings = s.max_positions;
  c.rope_theta = 10000.0f;
  c.rms_norm_eps = 1e-6f;
  c.attention_bias = s.attention_bias;
  c.mlp_bias = s.mlp_bias;
  c.tie_word_embeddings = s.tied;
  return c;
}

// A small Llama with every bias transformers' LlamaForCausalLM can have (attention_bias and mlp_bias).
inline ModelConfig biased_llama(SmallModel s = {}) {
  s.model_type = "llama";
  s.attention_bias = s.mlp_bias = true;
  return small_model_config(s);
}

inline bool is_bias(const ParamInfo& p) { return p.kind == ParamKind::Bias; }

// How randomize() moves init_params' values: matrices and embeddings scaled up (so every path carries a visible
// gradient / greedy paths vary), norm gains drawn from N(1, norm_std^2) (0: left at 1) and biases from
// N(0, bias_std^2) (init_params leaves them at zero, which would hide a bias the forward forgot to add).
struct Randomize {
  float matrix_scale = 8.0f;
  float norm_std = 0.2f;
  float bias_std = 0.5f;
  uint64_t stream = 17;  // Philox stream of the draws
};

inline void randomize(Transformer& m, uint64_t seed, const Randomize& r = {}) {
  init_params(m.config(), m.layout(), m.params(), seed);
  Philox rng(seed, r.stream);
  for (const ParamInfo& p : m.layout().params())
    for (int64_t i = 0; i < p.numel(); i++) {
      float& w = m.params()[p.offset + i];
      if (p.kind == ParamKind::Norm) {
        if (r.norm_std != 0.0f) w = 1.0f + r.norm_std * rng.normal();
      } else if (is_bias(p)) {
        w = r.bias_std * rng.normal();
      } else {
        w *= r.matrix_scale;
      }
    }
}

// Sequences of the given lengths with tokens drawn uniformly from the vocabulary, packed into one batch.
inline PackedBatch random_batch(int vocab, std::initializer_list<int> lengths, uint64_t seed) {
  PackedBatch b;
  Philox rng(seed, 0);
  for (int len : lengths) {
    std::vector<int32_t> seq;
    for (int i = 0; i < len; i++) seq.push_back(int32_t(rng.below(uint64_t(vocab))));
    b.add_sequence(seq);
  }
  return b;
}

// The training head's log-prob of every token's target.
inline std::vector<float> logprobs(Transformer& m, const PackedBatch& b) {
  m.forward(b);
  std::vector<float> lp(size_t(b.num_tokens()));
  m.head_forward(b, lp.data(), nullptr);
  return lp;
}

// Packing must not leak across sequences: every sequence of `packed` run alone gives the log-probs it had there.
inline void expect_packed_equals_alone(Transformer& m, const PackedBatch& packed, double tol = 1e-5) {
  const std::vector<float> lp = logprobs(m, packed);
  for (int s = 0; s < packed.num_sequences(); s++) {
    const int begin = packed.cu_seqlens[size_t(s)], end = packed.cu_seqlens[size_t(s) + 1];
    PackedBatch alone;
    alone.add_sequence(std::vector<int32_t>(packed.tokens.begin() + begin, packed.tokens.begin() + end));
    const std::vector<float> lp1 = logprobs(m, alone);
    for (int t = 0; t < end - begin; t++)
      EXPECT_NEAR(lp1[size_t(t)], lp[size_t(begin + t)], tol) << "sequence " << s << " token " << t;
  }
}

}  // namespace r1::test
