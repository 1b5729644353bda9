// Whole-model checks of the Transformer: the float32 analytic backward against central finite differences of an
// independent double-precision reference forward, and packed batches against sequences run alone.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/rng.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/param_layout.h"
#include "model/transformer.h"

using namespace r1;

namespace {

ModelConfig test_config(bool bias, bool tied) {
  ModelConfig c = builtin_model_config("tiny");
  c.model_type = bias ? "qwen2" : "llama";
  c.vocab_size = 23;
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 4;
  c.max_position_embeddings = 32;
  c.rope_theta = 10000.0f;
  c.rms_norm_eps = 1e-6f;
  c.attention_bias = bias;
  c.tie_word_embeddings = tied;
  return c;
}

PackedBatch test_batch(int vocab) {
  PackedBatch b;
  Philox rng(5, 0);
  for (int len : {5, 3, 7}) {
    std::vector<int32_t> seq;
    for (int i = 0; i < len; i++) seq.push_back(int32_t(rng.below(uint64_t(vocab))));
    b.add_sequence(seq);
  }
  return b;
}

// ---- independent double-precision reference of the whole model ----
struct Ref {
  const ModelConfig& c;
  const ParamLayout& L;
  const std::vector<double>& p;

  void rmsnorm(std::vector<double>& out, const std::vector<double>& x, int64_t w, int T) const {
    const int C = c.hidden_size;
    out.assign(x.size(), 0);
    for (int t = 0; t < T; t++) {
      double ss = 0;
      for (int i = 0; i < C; i++) ss += x[t * C + i] * x[t * C + i];
      const double r = 1.0 / std::sqrt(ss / C + c.rms_norm_eps);
      for (int i = 0; i < C; i++) out[t * C + i] = x[t * C + i] * r * p[w + i];
    }
  }
  void linear(std::vector<double>& y, const std::vector<double>& x, int64_t w, int64_t b, int T, int I, int O) const {
    y.assign(size_t(T) * O, 0);
    for (int t = 0; t < T; t++)
      for (int o = 0; o < O; o++) {
        double s = b >= 0 ? p[b + o] : 0;
        for (int i = 0; i < I; i++) s += x[t * I + i] * p[w + int64_t(o) * I + i];
        y[t * O + o] = s;
      }
  }
  void rope(std::vector<double>& x, const std::vector<int32_t>& pos, int T, int H) const {
    const int D = c.head_dim;
    for (int t = 0; t < T; t++)
      for (int h = 0; h < H; h++)
        for (int i = 0; i < D / 2; i++) {
          const double inv = std::pow(double(c.rope_theta), -2.0 * i / D), ang = pos[t] * inv;
          double& a = x[(t * H + h) * D + i];
          double& b = x[(t * H + h) * D + i + D / 2];
          const double na = a * std::cos(ang) - b * std::sin(ang), nb = b * std::cos(ang) + a * std::sin(ang);
          a = na, b = nb;
        }
  }
  // sum_t wl[t] * logprob[t] + we[t] * entropy[t]
  double objective(const PackedBatch& bt, const std::vector<double>& wl, const std::vector<double>& we) const {
    const int T = bt.num_tokens(), C = c.hidden_size, F = c.intermediate_size, Hq = c.num_attention_heads,
              Hkv = c.num_key_value_heads, D = c.head_dim, V = c.vocab_size;
    std::vector<double> x(size_t(T) * C);
    for (int t = 0; t < T; t++)
      for (int i = 0; i < C; i++) x[t * C + i] = p[L.embed + int64_t(bt.tokens[t]) * C + i];
    std::vector<double> n, q, k, v, att, o, g, u, d;
    for (int l = 0; l < c.num_hidden_layers; l++) {
      const auto& w = L.layer(l);
      rmsnorm(n, x, w.input_norm, T);
      linear(q, n, w.q_w, w.q_b, T, C, Hq * D);
      linear(k, n, w.k_w, w.k_b, T, C, Hkv * D);
      linear(v, n, w.v_w, w.v_b, T, C, Hkv * D);
      rope(q, bt.positions, T, Hq);
      rope(k, bt.positions, T, Hkv);
      att.assign(size_t(T) * Hq * D, 0);
      for (int s = 0; s + 1 < int(bt.cu_seqlens.size()); s++)
        for (int t = bt.cu_seqlens[s]; t < bt.cu_seqlens[s + 1]; t++)
          for (int h = 0; h < Hq; h++) {
            const int kh = h / (Hq / Hkv);
            std::vector<double> sc;
            double mx = -1e300;
            for (int j = bt.cu_seqlens[s]; j <= t; j++) {
              double dot = 0;
              for (int e = 0; e < D; e++) dot += q[(t * Hq + h) * D + e] * k[(j * Hkv + kh) * D + e];
              sc.push_back(dot / std::sqrt(double(D)));
              mx = std::max(mx, sc.back());
            }
            double z = 0;
            for (double& e : sc) z += (e = std::exp(e - mx));
            for (int j = bt.cu_seqlens[s]; j <= t; j++)
              for (int e = 0; e < D; e++)
                att[(t * Hq + h) * D + e] += sc[j - bt.cu_seqlens[s]] / z * v[(j * Hkv + kh) * D + e];
          }
      linear(o, att, w.o_w, -1, T, Hq * D, C);
      for (size_t i = 0; i < x.size(); i++) x[i] += o[i];
      rmsnorm(n, x, w.post_norm, T);
      linear(g, n, w.gate_w, -1, T, C, F);
      linear(u, n, w.up_w, -1, T, C, F);
      for (size_t i = 0; i < g.size(); i++) g[i] = g[i] / (1 + std::exp(-g[i])) * u[i];
      linear(d, g, w.down_w, -1, T, F, C);
      for (size_t i = 0; i < x.size(); i++) x[i] += d[i];
    }
    rmsnorm(n, x, L.final_norm, T);
    std::vector<double> logits;
    linear(logits, n, L.lm_head, -1, T, C, V);
    double obj = 0;
    for (int t = 0; t < T; t++) {
      if (bt.targets[t] < 0) continue;
      double mx = -1e300;
      for (int i = 0; i < V; i++) mx = std::max(mx, logits[t * V + i]);
      double z = 0;
      for (int i = 0; i < V; i++) z += std::exp(logits[t * V + i] - mx);
      const double lz = mx + std::log(z);
      double ent = 0;
      for (int i = 0; i < V; i++) {
        const double lp = logits[t * V + i] - lz;
        ent -= std::exp(lp) * lp;
      }
      obj += wl[t] * (logits[t * V + bt.targets[t]] - lz) + we[t] * ent;
    }
    return obj;
  }
};

void check_gradients(bool bias, bool tied) {
  const ModelConfig c = test_config(bias, tied);
  Transformer model(c);
  init_params(c, model.layout(), model.params(), 1234);
  // Larger weights than the 0.02 init so every path carries a visible gradient.
  for (int64_t i = 0; i < model.num_params(); i++) model.params()[i] *= 8.0f;
  for (const auto& info : model.layout().params())
    if (info.shape.ndim == 1 && info.hf_name.find("norm") != std::string::npos)
      for (int64_t i = 0; i < info.shape.numel(); i++) model.params()[info.offset + i] = 1.0f + 0.1f * float(i % 5);
  const PackedBatch batch = test_batch(c.vocab_size);
  const int T = batch.num_tokens();
  Philox rng(9, 1);
  std::vector<float> dl(T), de(T);
  std::vector<double> wl(T), we(T);
  for (int t = 0; t < T; t++) wl[t] = dl[t] = rng.normal(), we[t] = de[t] = 0.5f * rng.normal();
  model.set_head_chunk(4);
  model.zero_grads();
  model.forward(batch);
  std::vector<float> lp(T), ent(T);
  model.head_forward(batch, lp.data(), ent.data());
  model.backward(batch, dl.data(), de.data());

  std::vector<double> p(model.params(), model.params() + model.num_params());
  Ref ref{c, model.layout(), p};
  const double h = 1e-5;
  int checked = 0;
  for (const auto& info : model.layout().params()) {
    const int64_t n = info.shape.numel();
    double gmax = 0;
    for (int64_t i = 0; i < n; i++) gmax = std::max(gmax, double(std::fabs(model.grads()[info.offset + i])));
    for (int s = 0; s < 6; s++) {
      const int64_t i = info.offset + int64_t(rng.below(uint64_t(n)));
      const double saved = p[i];
      p[i] = saved + h;
      const double up = ref.objective(batch, wl, we);
      p[i] = saved - h;
      const double down = ref.objective(batch, wl, we);
      p[i] = saved;
      const double fd = (up - down) / (2 * h), g = model.grads()[i];
      const double scale = std::max(std::fabs(fd), 1e-2 * gmax + 1e-6);
      EXPECT_LE(std::fabs(g - fd) / scale, 1e-3) << info.hf_name << " index " << i - info.offset << " analytic " << g
                                                 << " finite-difference " << fd;
      checked++;
    }
  }
  EXPECT_GT(checked, 50);
}

}  // namespace

TEST(Transformer, BackwardMatchesFiniteDifferencesQwen2TiedWithBias) { check_gradients(true, true); }
TEST(Transformer, BackwardMatchesFiniteDifferencesLlamaUntied) { check_gradients(false, false); }

TEST(Transformer, ForwardMatchesDoubleReference) {
  const ModelConfig c = test_config(true, false);
  Transformer model(c);
  init_params(c, model.layout(), model.params(), 77);
  for (int64_t i = 0; i < model.num_params(); i++) model.params()[i] *= 8.0f;
  const PackedBatch batch = test_batch(c.vocab_size);
  const int T = batch.num_tokens();
  model.forward(batch);
  std::vector<float> lp(T);
  model.head_forward(batch, lp.data(), nullptr);
  std::vector<double> p(model.params(), model.params() + model.num_params());
  Ref ref{c, model.layout(), p};
  for (int t = 0; t < T; t++) {
    if (batch.targets[t] < 0) continue;
    std::vector<double> wl(T, 0.0), we(T, 0.0);
    wl[t] = 1;
    EXPECT_NEAR(lp[t], ref.objective(batch, wl, we), 1e-4) << "token " << t;
  }
}

TEST(Transformer, PackedBatchEqualsSequencesAlone) {
  const ModelConfig c = test_config(true, true);
  Transformer model(c);
  init_params(c, model.layout(), model.params(), 3);
  const PackedBatch packed = test_batch(c.vocab_size);
  model.forward(packed);
  std::vector<float> lp(packed.num_tokens());
  model.head_forward(packed, lp.data(), nullptr);
  for (int s = 0; s < packed.num_sequences(); s++) {
    const int b = packed.cu_seqlens[s], e = packed.cu_seqlens[s + 1];
    PackedBatch alone;
    alone.add_sequence(std::vector<int32_t>(packed.tokens.begin() + b, packed.tokens.begin() + e));
    model.forward(alone);
    std::vector<float> lp1(alone.num_tokens());
    model.head_forward(alone, lp1.data(), nullptr);
    for (int t = 0; t < e - b; t++) EXPECT_NEAR(lp1[t], lp[b + t], 1e-5) << "sequence " << s << " token " << t;
  }
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
