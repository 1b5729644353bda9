// Llama with attention_bias (q/k/v AND o_proj biases, as transformers' LlamaAttention) and mlp_bias (gate/up/down
// biases): the Transformer's forward against an independent double-precision reference that applies every bias,
// its backward against central finite differences of that reference, packed batches against sequences alone,
// zero biases against the bias-less model, and a save/load round trip through a Hugging Face directory.
// (The rollout engine's greedy decoding on such a model: tests/hfcompat/test_llama_bias_engine.cpp, which links
// the generate layer.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/param_layout.h"
#include "model/transformer.h"
#include "model_test_util.h"
#include "support/reference_model.h"
#include "support/small_model.h"

using namespace r1;
using namespace r1::test;

namespace {

// (Weights: randomize()'s defaults, matrices 8x transformers' init, norm gains away from 1, every bias non-zero.)
PackedBatch three_sequences(int vocab, uint64_t seed = 5) { return random_batch(vocab, {6, 2, 7}, seed); }

}  // namespace

TEST(LlamaBias, LayoutHasEveryTransformersBias) {
  const ParamLayout L(biased_llama());
  for (int l = 0; l < L.num_layers(); l++) {
    const auto& w = L.layer(l);
    for (int64_t off : {w.q_b, w.k_b, w.v_b, w.o_b, w.gate_b, w.up_b, w.down_b}) EXPECT_GE(off, 0) << "layer " << l;
  }
  EXPECT_TRUE(L.has("model.layers.1.self_attn.o_proj.bias"));
  EXPECT_TRUE(L.has("model.layers.1.mlp.down_proj.bias"));
}

TEST(LlamaBias, ForwardMatchesDoubleReferenceWithEveryBias) {
  const ModelConfig c = biased_llama();
  Transformer m(c);
  randomize(m, 21);
  const PackedBatch b = three_sequences(c.vocab_size);
  expect_forward_matches_reference(m, b, 1e-4);
}

// The analytic gradient against finite differences of the double reference at 6 random elements of every tensor
// (each bias included) plus every element of layer 0's o_proj and down_proj biases.
void check_gradients(bool tied) {
  const ModelConfig c = biased_llama({.tied = tied});
  Transformer m(c);
  randomize(m, 1234);
  const GradientCheckCount n = check_gradients_against_reference(
      m, three_sequences(c.vocab_size, 7),
      {"model.layers.0.self_attn.o_proj.bias", "model.layers.0.mlp.down_proj.bias"});
  EXPECT_GT(n.biases, 7 * 6 * c.num_hidden_layers);
  EXPECT_GT(n.checked, 200);
}

TEST(LlamaBias, BackwardMatchesFiniteDifferencesUntied) { check_gradients(false); }
TEST(LlamaBias, BackwardMatchesFiniteDifferencesTied) { check_gradients(true); }

TEST(LlamaBias, PackedBatchEqualsSequencesAlone) {
  const ModelConfig c = biased_llama();
  Transformer m(c);
  randomize(m, 3);
  const PackedBatch packed = three_sequences(c.vocab_size, 11);
  expect_packed_equals_alone(m, packed, 1e-5);
}

// With every bias zero the biased model computes exactly the bias-less Llama with the same weights; a non-zero
// o_proj bias or down_proj bias alone changes the log-probs (so neither is silently dropped).
TEST(LlamaBias, ZeroBiasesEqualTheBiaslessModelAndEachBiasMatters) {
  ModelConfig plain_c = biased_llama();
  plain_c.attention_bias = false;
  plain_c.mlp_bias = false;
  Transformer biased(biased_llama()), plain(plain_c);
  randomize(biased, 5);
  for (const ParamInfo& p : biased.layout().params()) {
    if (is_bias(p)) {
      std::fill_n(biased.params() + p.offset, p.numel(), 0.0f);
      continue;
    }
    const ParamInfo& q = plain.layout().get(p.hf_name);
    std::copy_n(biased.params() + p.offset, p.numel(), plain.params() + q.offset);
  }
  const PackedBatch b = three_sequences(biased.config().vocab_size);
  const auto want = logprobs(plain, b);
  EXPECT_EQ(logprobs(biased, b), want);
  for (const char* name : {"model.layers.1.self_attn.o_proj.bias", "model.layers.1.mlp.down_proj.bias",
                           "model.layers.0.mlp.gate_proj.bias", "model.layers.0.mlp.up_proj.bias"}) {
    const ParamInfo& p = biased.layout().get(name);
    std::fill_n(biased.params() + p.offset, p.numel(), 0.3f);
    const auto got = logprobs(biased, b);
    double diff = 0;
    for (size_t t = 0; t < got.size(); t++) diff = std::max(diff, double(std::fabs(got[t] - want[t])));
    EXPECT_GT(diff, 1e-3) << name << " does not change the output";
    std::fill_n(biased.params() + p.offset, p.numel(), 0.0f);
  }
}

// config.json keeps attention_bias / mlp_bias, model.safetensors every bias: the reloaded model is bit-identical
// and computes the same log-probs.
TEST(LlamaBias, SaveLoadRoundTripKeepsBiasesAndOutputs) {
  const ModelConfig c = biased_llama();
  Transformer m(c);
  randomize(m, 8);
  TempDir dir("llama_bias");
  save_hf_checkpoint(dir.path().string(), c, m.layout(), m.params());
  const ModelConfig back_c = load_model_config(dir.str("config.json"));
  EXPECT_TRUE(back_c.attention_bias);
  EXPECT_TRUE(back_c.mlp_bias);
  EXPECT_EQ(back_c, c);
  Transformer back(back_c);
  load_hf_weights(dir.path().string(), back.layout(), back.params());
  ASSERT_EQ(back.num_params(), m.num_params());
  EXPECT_TRUE(std::equal(m.params(), m.params() + m.num_params(), back.params()));
  const PackedBatch b = three_sequences(c.vocab_size, 13);
  EXPECT_EQ(logprobs(back, b), logprobs(m, b));
}
