// An independent double-precision reference of the whole Transformer (RMSNorm, GQA attention with rotate_half
// RoPE over packed sequences, SwiGLU MLP, every bias the layout has) and the finite-difference harness that checks
// the model's float32 analytic backward against it. Shared by tests/model/test_transformer.cpp (Qwen2 / plain
// Llama) and tests/model/test_llama_bias.cpp (Llama with o_proj and MLP biases).
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "core/rng.h"
#include "model/config.h"
#include "model/packed_batch.h"
#include "model/param_layout.h"
#include "model/transformer.h"
#include "support/small_model.h"

namespace r1::test {

// Reads the parameters from `p` (flat, in the layout's order) on every call, so a caller can perturb one element
// and evaluate again. y = x W^T + b for every projection whose bias offset is >= 0 (-1: the layout has none).
class Reference {
 public:
  Reference(const ModelConfig& c, const ParamLayout& layout, const std::vector<double>& p)
      : c_(c), layout_(layout), p_(p) {}

  // sum_t wl[t] * log p(target_t) + we[t] * entropy_t over the tokens that have a target.
  double objective(const PackedBatch& b, const std::vector<double>& wl, const std::vector<double>& we) const {
    const int T = b.num_tokens(), C = c_.hidden_size, V = c_.vocab_size;
    std::vector<double> x(size_t(T) * C);
    for (int t = 0; t < T; t++)
      for (int i = 0; i < C; i++) x[size_t(t) * C + i] = p_[size_t(layout_.embed + int64_t(b.tokens[t]) * C + i)];
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
      obj += wl[size_t(t)] * (z[b.targets[t]] - lse) + we[size_t(t)] * entropy;
    }
    return obj;
  }

 private:
  double p(int64_t i) const { return p_[size_t(i)]; }

  std::vector<double> norm(const std::vector<double>& x, int64_t gain, int T) const {
    const int C = c_.hidden_size;
    std::vector<double> y(x.size());
    for (int t = 0; t < T; t++) {
      double ss = 0;
      for (int i = 0; i < C; i++) ss += x[size_t(t) * C + i] * x[size_t(t) * C + i];
      const double r = 1.0 / std::sqrt(ss / C + c_.rms_norm_eps);
      for (int i = 0; i < C; i++) y[size_t(t) * C + i] = x[size_t(t) * C + i] * r * p(gain + i);
    }
    return y;
  }
  // [T, O] = x [T, I] W[O, I]^T (+ bias[O] when bias >= 0).
  std::vector<double> project(const std::vector<double>& x, int64_t W, int64_t bias, int T, int I, int O) const {
    std::vector<double> y(size_t(T) * O);
    for (int t = 0; t < T; t++)
      for (int o = 0; o < O; o++) {
        double s = bias >= 0 ? p(bias + o) : 0.0;
        for (int i = 0; i < I; i++) s += x[size_t(t) * I + i] * p(W + int64_t(o) * I + i);
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
          const double a = pos[size_t(t)] * std::pow(double(c_.rope_theta), -2.0 * i / D);
          double* v = &x[(size_t(t) * H + h) * D];
          const double lo = v[i], hi = v[i + D / 2];
          v[i] = lo * std::cos(a) - hi * std::sin(a);
          v[i + D / 2] = hi * std::cos(a) + lo * std::sin(a);
        }
  }
  // Causal softmax attention within each packed sequence; query head h reads KV head h / (Hq / Hkv).
  std::vector<double> attend(const std::vector<double>& q, const std::vector<double>& k, const std::vector<double>& v,
                             const PackedBatch& b) const {
    const int T = b.num_tokens(), Hq = c_.num_attention_heads, Hkv = c_.num_key_value_heads, D = c_.head_dim;
    std::vector<double> att(size_t(T) * Hq * D, 0.0);
    for (int s = 0; s < b.num_sequences(); s++)
      for (int t = b.cu_seqlens[s]; t < b.cu_seqlens[s + 1]; t++)
        for (int h = 0; h < Hq; h++) {
          const int kh = h / (Hq / Hkv);
          std::vector<double> w;
          for (int j = b.cu_seqlens[s]; j <= t; j++) {
            double dot = 0;
            for (int e = 0; e < D; e++) dot += q[(size_t(t) * Hq + h) * D + e] * k[(size_t(j) * Hkv + kh) * D + e];
            w.push_back(dot / std::sqrt(double(D)));
          }
          const double mx = *std::max_element(w.begin(), w.end());
          double z = 0;
          for (double& e : w) z += (e = std::exp(e - mx));
          for (int j = b.cu_seqlens[s]; j <= t; j++) {
            const double a = w[size_t(j - b.cu_seqlens[s])] / z;
            for (int e = 0; e < D; e++) att[(size_t(t) * Hq + h) * D + e] += a * v[(size_t(j) * Hkv + kh) * D + e];
          }
        }
    return att;
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
    const auto o = project(attend(q, k, v, b), w.o_w, w.o_b, T, Hq * D, C);
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

// The model's log-prob of every target (training head, float32) against the double reference's, within tol.
inline void expect_forward_matches_reference(Transformer& m, const PackedBatch& b, double tol = 1e-4) {
  const std::vector<float> lp = logprobs(m, b);
  const std::vector<double> p(m.params(), m.params() + m.num_params());
  const Reference ref(m.config(), m.layout(), p);
  const int T = b.num_tokens();
  int compared = 0;
  for (int t = 0; t < T; t++) {
    if (b.targets[size_t(t)] < 0) continue;
    std::vector<double> wl(size_t(T), 0.0), we(size_t(T), 0.0);
    wl[size_t(t)] = 1;
    EXPECT_NEAR(lp[size_t(t)], ref.objective(b, wl, we), tol) << "token " << t;
    compared++;
  }
  EXPECT_GT(compared, 0) << "a batch with no targets compares nothing";
}

// What check_gradients_against_reference compared: elements in all, and how many of them were biases.
struct GradientCheckCount {
  int checked = 0;
  int biases = 0;
};

// The analytic float32 gradient of sum wl*logprob + we*entropy (random weights wl, we; the head in chunks of 4
// tokens) against central differences of the double reference, at `samples` random elements of every tensor
// plus every element of the tensors named in `every`. Every bias must also receive a non-zero gradient (one
// the backward forgot would be all zero). Failures are reported as gtest expectations.
inline GradientCheckCount check_gradients_against_reference(Transformer& m, const PackedBatch& b,
                                                            const std::set<std::string>& every = {},
                                                            int samples = 6) {
  const int T = b.num_tokens();
  const size_t n = size_t(T);
  Philox rng(9, 1);
  std::vector<float> dl(n), de(n);
  std::vector<double> wl(n), we(n);
  for (size_t t = 0; t < n; t++) wl[t] = dl[t] = rng.normal(), we[t] = de[t] = 0.5f * rng.normal();
  m.set_head_chunk(4);
  m.zero_grads();
  m.forward(b);
  std::vector<float> lp(n), ent(n);
  m.head_forward(b, lp.data(), ent.data());
  m.backward(b, dl.data(), de.data());

  std::vector<double> p(m.params(), m.params() + m.num_params());
  const Reference ref(m.config(), m.layout(), p);
  const double h = 1e-5;
  GradientCheckCount count;
  auto check = [&](const ParamInfo& info, int64_t i, double gmax) {
    const size_t at = size_t(info.offset + i);
    const double saved = p[at];
    p[at] = saved + h;
    const double up = ref.objective(b, wl, we);
    p[at] = saved - h;
    const double down = ref.objective(b, wl, we);
    p[at] = saved;
    const double fd = (up - down) / (2 * h), g = m.grads()[at];
    // Relative to the tensor's largest gradient too, so tiny entries do not demand float32 beyond its precision.
    const double scale = std::max(std::fabs(fd), 1e-2 * gmax + 1e-6);
    EXPECT_LE(std::fabs(g - fd) / scale, 1e-3)
        << info.hf_name << " index " << i << " analytic " << g << " finite-difference " << fd;
    count.checked++;
    count.biases += is_bias(info);
  };
  for (const ParamInfo& info : m.layout().params()) {
    double gmax = 0;
    for (int64_t i = 0; i < info.numel(); i++) gmax = std::max(gmax, double(std::fabs(m.grads()[info.offset + i])));
    if (is_bias(info)) {
      EXPECT_GT(gmax, 1e-4) << info.hf_name << ": a bias with no gradient";
    }
    if (every.count(info.hf_name)) {
      for (int64_t i = 0; i < info.numel(); i++) check(info, i, gmax);
    } else {
      for (int s = 0; s < samples; s++) check(info, int64_t(rng.below(uint64_t(info.numel()))), gmax);
    }
  }
  return count;
}

}  // namespace r1::test
