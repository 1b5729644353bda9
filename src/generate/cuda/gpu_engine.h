// GpuEngine: the rollout engine on a CUDA device, with the semantics of the CPU gen::Engine (engine.h) —
// requests with n samples that share the prompt's prefill and KV pages (copy-on-write), continuous batching
// (a finished sequence frees its slot and pages at once; waiting samples start), EOS / stop ids / stop strings
// (checked on the host through the detokenize callback), finish reasons, per-token logprobs (T = 1) and
// sampling_logprobs, callbacks and EngineStats — and the same randomness: sample j of a request draws
// uniform sampling_uniform(seed, first_sample + j, step) (computed on the host, one double per row per step) and
// the GPU sampler picks the token the CPU sampler would pick for the same logits.
//
// The paged KV cache lives in GPU memory (bf16); prefill runs the training kernels over the packed prompts;
// each decode step is one CUDA graph (per batch-size bucket) of the model forward, paged decode attention and
// fused sampling (generate/cuda/gpu_forward.h). Steps are pipelined: step s + 1 is launched before step s's
// tokens are read (it takes them from the device), so the host's bookkeeping overlaps the device's work; a sample
// that finishes on a token still in flight costs one discarded row.
#pragma once
#include <cuda_bf16.h>

#include <memory>
#include <vector>

#include "backend/cuda/context.h"
#include "generate/cuda/gpu_forward.h"
#include "generate/page_allocator.h"
#include "generate/rollout_engine.h"
#include "generate/types.h"
#include "model/config.h"

namespace r1::gen {

class GpuEngine final : public RolloutEngine {
 public:
  // weights: a DEVICE bf16 flat buffer laid out by ParamLayout(config), read in place on every generate() call.
  // ctx: the stream and cuBLASLt state to use; when null the engine owns a Context on its own stream. CUDA
  // graphs need a non-default stream (with the legacy default stream the steps run eagerly).
  GpuEngine(const ModelConfig& config, const __nv_bfloat16* weights, EngineOptions options,
            cuda::Context* ctx = nullptr);
  ~GpuEngine() override;

  std::vector<Completion> generate(const std::vector<GenerationRequest>& requests,
                                   const EngineCallbacks& callbacks = {}) override;
  const EngineStats& stats() const override { return stats_; }
  const EngineOptions& options() const { return options_; }
  // CUDA graphs for the decode step (on by default); off runs every kernel eagerly (for timing comparisons).
  void set_use_graphs(bool on) { forward_->set_use_graphs(on); }

 private:
  struct Run;
  ModelConfig config_;
  EngineOptions options_;
  cudaStream_t own_stream_ = nullptr;
  std::unique_ptr<cuda::Context> own_ctx_;
  cuda::Context* ctx_ = nullptr;
  std::unique_ptr<GpuForward> forward_;
  PageAllocator pages_;
  EngineStats stats_;
};

}  // namespace r1::gen
