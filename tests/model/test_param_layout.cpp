// ParamLayout: the one parameter table — counts from the closed formula, HF names and shapes, back-to-back
// offsets, tying, weight-decay flags — and init_params over it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "core/rng.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/param_layout.h"
#include "model_test_util.h"

using namespace r1;
using namespace r1::test;

namespace {

ModelConfig llama_untied() {
  ModelConfig c = builtin_model_config("tiny");
  c.model_type = "llama";
  c.attention_bias = false;
  c.tie_word_embeddings = false;
  c.head_dim = 32;  // heads * head_dim (128) != hidden (64): projections are not square
  return c;
}

}  // namespace

TEST(ParamLayout, Qwen25HalfBillionShapeHasTheKnownParameterCount) {
  // hidden 896, 24 layers, 14 heads of 64, 2 kv heads, ffn 4864, vocab 151936, tied, q/k/v biases:
  const int64_t H = 896, F = 4864, V = 151936, QD = 14 * 64, KVD = 2 * 64;
  const int64_t per_layer = H                           // input_layernorm
                            + QD * H + QD               // q_proj weight + bias
                            + 2 * (KVD * H + KVD)       // k_proj, v_proj weights + biases
                            + H * QD                    // o_proj
                            + H                         // post_attention_layernorm
                            + 3 * F * H;                // gate, up, down
  const int64_t expected = V * H + 24 * per_layer + H;  // embeddings (= lm_head), layers, final norm
  ASSERT_EQ(expected, 494032768);
  const ModelConfig c = builtin_model_config("qwen2.5-0.5b");
  EXPECT_EQ(ParamLayout(c).total(), 494032768);
  EXPECT_EQ(count_parameters(c), 494032768);
  EXPECT_EQ(ParamLayout(c).params().size(), size_t(1 + 24 * 12 + 1));
}

TEST(ParamLayout, TableTotalEqualsClosedFormulaForManyShapes) {
  for (const char* type : {"qwen2", "llama"})
    for (bool tied : {false, true})
      for (bool bias : {false, true})
        for (bool mlp_bias : {false, true})
          for (int kv : {1, 2, 4}) {
            ModelConfig c = builtin_model_config("tiny");
            c.model_type = type, c.tie_word_embeddings = tied, c.attention_bias = bias, c.num_key_value_heads = kv;
            c.mlp_bias = mlp_bias && std::string(type) == "llama";
            c.num_hidden_layers = 3, c.head_dim = 24, c.vocab_size = 77, c.intermediate_size = 50;
            const ParamLayout L(c);
            EXPECT_EQ(L.total(), count_parameters(c)) << type << tied << bias << mlp_bias << kv;
          }
}

TEST(ParamLayout, TensorsTileTheBufferInStateDictOrder) {
  for (const ModelConfig& c : {builtin_model_config("tiny"), llama_untied()}) {
    const ParamLayout L(c);
    int64_t offset = 0;
    std::set<std::string> names;
    for (const auto& p : L.params()) {
      EXPECT_EQ(p.offset, offset) << p.hf_name;  // back to back, no gaps, no overlap
      EXPECT_GT(p.numel(), 0) << p.hf_name;
      EXPECT_TRUE(names.insert(p.hf_name).second) << "duplicate " << p.hf_name;
      EXPECT_EQ(&L.get(p.hf_name), &p);
      offset += p.numel();
    }
    EXPECT_EQ(offset, L.total());
    EXPECT_EQ(L.params().front().hf_name, "model.embed_tokens.weight");
    EXPECT_EQ(L.params().front().offset, L.embed);
    EXPECT_EQ(L.get("model.norm.weight").offset, L.final_norm);
  }
}

TEST(ParamLayout, HfNamesAndShapesFollowTheStateDict) {
  const ModelConfig c = llama_untied();  // V 512, H 64, F 128, 4 heads x 32, 2 kv heads
  const ParamLayout L(c);
  EXPECT_EQ(L.get("model.embed_tokens.weight").shape, Shape({512, 64}));
  EXPECT_EQ(L.get("model.layers.1.input_layernorm.weight").shape, Shape({64}));
  EXPECT_EQ(L.get("model.layers.1.self_attn.q_proj.weight").shape, Shape({128, 64}));
  EXPECT_EQ(L.get("model.layers.1.self_attn.k_proj.weight").shape, Shape({64, 64}));
  EXPECT_EQ(L.get("model.layers.1.self_attn.v_proj.weight").shape, Shape({64, 64}));
  EXPECT_EQ(L.get("model.layers.1.self_attn.o_proj.weight").shape, Shape({64, 128}));
  EXPECT_EQ(L.get("model.layers.1.post_attention_layernorm.weight").shape, Shape({64}));
  EXPECT_EQ(L.get("model.layers.1.mlp.gate_proj.weight").shape, Shape({128, 64}));
  EXPECT_EQ(L.get("model.layers.1.mlp.up_proj.weight").shape, Shape({128, 64}));
  EXPECT_EQ(L.get("model.layers.1.mlp.down_proj.weight").shape, Shape({64, 128}));
  EXPECT_EQ(L.get("model.norm.weight").shape, Shape({64}));
  EXPECT_EQ(L.get("lm_head.weight").shape, Shape({512, 64}));
  EXPECT_FALSE(L.has("model.layers.0.self_attn.q_proj.bias"));
  EXPECT_FALSE(L.has("model.layers.2.input_layernorm.weight"));
  EXPECT_EQ(L.num_layers(), 2);
}

TEST(ParamLayout, LayerAccessorsPointAtTheNamedTensors) {
  for (const ModelConfig& c : {builtin_model_config("tiny"), llama_untied()}) {
    const ParamLayout L(c);
    for (int i = 0; i < L.num_layers(); i++) {
      const auto& ly = L.layer(i);
      const std::string p = "model.layers." + std::to_string(i) + ".";
      const auto at = [&](const std::string& n) { return L.get(p + n).offset; };
      EXPECT_EQ(ly.input_norm, at("input_layernorm.weight"));
      EXPECT_EQ(ly.q_w, at("self_attn.q_proj.weight"));
      EXPECT_EQ(ly.k_w, at("self_attn.k_proj.weight"));
      EXPECT_EQ(ly.v_w, at("self_attn.v_proj.weight"));
      EXPECT_EQ(ly.o_w, at("self_attn.o_proj.weight"));
      EXPECT_EQ(ly.post_norm, at("post_attention_layernorm.weight"));
      EXPECT_EQ(ly.gate_w, at("mlp.gate_proj.weight"));
      EXPECT_EQ(ly.up_w, at("mlp.up_proj.weight"));
      EXPECT_EQ(ly.down_w, at("mlp.down_proj.weight"));
      if (c.attention_bias) {
        EXPECT_EQ(ly.q_b, at("self_attn.q_proj.bias"));
        EXPECT_EQ(ly.k_b, at("self_attn.k_proj.bias"));
        EXPECT_EQ(ly.v_b, at("self_attn.v_proj.bias"));
        EXPECT_EQ(L.get(p + "self_attn.k_proj.bias").shape, Shape({int64_t(c.num_key_value_heads) * c.head_dim}));
      } else {
        EXPECT_EQ(ly.q_b, -1);
        EXPECT_EQ(ly.k_b, -1);
        EXPECT_EQ(ly.v_b, -1);
      }
    }
  }
}

TEST(ParamLayout, LlamaBiasesFollowTransformersLlamaAttentionAndMlp) {
  // Llama attention_bias: q/k/v AND o_proj biases; mlp_bias: gate/up/down biases. Qwen2: q/k/v only.
  ModelConfig c = llama_untied();  // H 64, F 128, 4 heads x 32, 2 kv heads
  c.attention_bias = true;
  c.mlp_bias = true;
  const ParamLayout L(c);
  for (int i = 0; i < L.num_layers(); i++) {
    const auto& ly = L.layer(i);
    const std::string p = "model.layers." + std::to_string(i) + ".";
    const auto bias = [&](const std::string& n, int64_t size) {
      const ParamInfo& info = L.get(p + n);
      EXPECT_EQ(info.shape, Shape({size})) << n;
      EXPECT_EQ(info.kind, ParamKind::Bias) << n;
      EXPECT_FALSE(info.weight_decay) << n;
      return info.offset;
    };
    EXPECT_EQ(ly.q_b, bias("self_attn.q_proj.bias", 128));
    EXPECT_EQ(ly.k_b, bias("self_attn.k_proj.bias", 64));
    EXPECT_EQ(ly.v_b, bias("self_attn.v_proj.bias", 64));
    EXPECT_EQ(ly.o_b, bias("self_attn.o_proj.bias", 64));
    EXPECT_EQ(ly.gate_b, bias("mlp.gate_proj.bias", 128));
    EXPECT_EQ(ly.up_b, bias("mlp.up_proj.bias", 128));
    EXPECT_EQ(ly.down_b, bias("mlp.down_proj.bias", 64));
  }
  EXPECT_EQ(L.total(), count_parameters(c));
  for (const ModelConfig& plain : {builtin_model_config("tiny"), llama_untied()}) {  // qwen2 biased, llama plain
    const ParamLayout P(plain);
    for (int i = 0; i < P.num_layers(); i++) {
      EXPECT_EQ(P.layer(i).o_b, -1);
      EXPECT_EQ(P.layer(i).gate_b, -1);
      EXPECT_EQ(P.layer(i).up_b, -1);
      EXPECT_EQ(P.layer(i).down_b, -1);
    }
    EXPECT_FALSE(P.has("model.layers.0.self_attn.o_proj.bias"));
  }
}

TEST(ParamLayout, TiedModelsShareTheEmbeddingAsHead) {
  const ParamLayout tied(builtin_model_config("tiny"));
  EXPECT_TRUE(tied.tied());
  EXPECT_EQ(tied.lm_head, tied.embed);
  EXPECT_FALSE(tied.has("lm_head.weight"));
  const ParamLayout untied(llama_untied());
  EXPECT_FALSE(untied.tied());
  EXPECT_EQ(untied.lm_head, untied.get("lm_head.weight").offset);
  EXPECT_EQ(untied.params().back().hf_name, "lm_head.weight");
  // Untying adds exactly one [V, H] matrix.
  ModelConfig c = builtin_model_config("tiny");
  c.tie_word_embeddings = false;
  EXPECT_EQ(ParamLayout(c).total() - tied.total(), 512 * 64);
}

TEST(ParamLayout, WeightDecayOnlyOnMatricesAndEmbeddings) {
  const ParamLayout L(builtin_model_config("tiny"));
  int decayed = 0;
  for (const auto& p : L.params()) {
    const bool matrix = p.shape.ndim == 2;
    EXPECT_EQ(p.weight_decay, matrix) << p.hf_name;
    EXPECT_EQ(p.kind == ParamKind::Norm, p.hf_name.find("norm") != std::string::npos) << p.hf_name;
    EXPECT_EQ(p.kind == ParamKind::Bias, p.hf_name.ends_with(".bias")) << p.hf_name;
    decayed += p.weight_decay;
  }
  EXPECT_EQ(decayed, 1 + 2 * 7);  // embeddings + 7 matrices per layer
  EXPECT_EQ(L.get("model.embed_tokens.weight").kind, ParamKind::Embedding);
}

TEST(ParamLayout, UnknownNameIsAnErrorNamingIt) {
  const ParamLayout L(builtin_model_config("tiny"));
  EXPECT_EQ(L.find("model.layers.7.mlp.up_proj.weight"), nullptr);
  expect_error([&] { L.get("model.layers.7.mlp.up_proj.weight"); }, {"'model.layers.7.mlp.up_proj.weight'", "no such"});
  expect_error([&] { L.get("lm_head.weight"); }, {"'lm_head.weight'"});
}

// Small enough to be quick, with an embedding (2^19 floats) that spans several initialisation chunks.
ModelConfig init_config() {
  ModelConfig c = builtin_model_config("tiny");
  c.vocab_size = 4096, c.hidden_size = 128, c.intermediate_size = 256, c.head_dim = 32;
  return c;
}

TEST(ParamLayout, InitGivesOnesZerosAndSmallNormals) {
  const ModelConfig c = init_config();
  const ParamLayout L(c);
  std::vector<float> w(size_t(L.total()), -7.0f);
  init_params(c, L, w.data(), 42);
  double sum = 0, sum2 = 0;
  int64_t n = 0;
  for (const auto& p : L.params()) {
    const float* x = w.data() + p.offset;
    for (int64_t i = 0; i < p.numel(); i++) {
      if (p.kind == ParamKind::Norm)
        ASSERT_EQ(x[i], 1.0f) << p.hf_name;
      else if (p.kind == ParamKind::Bias)
        ASSERT_EQ(x[i], 0.0f) << p.hf_name;
      else
        sum += x[i], sum2 += double(x[i]) * x[i], n++;
    }
  }
  const double mean = sum / double(n), sd = std::sqrt(sum2 / double(n) - mean * mean);
  ASSERT_GT(n, 700000);
  EXPECT_NEAR(mean, 0.0, 1e-4);  // standard errors: 2.4e-5 for the mean, 1.7e-5 for the deviation
  EXPECT_NEAR(sd, 0.02, 1e-4);
}

TEST(ParamLayout, InitIsDeterministicPerSeedAndIndependentOfChunking) {
  const ModelConfig c = init_config();
  const ParamLayout L(c);
  std::vector<float> a(size_t(L.total())), b(size_t(L.total())), d(size_t(L.total()));
  init_params(c, L, a.data(), 9);
  init_params(c, L, b.data(), 9);
  init_params(c, L, d.data(), 10);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, d);
  // Tensor i is stream 1000 + i drawn sequentially: the chunked, parallel fill gives exactly those values.
  for (size_t i : {size_t(0), size_t(2), L.params().size() - 2}) {
    const auto& p = L.params()[i];
    if (p.kind == ParamKind::Norm || p.kind == ParamKind::Bias) continue;
    Philox rng(9, 1000 + i);
    // Up to just past the first chunk boundary (2^18) is enough to see chunks start at the right counter.
    for (int64_t k = 0; k < std::min<int64_t>(p.numel(), 270000); k++)
      ASSERT_EQ(a[size_t(p.offset + k)], 0.02f * rng.normal()) << p.hf_name << k;
  }
}
