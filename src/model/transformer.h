// Transformer: the Qwen2 / Llama-3 decoder (pre-norm, GQA attention with RoPE, SwiGLU MLP) with an explicit
// forward and a hand-written backward over flat parameter and gradient buffers (the llm.c way).
//
// Batches are PACKED: several sequences concatenated into T tokens with offsets cu_seqlens[B+1]; attention is
// causal within each sequence, so no padding is ever computed. Activations live in one Arena whose plan is
// computed up front for a maximum token count (reserve), which is also what `r1 info` reports.
//
// The loss head is separate from the trunk: forward() stops at the final RMSNorm; head_forward() turns hidden
// states into per-token log-probabilities/entropies chunk by chunk, never holding [T x vocab] logits.
#pragma once
#include <cstdint>
#include <vector>

#include "backend/cpu/ops.h"
#include "core/arena.h"
#include "model/config.h"
#include "model/packed_batch.h"
#include "model/param_layout.h"
#include "model/trainable_model.h"

namespace r1 {


// The CPU backend's RoPE scaling for a model config (llama3 scaling or none); shared by training and inference
// so both rotate by the same tables.
cpu::RopeScaling rope_scaling_of(const ModelConfig& config);

// The CPU (float32 reference) TrainableModel.
class Transformer final : public TrainableModel {
 public:
  explicit Transformer(const ModelConfig& config);

  Device device() const override { return Device::CPU; }
  const ModelConfig& config() const override { return config_; }
  const ParamLayout& layout() const override { return layout_; }
  float* params() { return params_.data(); }
  const float* params() const { return params_.data(); }
  float* grads() { return grads_.data(); }
  float* host_params() override { return params_.data(); }
  const float* host_params() const override { return params_.data(); }
  float* device_params() override { return params_.data(); }
  float* device_grads() override { return grads_.data(); }
  void zero_grads() override;

  // Plans and allocates activations for batches of up to max_tokens tokens.
  void reserve(int max_tokens) override;
  int capacity() const { return capacity_; }
  // Activation bytes needed for max_tokens (what reserve would allocate), without allocating.
  static size_t activation_bytes(const ModelConfig& config, int max_tokens, int head_chunk);

  // Trunk forward: embeddings -> blocks -> final norm. Saves what backward needs.
  void forward(const PackedBatch& batch) override;
  // Final-norm hidden states [T, hidden] of the last forward.
  const float* hidden() const;
  // Per-token log p(target) and entropy (entropy may be null) at the given inverse temperature.
  void head_forward(const PackedBatch& batch, float* logprob, float* entropy, float inv_temperature = 1.0f) override;
  // Backward from d(loss)/d(logprob[t]) and optionally d(loss)/d(entropy[t]); accumulates into grads().
  void backward(const PackedBatch& batch, const float* dlogprob, const float* dentropy,
                float inv_temperature = 1.0f) override;

  // Mean next-token cross-entropy over the batch's targets: forward + head (+ backward when train is set).
  // Returns the loss; with train, gradients of that mean loss are accumulated into grads().
  double cross_entropy_step(const PackedBatch& batch, bool train) override;

  double grad_sum_squares(int64_t begin, int64_t end) override;
  void init_optimizer_state(int64_t begin, int64_t end) override;
  void adamw(const AdamWUpdate& u, int64_t begin, int64_t end) override;
  void read_optimizer_state(float* m, float* v, int64_t begin, int64_t end) const override;
  void write_optimizer_state(const float* m, const float* v, int64_t begin, int64_t end) override;
  size_t optimizer_state_bytes() const override { return (adam_m_.size() + adam_v_.size()) * sizeof(float); }

  int head_chunk() const { return head_chunk_; }
  void set_head_chunk(int chunk) { head_chunk_ = chunk; }

 private:
  struct LayerActs {
    size_t x, n1, rstd1, q, k, v, att, lse, h, n2, rstd2, gate, up, act;
  };
  float* act(size_t index) const { return acts_[index].f32(); }

  ModelConfig config_;
  ParamLayout layout_;
  std::vector<float> params_, grads_;
  std::vector<float> adam_m_, adam_v_;  // AdamW moments of [adam_begin_, adam_begin_ + size)
  int64_t adam_begin_ = 0;
  std::vector<float> rope_cos_, rope_sin_;
  int capacity_ = 0;
  int head_chunk_ = 256;
  Arena acts_;
  std::vector<LayerActs> layer_acts_;
  size_t x_final_ = 0, n_final_ = 0, rstd_final_ = 0;
  size_t scratch_c_ = 0, scratch_f_ = 0, scratch_q_ = 0, scratch_kv1_ = 0, scratch_kv2_ = 0, scratch_q2_ = 0;
  size_t dresid_ = 0, dnorm_ = 0, dF_gate_ = 0, dF_up_ = 0;
};

}  // namespace r1
