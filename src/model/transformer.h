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
#include "model/param_layout.h"

namespace r1 {

struct PackedBatch {
  std::vector<int32_t> tokens;      // [T]
  std::vector<int32_t> positions;   // [T] position of each token within its own sequence
  std::vector<int32_t> cu_seqlens;  // [B+1] token offsets of the sequences
  std::vector<int32_t> targets;     // [T] next-token target, -1 where no loss/logprob is wanted

  int num_tokens() const { return int(tokens.size()); }
  int num_sequences() const { return int(cu_seqlens.size()) - 1; }
  int64_t num_targets() const;  // tokens with a target (>= 0)
  // Appends one sequence; targets are the next tokens where `loss_mask` is set (mask[i] covers tokens[i+1]).
  void add_sequence(const std::vector<int32_t>& seq, const std::vector<uint8_t>& loss_mask = {});
  void clear();
};

// The CPU backend's RoPE scaling for a model config (llama3 scaling or none); shared by training and inference
// so both rotate by the same tables.
cpu::RopeScaling rope_scaling_of(const ModelConfig& config);

class Transformer {
 public:
  explicit Transformer(const ModelConfig& config);

  const ModelConfig& config() const { return config_; }
  const ParamLayout& layout() const { return layout_; }
  int64_t num_params() const { return layout_.total(); }
  float* params() { return params_.data(); }
  const float* params() const { return params_.data(); }
  float* grads() { return grads_.data(); }
  void zero_grads();

  // Plans and allocates activations for batches of up to max_tokens tokens.
  void reserve(int max_tokens);
  int capacity() const { return capacity_; }
  // Activation bytes needed for max_tokens (what reserve would allocate), without allocating.
  static size_t activation_bytes(const ModelConfig& config, int max_tokens, int head_chunk);

  // Trunk forward: embeddings -> blocks -> final norm. Saves what backward needs.
  void forward(const PackedBatch& batch);
  // Final-norm hidden states [T, hidden] of the last forward.
  const float* hidden() const;
  // Per-token log p(target) and entropy (entropy may be null) at the given inverse temperature.
  void head_forward(const PackedBatch& batch, float* logprob, float* entropy, float inv_temperature = 1.0f);
  // Backward from d(loss)/d(logprob[t]) and optionally d(loss)/d(entropy[t]); accumulates into grads().
  void backward(const PackedBatch& batch, const float* dlogprob, const float* dentropy,
                float inv_temperature = 1.0f);

  // Mean next-token cross-entropy over the batch's targets: forward + head (+ backward when train is set).
  // Returns the loss; with train, gradients of that mean loss are accumulated into grads().
  double cross_entropy_step(const PackedBatch& batch, bool train);

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
