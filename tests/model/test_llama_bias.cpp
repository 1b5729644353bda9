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

#include "core/rng.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/param_layout.h"
#include "model/transformer.h"
#include "model_test_util.h"

using namespace r1;

namespace {

// A small Llama: GQA 2, untied head, no RoPE scaling, every bias transformers' LlamaForCausalLM can have.
ModelConfig biased_llama(bool tied = false) {
  ModelConfig c = builtin_model_config("tiny");
  c.model_type = "llama";
  c.vocab_size = 19;
  c.hidden_size = 12;
  c.intermediate_size = 20;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 4;
  c.max_position_embeddings = 32;
  c.rope_theta = 10000.0f;
  c.rms_norm_eps = 1e-6f;
  c.attention_bias = true;
  c.mlp_bias = true;
  c.tie_word_embeddings = tied;
  return c;
}

bool is_bias(const ParamInfo& p) { return p.kind == ParamKind::Bias; }

// init_params, with matrices 8x larger than transformers' 0.02 (so every path carries a visible gradient), norm
// gains away from 1 and biases drawn from N(0, 0.5^2) (init_params leaves them at zero, which would hide a bias
// the forward forgot to add).
void randomize(Transformer& m, uint64_t seed) {
  init_params(m.config(), m.layout(), m.params(), seed);
  Philox rng(seed, 17);
  for (const ParamInfo& p : m.layout().params())
    for (int64_t i = 0; i < p.numel(); i++) {
      float& w = m.params()[p.offset + i];
      if (p.kind == ParamKind::Norm) w = 1.0f + 0.2f * rng.normal();
      else if (is_bias(p)) w = 0.5f * rng.normal();
      else w *= 8.0f;
    }
}

PackedBatch three_sequences(int vocab, uint64_t seed = 5) {
  PackedBatch b;
  Philox rng(seed, 0);
  for (int len : {6, 2, 7}) {
    std::vector<int32_t> seq;
    for (int i = 0; i < len; i++) seq.push_back(int32_t(rng.below(uint64_t(vocab))));
    b.add_sequence(seq);
  }
  return b;
}

// ---- independent double-precision reference: y = x W^T + b for every projection that has b ----
class Reference {
 public:
  Reference(const ModelConfig& c, const ParamLayout& layout, const std::vector<double>& p)
      : c_(c), layout_(layout), p_(p) {}

  // sum_t wl[t] * log p(target_t) + we[t] * entropy_t over the tokens that have a target.
  double objective(const PackedBatch& b, const std::vector<double>& wl, const std::vector<double>& we) const {
    const int T = b.num_tokens(), C = c_.hidden_size, V = c_.vocab_size;
    std::vector<double> x(size_t(T) * C);
    for (int t = 0; t < T; t++)
      for (int i = 0; i < C; i++) x[size_t(t) * C + i] = p_[layout_.embed + int64_t(b.tokens[t]) * C + i];
    for (int l = 0; l < c_.num_hidden_layers; l++) block(layout_.layer(l), b, x);
    const auto logits = project(norm(x, layout_.final_norm, T), layout_.lm_head, -1, T, C, V);
    double obj = 0;
    for (int t = 0; t < T; t++) {
      if (b.targets[t] < 0) continue;
      const double* z = &logits[size_t(t) * V];
      const double mx = *std::max_element(z, z + V);
      double sum = 0;
      for (int v = 0; v < V; v++) sum += std::exp(z[v] - mx);
      const double lse = mx + std::log(sum);
      double entropy = 0;
      for (int v = 0; v < V; v++) entropy -= std::exp(z[v] - lse) * (z[v] - lse);
      obj += wl[t] * (z[b.targets[t]] - lse) + we[t] * entropy;
    }
    return obj;
  }

 private:
  std::vector<double> norm(const std::vector<double>& x, int64_t gain, int T) const {
    const int C = c_.hidden_size;
    std::vector<double> y(x.size());
    for (int t = 0; t < T; t++) {
      double ss = 0;
      for (int i = 0; i < C; i++) ss += x[size_t(t) * C + i] * x[size_t(t) * C + i];
      const double r = 1.0 / std::sqrt(ss / C + c_.rms_norm_eps);
      for (int i = 0; i < C; i++) y[size_t(t) * C + i] = x[size_t(t) * C + i] * r * p_[gain + i];
    }
    return y;
  }
  // [T, O] = x [T, I] W[O, I]^T (+ bias[O] when bias >= 0).
  std::vector<double> project(const std::vector<double>& x, int64_t W, int64_t bias, int T, int I, int O) const {
    std::vector<double> y(size_t(T) * O);
    for (int t = 0; t < T; t++)
      for (int o = 0; o < O; o++) {
        double s = bias >= 0 ? p_[bias + o] : 0.0;
        for (int i = 0; i < I; i++) s += x[size_t(t) * I + i] * p_[W + int64_t(o) * I + i];
        y[size_t(t) * O + o] = s;
      }
    return y;
  }
  // rotate_half RoPE: dimension i pairs with i + D/2.
  void rotate(std::vector<double>& x, const std::vector<int32_t>& pos, int T, int H) const {
    const int D = c_.head_dim;
    for (int t = 0; t < T; t++)
      for (int h = 0; h < H; h++)
        for (int i = 0; i < D / 2; i++) {
          const double a = pos[t] * std::pow(double(c_.rope_theta), -2.0 * i / D);
          double* v = &x[(size_t(t) * H + h) * D];
          const double lo = v[i], hi = v[i + D / 2];
          v[i] = lo * std::cos(a) - hi * std::sin(a);
          v[i + D / 2] = hi * std::cos(a) + lo * std::sin(a);
        }
  }
  void block(const ParamLayout::Layer& w, const PackedBatch& b, std::vector<double>& x) const {
    const int T = b.num_tokens(), C = c_.hidden_size, F = c_.intermediate_size, Hq = c_.num_attention_heads,
              Hkv = c_.num_key_value_heads, D = c_.head_dim;
    const auto n1 = norm(x, w.input_norm, T);
    auto q = project(n1, w.q_w, w.q_b, T, C, Hq * D);
    auto k = project(n1, w.k_w, w.k_b, T, C, Hkv * D);
    const auto v = project(n1, w.v_w, w.v_b, T, C, Hkv * D);
    rotate(q, b.positions, T, Hq);
    rotate(k, b.positions, T, Hkv);
    std::vector<double> att(size_t(T) * Hq * D, 0.0);
    for (int s = 0; s < b.num_sequences(); s++)
      for (int t = b.cu_seqlens[s]; t < b.cu_seqlens[s + 1]; t++)
        for (int h = 0; h < Hq; h++) {
          const int kh = h / (Hq / Hkv);
          std::vector<double> w8;
          for (int j = b.cu_seqlens[s]; j <= t; j++) {
            double dot = 0;
            for (int e = 0; e < D; e++) dot += q[(size_t(t) * Hq + h) * D + e] * k[(size_t(j) * Hkv + kh) * D + e];
            w8.push_back(dot / std::sqrt(double(D)));
          }
          const double mx = *std::max_element(w8.begin(), w8.end());
          double z = 0;
          for (double& e : w8) z += (e = std::exp(e - mx));
          for (int j = b.cu_seqlens[s]; j <= t; j++)
            for (int e = 0; e < D; e++)
              att[(size_t(t) * Hq + h) * D + e] += w8[size_t(j - b.cu_seqlens[s])] / z * v[(size_t(j) * Hkv + kh) * D + e];
        }
    const auto o = project(att, w.o_w, w.o_b, T, Hq * D, C);
    for (size_t i = 0; i < x.size(); i++) x[i] += o[i];
    const auto n2 = norm(x, w.post_norm, T);
    auto g = project(n2, w.gate_w, w.gate_b, T, C, F);
    const auto u = project(n2, w.up_w, w.up_b, T, C, F);
    for (size_t i = 0; i < g.size(); i++) g[i] = g[i] / (1 + std::exp(-g[i])) * u[i];
    const auto d = project(g, w.down_w, w.down_b, T, F, C);
    for (size_t i = 0; i < x.size(); i++) x[i] += d[i];
  }

  const ModelConfig& c_;
  const ParamLayout& layout_;
  const std::vector<double>& p_;
};

std::vector<float> logprobs(Transformer& m, const PackedBatch& b) {
  m.forward(b);
  std::vector<float> lp(size_t(b.num_tokens()));
  m.head_forward(b, lp.data(), nullptr);
  return lp;
}

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
  const auto lp = logprobs(m, b);
  const std::vector<double> p(m.params(), m.params() + m.num_params());
  const Reference ref(c, m.layout(), p);
  const int T = b.num_tokens();
  for (int t = 0; t < T; t++) {
    if (b.targets[t] < 0) continue;
    std::vector<double> wl(size_t(T), 0.0), we(size_t(T), 0.0);
    wl[size_t(t)] = 1;
    EXPECT_NEAR(lp[size_t(t)], ref.objective(b, wl, we), 1e-4) << "token " << t;
  }
}

// The analytic float32 gradient of sum wl*logprob + we*entropy against central differences of the double
// reference, at 6 random elements of every tensor (each bias included) plus every element of layer 0's o_proj
// and down_proj biases.
void check_gradients(bool tied) {
  const ModelConfig c = biased_llama(tied);
  Transformer m(c);
  randomize(m, 1234);
  const PackedBatch b = three_sequences(c.vocab_size, 7);
  const int T = b.num_tokens();
  const size_t n = size_t(T);
  Philox rng(9, 1);
  std::vector<float> dl(n), de(n);
  std::vector<double> wl(n), we(n);
  for (int t = 0; t < T; t++) wl[t] = dl[t] = rng.normal(), we[t] = de[t] = 0.5f * rng.normal();
  m.set_head_chunk(4);
  m.zero_grads();
  m.forward(b);
  std::vector<float> lp(n), ent(n);
  m.head_forward(b, lp.data(), ent.data());
  m.backward(b, dl.data(), de.data());

  std::vector<double> p(m.params(), m.params() + m.num_params());
  const Reference ref(c, m.layout(), p);
  const double h = 1e-5;
  int checked = 0, biases = 0;
  auto check = [&](const ParamInfo& info, int64_t i, double gmax) {
    const int64_t at = info.offset + i;
    const double saved = p[size_t(at)];
    p[size_t(at)] = saved + h;
    const double up = ref.objective(b, wl, we);
    p[size_t(at)] = saved - h;
    const double down = ref.objective(b, wl, we);
    p[size_t(at)] = saved;
    const double fd = (up - down) / (2 * h), g = m.grads()[at];
    const double scale = std::max(std::fabs(fd), 1e-2 * gmax + 1e-6);
    EXPECT_LE(std::fabs(g - fd) / scale, 1e-3)
        << info.hf_name << " index " << i << " analytic " << g << " finite-difference " << fd;
    checked++;
    biases += is_bias(info);
  };
  for (const ParamInfo& info : m.layout().params()) {
    double gmax = 0;
    for (int64_t i = 0; i < info.numel(); i++) gmax = std::max(gmax, double(std::fabs(m.grads()[info.offset + i])));
    if (is_bias(info)) {
      EXPECT_GT(gmax, 1e-4) << info.hf_name << ": a bias with no gradient";
    }
    const bool every = info.hf_name == "model.layers.0.self_attn.o_proj.bias" ||
                       info.hf_name == "model.layers.0.mlp.down_proj.bias";
    if (every) {
      for (int64_t i = 0; i < info.numel(); i++) check(info, i, gmax);
    } else {
      for (int s = 0; s < 6; s++) check(info, int64_t(rng.below(uint64_t(info.numel()))), gmax);
    }
  }
  EXPECT_GT(biases, 7 * 6 * c.num_hidden_layers);
  EXPECT_GT(checked, 200);
}

TEST(LlamaBias, BackwardMatchesFiniteDifferencesUntied) { check_gradients(false); }
TEST(LlamaBias, BackwardMatchesFiniteDifferencesTied) { check_gradients(true); }

TEST(LlamaBias, PackedBatchEqualsSequencesAlone) {
  const ModelConfig c = biased_llama();
  Transformer m(c);
  randomize(m, 3);
  const PackedBatch packed = three_sequences(c.vocab_size, 11);
  const auto lp = logprobs(m, packed);
  for (int s = 0; s < packed.num_sequences(); s++) {
    const int begin = packed.cu_seqlens[s], end = packed.cu_seqlens[s + 1];
    PackedBatch alone;
    alone.add_sequence(std::vector<int32_t>(packed.tokens.begin() + begin, packed.tokens.begin() + end));
    const auto lp1 = logprobs(m, alone);
    for (int t = 0; t < end - begin; t++)
      EXPECT_NEAR(lp1[size_t(t)], lp[size_t(begin + t)], 1e-5) << "sequence " << s << " token " << t;
  }
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
  test::TempDir dir("llama_bias");
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
