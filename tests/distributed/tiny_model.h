// A tiny random CPU Transformer and random token documents for the data-parallel equivalence tests.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "core/rng.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/transformer.h"

namespace r1::test {

inline ModelConfig tiny_config() {
  ModelConfig c = builtin_model_config("tiny");
  c.vocab_size = 61;
  c.hidden_size = 32, c.intermediate_size = 64, c.num_attention_heads = 2, c.num_key_value_heads = 1, c.head_dim = 16;
  c.num_hidden_layers = 2;
  return c;
}

inline std::unique_ptr<Transformer> tiny_model(uint64_t seed = 3) {
  auto m = std::make_unique<Transformer>(tiny_config());
  init_params(m->config(), m->layout(), m->params(), seed);
  m->reserve(512);
  return m;
}

// `count` documents of 5..40 random tokens, deterministic in the seed.
inline std::vector<std::vector<int32_t>> random_docs(int count, uint64_t seed, int vocab = 61) {
  Philox rng(seed, 77);
  std::vector<std::vector<int32_t>> docs(static_cast<size_t>(count));
  for (auto& d : docs) {
    const int len = 5 + int(rng.below(36));
    for (int i = 0; i < len; i++) d.push_back(int32_t(rng.below(uint64_t(vocab))));
  }
  return docs;
}

}  // namespace r1::test
