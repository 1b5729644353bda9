// The GPU model's memory, planned on the host: where every activation of a batch of T tokens lives in the CUDA
// model's arena (bf16 activations, float32 norm statistics and attention lse, one layer's backward scratch), and
// what training takes in total (float32 master weights, gradients and AdamW moments, the bf16 working copy, the
// LM head's chunk of float32 logits + bf16 dlogits). CudaTransformer allocates exactly this plan; `r1 info`
// prints it, so "does bs x seq fit on my GPU" is answered before a run (measured on an H100 within 2%).
#pragma once
#include <cstddef>
#include <vector>

#include "model/config.h"

namespace r1 {

// Tokens per LM-head chunk of the CUDA model: 3.7 GB of scratch at a 151936 vocabulary (float32 logits + bf16
// dlogits). Measured on an H100 (Qwen2.5-0.5B shape): 2.7% / 1.9% faster steps at 8 x 1024 / 16 x 2048 tokens
// than 1024-token chunks (0.93 GB), whose fewer, wider logits GEMMs the bigger chunks trade for 2.8 GB.
constexpr int kDefaultGpuHeadChunk = 4096;

struct GpuActivationPlan {
  static constexpr size_t kNotSaved = ~size_t(0);
  struct Layer {
    size_t x, n1, q, k, v, att, h, n2, gate, up;  // bf16
    size_t act;                                   // bf16 SwiGLU product, or kNotSaved (recomputed into `act`)
    size_t rstd1, rstd2, lse;                     // float32
  };
  std::vector<Layer> layers;  // byte offsets into the arena, 256-byte aligned
  size_t x_final, n_final, rstd_final;
  // Scratch shared by the layers: forward (act, unless saved per layer) and one layer's gradients at a time in the
  // backward.
  size_t act, dres, dnorm, dact, dgate, dup, dq, datt, dk, dv;
  size_t total_bytes = 0;
};

// save_swiglu: keep every layer's SwiGLU product for the backward (T x F bf16 per layer) instead of recomputing it.
GpuActivationPlan plan_gpu_activations(const ModelConfig& config, int tokens, bool save_swiglu = false);

struct GpuTrainingMemory {
  size_t master_weights, working_weights, gradients, moments, activations, head_scratch;
  size_t total() const { return master_weights + working_weights + gradients + moments + activations + head_scratch; }
};

GpuTrainingMemory gpu_training_memory(const ModelConfig& config, int tokens, int head_chunk, bool save_swiglu = false);

// Whether the CUDA model saves the SwiGLU products on a device of `device_bytes`: saving spares the backward its
// recompute (2 ms of a 76 ms step at 8 x 1024 tokens on an H100) but costs 1.9 GB there and 7.6 GB at 16 x 2048,
// so the model saves them only while the whole training footprint with them stays within half the device. The
// other half is left to what shares the GPU: GRPO's reference model and the rollout engine's KV cache.
bool gpu_saves_swiglu(const ModelConfig& config, int tokens, int head_chunk, size_t device_bytes);

}  // namespace r1
