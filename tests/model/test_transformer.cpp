// Whole-model checks of the Transformer: the float32 analytic backward against central finite differences of an
// independent double-precision reference forward, and packed batches against sequences run alone.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/param_layout.h"
#include "model/transformer.h"
#include "support/reference_model.h"
#include "support/small_model.h"

using namespace r1;
using namespace r1::test;

namespace {

// Qwen2 (q/k/v biases) when `bias`, else a bias-less Llama.
ModelConfig test_config(bool bias, bool tied) {
  return small_model_config({.model_type = bias ? "qwen2" : "llama",
                             .vocab_size = 23,
                             .hidden_size = 16,
                             .intermediate_size = 24,
                             .attention_bias = bias,
                             .tied = tied});
}

PackedBatch test_batch(int vocab) { return random_batch(vocab, {5, 3, 7}, 5); }

// Weights from randomize(): matrices 8x the 0.02 init so every path carries a visible gradient, norm gains and
// biases away from their init values.
void check_gradients(bool bias, bool tied) {
  const ModelConfig c = test_config(bias, tied);
  Transformer model(c);
  randomize(model, 1234);
  const GradientCheckCount n = check_gradients_against_reference(model, test_batch(c.vocab_size));
  EXPECT_GT(n.checked, 50);
  if (bias) {
    EXPECT_EQ(n.biases, 6 * 3 * c.num_hidden_layers);  // q/k/v of every layer
  }
}

}  // namespace

TEST(Transformer, BackwardMatchesFiniteDifferencesQwen2TiedWithBias) { check_gradients(true, true); }
TEST(Transformer, BackwardMatchesFiniteDifferencesLlamaUntied) { check_gradients(false, false); }

TEST(Transformer, ForwardMatchesDoubleReference) {
  const ModelConfig c = test_config(true, false);
  Transformer model(c);
  randomize(model, 77);
  expect_forward_matches_reference(model, test_batch(c.vocab_size), 1e-4);
}

TEST(Transformer, PackedBatchEqualsSequencesAlone) {
  const ModelConfig c = test_config(true, true);
  Transformer model(c);
  init_params(c, model.layout(), model.params(), 3);
  expect_packed_equals_alone(model, test_batch(c.vocab_size), 1e-5);
}

TEST(Transformer, CrossEntropyFallsUnderGradientDescent) {
  const ModelConfig c = test_config(true, true);
  Transformer model(c);
  init_params(c, model.layout(), model.params(), 11);
  const PackedBatch batch = test_batch(c.vocab_size);
  const double first = model.cross_entropy_step(batch, false);
  EXPECT_NEAR(first, std::log(double(c.vocab_size)), 0.3);  // near-uniform predictions at init
  double loss = first;
  for (int step = 0; step < 30; step++) {
    model.zero_grads();
    loss = model.cross_entropy_step(batch, true);
    for (int64_t i = 0; i < model.num_params(); i++) model.params()[i] -= 0.5f * model.grads()[i];
  }
  EXPECT_LT(loss, first * 0.5);
}
