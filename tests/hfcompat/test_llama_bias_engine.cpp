// The rollout engine on a Llama with attention_bias (q/k/v and o_proj biases) and mlp_bias (gate/up/down): its
// prefill/decode (gen::ModelRunner) must apply the same biases as the training forward, so greedy decoding equals
// the argmax of repeated full forwards and its log-probs equal the training head's. (Here rather than in
// tests/model, whose binary does not link the generate layer; the model-side checks: tests/model/test_llama_bias.cpp.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include "backend/cpu/ops.h"
#include "core/rng.h"
#include "generate/engine.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/transformer.h"
#include "support/small_model.h"

namespace r1::gen {
namespace {

// A small Llama with every bias (tests/support/small_model.h), wider than the model tests' so greedy paths vary.
ModelConfig engine_llama() {
  return test::biased_llama({.vocab_size = 41, .hidden_size = 16, .intermediate_size = 24, .max_positions = 64});
}

// Matrices 10x transformers' init (peaked next-token distributions, so greedy paths vary), norms left at 1, and
// every bias drawn from N(0, 0.5^2): a bias the runner forgot would change the argmax somewhere along 16 steps.
void randomize(Transformer& m, uint64_t seed) {
  test::randomize(m, seed, {.matrix_scale = 10.0f, .norm_std = 0.0f, .bias_std = 0.5f, .stream = 5});
}

std::vector<float> full_forward_last_logits(Transformer& m, const std::vector<int32_t>& seq) {
  PackedBatch b;
  b.add_sequence(seq);
  m.forward(b);
  const int C = m.config().hidden_size, V = m.config().vocab_size;
  std::vector<float> logits(static_cast<size_t>(V));
  cpu::lm_head_logits(logits.data(), m.hidden() + (seq.size() - 1) * size_t(C), m.params() + m.layout().lm_head, 1,
                      C, V);
  return logits;
}

double log_softmax_at(const std::vector<float>& logits, int32_t t) {
  const double mx = *std::max_element(logits.begin(), logits.end());
  double z = 0;
  for (float l : logits) z += std::exp(double(l) - mx);
  return double(logits[size_t(t)]) - mx - std::log(z);
}

TEST(LlamaBiasEngine, GreedyTokensEqualRepeatedFullForward) {
  Transformer m(engine_llama());
  randomize(m, 4);
  const int V = m.config().vocab_size;
  std::vector<GenerationRequest> reqs(3);
  const int lens[] = {5, 11, 1};
  Philox rng(31, 0);
  for (int i = 0; i < 3; i++) {
    for (int t = 0; t < lens[i]; t++) reqs[i].prompt.push_back(int32_t(rng.below(uint64_t(V))));
    reqs[i].params.temperature = 0.0f;
    reqs[i].params.max_new_tokens = 16;
    reqs[i].params.ignore_eos = true;
  }
  EngineOptions opt;
  opt.page_size = 4;  // sequences span several pages: the decode path reads the paged cache
  const auto out = generate(m, reqs, opt);
  ASSERT_EQ(out.size(), 3u);
  std::set<int32_t> distinct;
  for (int i = 0; i < 3; i++) {
    std::vector<int32_t> seq = reqs[i].prompt;
    ASSERT_EQ(out[i].tokens.size(), 16u);
    for (int t = 0; t < 16; t++) {
      const auto ref = full_forward_last_logits(m, seq);
      const int32_t want = int32_t(std::max_element(ref.begin(), ref.end()) - ref.begin());
      ASSERT_EQ(out[i].tokens[size_t(t)], want) << "request " << i << " token " << t;
      EXPECT_NEAR(out[i].logprobs[size_t(t)], log_softmax_at(ref, want), 1e-5) << "request " << i << " token " << t;
      seq.push_back(want);
      distinct.insert(want);
    }
  }
  EXPECT_GT(distinct.size(), 4u) << "a degenerate model would make this test vacuous";
}

}  // namespace
}  // namespace r1::gen
