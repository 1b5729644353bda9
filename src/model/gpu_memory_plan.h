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
  struct Layer {
    size_t x, n1, q, k, v, att, h, n2, gate, up;  // bf16
    size_t rstd1, rstd2, lse;                     // float32
  };
  std::vector<Layer> layers;  // byte offsets into the arena, 256-byte aligned
  size_t x_final, n_final, rstd_final;
  // Scratch shared by the layers: forward (tmp, act) and one layer's gradients at a time in the backward.
  size_t tmp, act, dres, dnorm, dact, dgate, dup, dq, datt, dk, dv;
  size_t total_bytes = 0;
};

GpuActivationPlan plan_gpu_activations(const ModelConfig& config, int tokens);

struct GpuTrainingMemory {
  size_t master_weights, working_weights, gradients, moments, activations, head_scratch;
  size_t total() const { return master_weights + working_weights + gradients + moments + activations + head_scratch; }
};

GpuTrainingMemory gpu_training_memory(const ModelConfig& config, int tokens, int head_chunk);

}  // namespace r1
