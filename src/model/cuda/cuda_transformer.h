// CudaTransformer: the Qwen2 / Llama-3 decoder on one GPU, the same computation as the CPU Transformer (the
// reference it is tested against) through the CUDA ops of backend/cuda.
//
// Memory: float32 master weights, float32 gradients (allocated on first use) and float32 AdamW moments (flat buffers laid out by
// ParamLayout, like the CPU's); a bf16 working copy of the weights that every matmul reads (refreshed by the fused
// AdamW, or after the master weights change); bf16 activations with float32 norm statistics and attention lse.
// The SwiGLU product is not saved: backward recomputes it from gate and up (one elementwise pass instead of
// [T, ffn] bf16 per layer), which is what lets bs 16 x 2048 of a 0.5B model fit in well under 40 GiB.
//
// Host interface as TrainableModel: packed batches and per-token outputs are host arrays (uploaded/downloaded
// per call: T integers and floats, negligible next to the work). The rollout engine reads weights_bf16() in place.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <memory>
#include <vector>

#include "backend/cuda/context.h"
#include "backend/cuda/device_buffer.h"
#include "backend/cuda/ops.h"  // AdamWChunk
#include "model/gpu_memory_plan.h"
#include "model/trainable_model.h"

namespace r1::cuda {

class CudaTransformer final : public TrainableModel {
 public:
  explicit CudaTransformer(const ModelConfig& config);
  ~CudaTransformer() override;

  Device device() const override { return Device::CUDA; }
  const ModelConfig& config() const override { return config_; }
  const ParamLayout& layout() const override { return layout_; }

  float* host_params() override { return host_params_.data(); }
  const float* host_params() const override { return host_params_.data(); }
  void push_params() override;
  void pull_params() override;
  float* device_params() override { return params_.get(); }
  float* device_grads() override { return grads(); }
  // The bf16 working copy of the weights (device, ParamLayout offsets): what the GPU rollout engine reads.
  const __nv_bfloat16* weights_bf16() const { return weights_.get(); }
  Context& context() { return *ctx_; }

  void reserve(int max_tokens) override;
  void zero_grads() override;
  void forward(const PackedBatch& batch) override;
  void head_forward(const PackedBatch& batch, float* logprob, float* entropy, float inv_temperature = 1.0f) override;
  void backward(const PackedBatch& batch, const float* dlogprob, const float* dentropy,
                float inv_temperature = 1.0f) override;
  double cross_entropy_step(const PackedBatch& batch, bool train) override;

  double grad_sum_squares(int64_t begin, int64_t end) override;
  void init_optimizer_state(int64_t begin, int64_t end) override;
  void adamw(const AdamWUpdate& u, int64_t begin, int64_t end) override;
  void read_optimizer_state(float* m, float* v, int64_t begin, int64_t end) const override;
  void write_optimizer_state(const float* m, const float* v, int64_t begin, int64_t end) override;
  size_t optimizer_state_bytes() const override { return adam_m_.bytes() + adam_v_.bytes(); }
  size_t device_bytes_in_use() const override;
  void device_params_changed(int64_t begin, int64_t end) override;

  int head_chunk() const { return head_chunk_; }
  void set_head_chunk(int chunk) { head_chunk_ = chunk; }
  // Whether the forward keeps each layer's SwiGLU product for the backward instead of recomputing it: Auto asks
  // gpu_saves_swiglu (and the free memory) at each reserve(); takes effect at the next reserve() that allocates.
  enum class SwigluMemory { Auto, Save, Recompute };
  void set_swiglu_memory(SwigluMemory m) { swiglu_memory_ = m; }
  bool saves_swiglu() const { return saves_swiglu_; }
  // Bytes of activations (and backward scratch) reserve(max_tokens) allocates.
  static size_t activation_bytes(const ModelConfig& config, int max_tokens, bool save_swiglu = false);

 private:
  struct Acts;  // the activation arena's pointers (cuda_transformer.cpp)
  void upload_batch(const PackedBatch& batch);
  // From d(loss)/d(final norm output) in dnorm down to the embeddings; `write`: the gradients are stale (see
  // grads_stale_) and each one's first contribution writes it.
  void backward_trunk(float* G, bool write);
  // The float32 gradients, allocated (zeroed) on first use: a frozen model (GRPO's reference) never needs them.
  // Stale gradients are zeroed here first.
  float* grads();
  // For a backward pass: the gradients, and in *write whether they are stale (the pass must write every one; it
  // then leaves them current).
  float* grads_for_backward(bool* write);

  ModelConfig config_;
  ParamLayout layout_;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<Context> ctx_;
  std::vector<float> host_params_;
  DeviceBuffer<float> params_, grads_, adam_m_, adam_v_;
  // zero_grads() marks the gradients stale instead of clearing 4 bytes per parameter: the next backward writes
  // them (its first product into each one overwrites), and any other reader zeroes them first.
  bool grads_stale_ = false;
  int64_t adam_begin_ = 0, adam_count_ = 0;
  // adamw()'s launch table for the range [adam_chunks_begin_, adam_chunks_end_) (built on first use).
  DeviceBuffer<AdamWChunk> adam_chunks_;
  int64_t adam_chunks_begin_ = -1, adam_chunks_end_ = -1;
  DeviceBuffer<__nv_bfloat16> weights_;
  DeviceBuffer<float> rope_cos_, rope_sin_;
  DeviceBuffer<double> norm_sq_;
  // The current batch on the device.
  DeviceBuffer<int32_t> tokens_, positions_, cu_seqlens_, targets_;
  DeviceBuffer<float> logprob_, entropy_, dlogprob_, dentropy_;
  int batch_T_ = 0, batch_B_ = 0, batch_max_seqlen_ = 0;
  int capacity_ = 0;
  int head_chunk_ = kDefaultGpuHeadChunk;  // tokens per LM-head chunk (float32 logits + bf16 dlogits scratch)
  SwigluMemory swiglu_memory_ = SwigluMemory::Auto;
  bool saves_swiglu_ = false;  // the current arena's choice
  DeviceBuffer<char> arena_;
  std::unique_ptr<Acts> acts_;
};

// Registers the CUDA model with make_model (Device::CUDA). Called once at startup by programs built with CUDA.
void register_cuda_model();

}  // namespace r1::cuda
