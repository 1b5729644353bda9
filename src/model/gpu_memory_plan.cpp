#include "model/gpu_memory_plan.h"

#include <algorithm>

#include "model/param_layout.h"

namespace r1 {

namespace {

constexpr size_t kAlign = 256;  // every activation starts 256-byte aligned (cuBLASLt, cp.async, vector loads)

struct Planner {
  size_t used = 0;
  size_t take(size_t bytes) {
    const size_t at = used;
    used += (bytes + kAlign - 1) / kAlign * kAlign;
    return at;
  }
};

}  // namespace

GpuActivationPlan plan_gpu_activations(const ModelConfig& c, int tokens, bool save_swiglu) {
  const size_t C = c.hidden_size, F = c.intermediate_size, QD = size_t(c.num_attention_heads) * c.head_dim,
               KVD = size_t(c.num_key_value_heads) * c.head_dim, H = c.num_attention_heads, n = size_t(tokens);
  Planner p;
  auto bf = [&](size_t elems) { return p.take(elems * 2); };
  auto f32 = [&](size_t elems) { return p.take(elems * 4); };
  GpuActivationPlan a;
  for (int l = 0; l < c.num_hidden_layers; l++) {
    GpuActivationPlan::Layer L{};
    L.x = bf(n * C), L.n1 = bf(n * C), L.q = bf(n * QD), L.k = bf(n * KVD), L.v = bf(n * KVD), L.att = bf(n * QD);
    L.h = bf(n * C), L.n2 = bf(n * C), L.gate = bf(n * F), L.up = bf(n * F);
    L.act = save_swiglu ? bf(n * F) : GpuActivationPlan::kNotSaved;
    L.rstd1 = f32(n), L.rstd2 = f32(n), L.lse = f32(n * H);
    a.layers.push_back(L);
  }
  a.x_final = bf(n * C), a.n_final = bf(n * C), a.rstd_final = f32(n);
  a.act = bf(n * F), a.dres = bf(n * C), a.dnorm = bf(n * C);
  a.dact = bf(n * F), a.dgate = bf(n * F), a.dup = bf(n * F);
  a.dq = bf(n * QD), a.datt = bf(n * QD), a.dk = bf(n * KVD), a.dv = bf(n * KVD);
  a.total_bytes = p.used;
  return a;
}

GpuTrainingMemory gpu_training_memory(const ModelConfig& config, int tokens, int head_chunk, bool save_swiglu) {
  const size_t n = size_t(ParamLayout(config).total());
  GpuTrainingMemory m;
  m.master_weights = 4 * n, m.working_weights = 2 * n, m.gradients = 4 * n, m.moments = 8 * n;
  m.activations = plan_gpu_activations(config, tokens, save_swiglu).total_bytes;
  // The LM head's float32 logits and bf16 dlogits for one chunk of tokens (6 bytes per logit), plus what the
  // first, smaller request for that scratch (the forward's float32 logits alone) leaves behind: Context::scratch
  // frees it stream-ordered, into a pool that keeps it. Counted as 2 more bytes per logit, the plan is within
  // 0.3 GiB of the H100 peaks at 1024- and 4096-token chunks (over, never under).
  m.head_scratch = size_t(std::min(head_chunk, tokens)) * size_t(config.vocab_size) * 8;
  return m;
}

bool gpu_saves_swiglu(const ModelConfig& config, int tokens, int head_chunk, size_t device_bytes) {
  return gpu_training_memory(config, tokens, head_chunk, /*save_swiglu=*/true).total() <= device_bytes / 2;
}

}  // namespace r1
