#include "model/cuda/cuda_transformer.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "backend/cpu/ops.h"
#include "backend/cuda/check.h"
#include "backend/cuda/ops.h"
#include "core/error.h"
#include "model/gpu_memory_plan.h"
#include "model/transformer.h"  // rope_scaling_of

namespace r1::cuda {

namespace {

// A bias (bf16 weights) or its gradient (float32) at offset `at` of a flat buffer; null when the layout has none
// (offset -1), which the linear ops read as "no bias".
template <typename T>
T* at_or_null(T* base, int64_t at) {
  return at >= 0 ? base + at : nullptr;
}

void zero(Context& ctx, void* p, size_t bytes) { R1_CUDA_CHECK("cuda_transformer", cudaMemsetAsync(p, 0, bytes, ctx.stream())); }

}  // namespace

// Pointers into the activation arena for a capacity of T tokens (the plan's offsets from the arena's base).
struct CudaTransformer::Acts {
  struct Layer {
    bf16 *x, *n1, *q, *k, *v, *att, *h, *n2, *gate, *up;
    bf16* act;  // the saved SwiGLU product, or null: recomputed into the shared `act`
    float *rstd1, *rstd2, *lse;
  };
  std::vector<Layer> layers;
  bf16 *x_final, *n_final;
  float* rstd_final;
  // Scratch shared by all layers (forward: act unless saved; backward: the gradients of one layer at a time).
  bf16 *act, *dres, *dnorm, *dact, *dgate, *dup, *dq, *datt, *dk, *dv;

  Acts(const GpuActivationPlan& p, char* base) {
    auto b = [base](size_t off) { return reinterpret_cast<bf16*>(base + off); };
    auto f = [base](size_t off) { return reinterpret_cast<float*>(base + off); };
    for (const auto& L : p.layers)
      layers.push_back({b(L.x), b(L.n1), b(L.q), b(L.k), b(L.v), b(L.att), b(L.h), b(L.n2), b(L.gate), b(L.up),
                        L.act == GpuActivationPlan::kNotSaved ? nullptr : b(L.act), f(L.rstd1), f(L.rstd2),
                        f(L.lse)});
    x_final = b(p.x_final), n_final = b(p.n_final), rstd_final = f(p.rstd_final);
    act = b(p.act), dres = b(p.dres), dnorm = b(p.dnorm), dact = b(p.dact), dgate = b(p.dgate);
    dup = b(p.dup), dq = b(p.dq), datt = b(p.datt), dk = b(p.dk), dv = b(p.dv);
  }
};

size_t CudaTransformer::activation_bytes(const ModelConfig& config, int max_tokens, bool save_swiglu) {
  return plan_gpu_activations(config, max_tokens, save_swiglu).total_bytes;
}

CudaTransformer::CudaTransformer(const ModelConfig& config) : config_(config), layout_(config) {
  // The tensor-core attention kernels are instantiated for these head sizes (every Qwen2.5 / Llama-3 / R1-Distill
  // model uses 64 or 128): say so before allocating anything.
  if (config.head_dim != 32 && config.head_dim != 64 && config.head_dim != 128)
    throw Error("the CUDA model supports head_dim 32, 64 and 128; this config has " + std::to_string(config.head_dim) +
                " (hidden_size / num_attention_heads): use device cpu");
  R1_CUDA_CHECK("CudaTransformer", cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  ctx_ = std::make_unique<Context>(stream_);
  const size_t n = size_t(layout_.total());
  host_params_.assign(n, 0.0f);
  params_.allocate(n, "master weights (float32)");
  weights_.allocate(n, "working weights (bf16)");
  norm_sq_.allocate(1, "gradient norm");
  R1_CUDA_CHECK("CudaTransformer", cudaMemsetAsync(params_.get(), 0, params_.bytes(), stream_));
  R1_CUDA_CHECK("CudaTransformer", cudaMemsetAsync(weights_.get(), 0, weights_.bytes(), stream_));
  // RoPE tables computed by the CPU reference: both backends rotate by bitwise the same angles.
  const int D = config_.head_dim;
  std::vector<float> cos_t(size_t(config_.max_position_embeddings) * D / 2), sin_t(cos_t.size());
  cpu::rope_tables(cos_t.data(), sin_t.data(), config_.max_position_embeddings, D, config_.rope_theta,
                   rope_scaling_of(config_));
  rope_cos_.allocate(cos_t.size(), "rope cos table");
  rope_sin_.allocate(sin_t.size(), "rope sin table");
  R1_CUDA_CHECK("CudaTransformer", cudaMemcpy(rope_cos_.get(), cos_t.data(), rope_cos_.bytes(), cudaMemcpyHostToDevice));
  R1_CUDA_CHECK("CudaTransformer", cudaMemcpy(rope_sin_.get(), sin_t.data(), rope_sin_.bytes(), cudaMemcpyHostToDevice));
  ctx_->synchronize("CudaTransformer");
}

CudaTransformer::~CudaTransformer() {
  if (stream_) {
    cudaStreamSynchronize(stream_);
    acts_.reset();
    ctx_.reset();
    cudaStreamDestroy(stream_);
  }
}

void CudaTransformer::push_params() {
  R1_CUDA_CHECK("push_params", cudaMemcpyAsync(params_.get(), host_params_.data(), params_.bytes(),
                                               cudaMemcpyHostToDevice, stream_));
  f32_to_bf16(*ctx_, weights_.get(), params_.get(), layout_.total());
  ctx_->synchronize("push_params");
}

void CudaTransformer::pull_params() {
  R1_CUDA_CHECK("pull_params", cudaMemcpyAsync(host_params_.data(), params_.get(), params_.bytes(),
                                               cudaMemcpyDeviceToHost, stream_));
  ctx_->synchronize("pull_params");
}

void CudaTransformer::device_params_changed(int64_t begin, int64_t end) {
  f32_to_bf16(*ctx_, weights_.get() + begin, params_.get() + begin, end - begin);
}

void CudaTransformer::reserve(int max_tokens) {
  if (max_tokens <= capacity_) return;
  ctx_->synchronize("reserve");
  acts_.reset();
  arena_.release();
  bool save = swiglu_memory_ == SwigluMemory::Save;
  if (swiglu_memory_ == SwigluMemory::Auto) {
    size_t free_b = 0, total_b = 0;
    R1_CUDA_CHECK("reserve", cudaMemGetInfo(&free_b, &total_b));
    // The policy's half of the device, and room now (1 GiB to spare) for the larger arena.
    save = gpu_saves_swiglu(config_, max_tokens, head_chunk_, total_b) &&
           activation_bytes(config_, max_tokens, true) + (size_t(1) << 30) <= free_b;
  }
  const GpuActivationPlan plan = plan_gpu_activations(config_, max_tokens, save);
  saves_swiglu_ = save;
  arena_.allocate(plan.total_bytes, "activations");
  acts_ = std::make_unique<Acts>(plan, arena_.get());
  const size_t n = size_t(max_tokens);
  tokens_.allocate(n, "batch tokens");
  positions_.allocate(n, "batch positions");
  targets_.allocate(n, "batch targets");
  cu_seqlens_.allocate(n + 1, "batch cu_seqlens");
  logprob_.allocate(n, "log-probabilities");
  entropy_.allocate(n, "entropies");
  dlogprob_.allocate(n, "log-probability gradients");
  dentropy_.allocate(n, "entropy gradients");
  capacity_ = max_tokens;
}

float* CudaTransformer::grads() {
  if (!grads_.get()) {
    grads_.allocate(size_t(layout_.total()), "gradients (float32)");
    zero(*ctx_, grads_.get(), grads_.bytes());
  }
  if (grads_stale_) {
    zero(*ctx_, grads_.get(), grads_.bytes());
    grads_stale_ = false;
  }
  return grads_.get();
}

float* CudaTransformer::grads_for_backward(bool* write) {
  *write = grads_stale_;
  grads_stale_ = false;  // the pass leaves them current
  if (!grads_.get()) return grads();
  return grads_.get();
}

void CudaTransformer::zero_grads() {
  if (grads_.get()) grads_stale_ = true;
  else grads();
}

void CudaTransformer::upload_batch(const PackedBatch& batch) {
  const int T = batch.num_tokens(), B = batch.num_sequences();
  auto up = [&](int32_t* dst, const std::vector<int32_t>& src) {
    R1_CUDA_CHECK("upload_batch", cudaMemcpyAsync(dst, src.data(), src.size() * sizeof(int32_t), cudaMemcpyHostToDevice,
                                                  stream_));
  };
  up(tokens_.get(), batch.tokens);
  up(positions_.get(), batch.positions);
  up(targets_.get(), batch.targets);
  up(cu_seqlens_.get(), batch.cu_seqlens);
  int max_len = 0;
  for (int b = 0; b < B; b++) max_len = std::max(max_len, batch.cu_seqlens[b + 1] - batch.cu_seqlens[b]);
  batch_T_ = T, batch_B_ = B, batch_max_seqlen_ = max_len;
  // The host vectors may be freed as soon as we return: the copies must have read them.
  ctx_->synchronize("upload_batch");
}

void CudaTransformer::forward(const PackedBatch& batch) {
  validate_batch(config_, batch);
  const int T = batch.num_tokens();
  if (T > capacity_) reserve(T);
  upload_batch(batch);
  const ModelConfig& c = config_;
  const int C = c.hidden_size, F = c.intermediate_size, Hq = c.num_attention_heads, Hkv = c.num_key_value_heads,
            D = c.head_dim, B = batch_B_;
  const bf16* W = weights_.get();
  Context& ctx = *ctx_;
  Acts& a = *acts_;
  bf16* x0 = a.layers.empty() ? a.x_final : a.layers[0].x;
  embedding_forward(ctx, x0, tokens_.get(), W + layout_.embed, T, C);
  for (int l = 0; l < c.num_hidden_layers; l++) {
    const auto& w = layout_.layer(l);
    const Acts::Layer& L = a.layers[size_t(l)];
    rmsnorm_forward(ctx, L.n1, L.rstd1, L.x, W + w.input_norm, T, C, c.rms_norm_eps);
    linear_forward(ctx, L.q, L.n1, W + w.q_w, at_or_null(W, w.q_b), T, C, Hq * D);
    linear_forward(ctx, L.k, L.n1, W + w.k_w, at_or_null(W, w.k_b), T, C, Hkv * D);
    linear_forward(ctx, L.v, L.n1, W + w.v_w, at_or_null(W, w.v_b), T, C, Hkv * D);
    rope_forward_qk(ctx, L.q, L.k, positions_.get(), rope_cos_.get(), rope_sin_.get(), T, Hq, Hkv, D);
    attention_forward(ctx, L.att, L.lse, L.q, L.k, L.v, cu_seqlens_.get(), B, T, Hq, Hkv, D, batch_max_seqlen_);
    // Residual adds in the products' epilogues: h = x + o_proj(att), next x = h + down_proj(act).
    linear_forward_residual(ctx, L.h, L.x, L.att, W + w.o_w, at_or_null(W, w.o_b), T, Hq * D, C);
    rmsnorm_forward(ctx, L.n2, L.rstd2, L.h, W + w.post_norm, T, C, c.rms_norm_eps);
    linear_forward(ctx, L.gate, L.n2, W + w.gate_w, at_or_null(W, w.gate_b), T, C, F);
    linear_forward(ctx, L.up, L.n2, W + w.up_w, at_or_null(W, w.up_b), T, C, F);
    bf16* act = L.act ? L.act : a.act;
    swiglu_forward(ctx, act, L.gate, L.up, int64_t(T) * F);
    bf16* next = l + 1 < c.num_hidden_layers ? a.layers[size_t(l) + 1].x : a.x_final;
    linear_forward_residual(ctx, next, L.h, act, W + w.down_w, at_or_null(W, w.down_b), T, F, C);
  }
  rmsnorm_forward(ctx, a.n_final, a.rstd_final, a.x_final, W + layout_.final_norm, T, C, c.rms_norm_eps);
}

void CudaTransformer::head_forward(const PackedBatch& batch, float* logprob, float* entropy, float inv_temperature) {
  const int T = batch.num_tokens();
  if (T != batch_T_) throw Error("head_forward: batch differs from the last forward");
  lm_head_forward(*ctx_, logprob_.get(), entropy ? entropy_.get() : nullptr, acts_->n_final,
                  weights_.get() + layout_.lm_head, targets_.get(), T, config_.hidden_size, config_.vocab_size,
                  inv_temperature, head_chunk_);
  R1_CUDA_CHECK("head_forward", cudaMemcpyAsync(logprob, logprob_.get(), size_t(T) * sizeof(float),
                                                cudaMemcpyDeviceToHost, stream_));
  if (entropy)
    R1_CUDA_CHECK("head_forward", cudaMemcpyAsync(entropy, entropy_.get(), size_t(T) * sizeof(float),
                                                  cudaMemcpyDeviceToHost, stream_));
  ctx_->synchronize("head_forward");
}

void CudaTransformer::backward(const PackedBatch& batch, const float* dlogprob, const float* dentropy,
                               float inv_temperature) {
  const int T = batch.num_tokens();
  if (T != batch_T_) throw Error("backward: batch differs from the last forward");
  const ModelConfig& c = config_;
  const int C = c.hidden_size;
  Context& ctx = *ctx_;
  Acts& a = *acts_;
  const bf16* W = weights_.get();
  bool write = false;
  float* G = grads_for_backward(&write);
  const size_t TC = size_t(T) * C * sizeof(bf16);
  R1_CUDA_CHECK("backward", cudaMemcpyAsync(dlogprob_.get(), dlogprob, size_t(T) * sizeof(float),
                                            cudaMemcpyHostToDevice, stream_));
  if (dentropy)
    R1_CUDA_CHECK("backward", cudaMemcpyAsync(dentropy_.get(), dentropy, size_t(T) * sizeof(float),
                                              cudaMemcpyHostToDevice, stream_));
  zero(ctx, a.dnorm, TC);
  lm_head_backward(ctx, a.dnorm, G + layout_.lm_head, dlogprob_.get(), dentropy ? dentropy_.get() : nullptr, a.n_final,
                   W + layout_.lm_head, targets_.get(), T, C, c.vocab_size, inv_temperature, head_chunk_, !write);
  backward_trunk(G, write);
  // Callers reuse their host buffers at once: keep the host and the device in step.
  ctx.synchronize("backward");
}

// From d(loss)/d(final norm output) in dnorm down to the embeddings. With `write`, every parameter's first
// contribution writes its gradient; the head has written the lm_head block (the tied embedding's too).
void CudaTransformer::backward_trunk(float* G, bool write) {
  const int T = batch_T_, B = batch_B_;
  const ModelConfig& c = config_;
  const int C = c.hidden_size, F = c.intermediate_size, Hq = c.num_attention_heads, Hkv = c.num_key_value_heads,
            D = c.head_dim;
  Context& ctx = *ctx_;
  Acts& a = *acts_;
  const bf16* W = weights_.get();
  const bool acc = !write;
  const size_t TC = size_t(T) * C * sizeof(bf16);
  zero(ctx, a.dres, TC);
  rmsnorm_backward(ctx, a.dres, G + layout_.final_norm, a.dnorm, a.x_final, W + layout_.final_norm, a.rstd_final, T, C,
                   acc);

  for (int l = c.num_hidden_layers - 1; l >= 0; l--) {
    const auto& w = layout_.layer(l);
    const Acts::Layer& L = a.layers[size_t(l)];
    // MLP. down_proj's weight gradient needs the SwiGLU product: saved by the forward, or recomputed here.
    const bf16* act = L.act;
    if (!act) {
      swiglu_forward(ctx, a.act, L.gate, L.up, int64_t(T) * F);
      act = a.act;
    }
    // The first product into each activation gradient writes it (accumulate_dx false): no zeroing pass.
    linear_backward(ctx, a.dact, G + w.down_w, at_or_null(G, w.down_b), a.dres, act, W + w.down_w, T, F, C, false,
                    acc);
    swiglu_backward(ctx, a.dgate, a.dup, a.dact, L.gate, L.up, int64_t(T) * F, /*accumulate=*/false);
    linear_backward(ctx, a.dnorm, G + w.gate_w, at_or_null(G, w.gate_b), a.dgate, L.n2, W + w.gate_w, T, C, F, false,
                    acc);
    linear_backward(ctx, a.dnorm, G + w.up_w, at_or_null(G, w.up_b), a.dup, L.n2, W + w.up_w, T, C, F, true, acc);
    rmsnorm_backward(ctx, a.dres, G + w.post_norm, a.dnorm, L.h, W + w.post_norm, L.rstd2, T, C, acc);
    // Attention.
    linear_backward(ctx, a.datt, G + w.o_w, at_or_null(G, w.o_b), a.dres, L.att, W + w.o_w, T, Hq * D, C, false, acc);
    attention_backward(ctx, a.dq, a.dk, a.dv, a.datt, L.q, L.k, L.v, L.att, L.lse, cu_seqlens_.get(), B, T, Hq, Hkv, D,
                       batch_max_seqlen_, /*accumulate=*/false);
    rope_backward_qk(ctx, a.dq, a.dk, positions_.get(), rope_cos_.get(), rope_sin_.get(), T, Hq, Hkv, D);
    linear_backward(ctx, a.dnorm, G + w.q_w, at_or_null(G, w.q_b), a.dq, L.n1, W + w.q_w, T, C, Hq * D, false, acc);
    linear_backward(ctx, a.dnorm, G + w.k_w, at_or_null(G, w.k_b), a.dk, L.n1, W + w.k_w, T, C, Hkv * D, true, acc);
    linear_backward(ctx, a.dnorm, G + w.v_w, at_or_null(G, w.v_b), a.dv, L.n1, W + w.v_w, T, C, Hkv * D, true, acc);
    rmsnorm_backward(ctx, a.dres, G + w.input_norm, a.dnorm, L.x, W + w.input_norm, L.rstd1, T, C, acc);
  }
  // The embedding gradient is a scatter-add over the batch's tokens: untied and stale, it is zeroed first (tied,
  // the head has written it).
  if (write && layout_.embed != layout_.lm_head)
    zero(ctx, G + layout_.embed, size_t(config_.vocab_size) * C * sizeof(float));
  embedding_backward(ctx, G + layout_.embed, a.dres, tokens_.get(), T, C);
}

double CudaTransformer::cross_entropy_step(const PackedBatch& batch, bool train) {
  const int T = batch.num_tokens();
  const int64_t n_targets = batch.num_targets();
  if (n_targets == 0) throw Error("batch has no target tokens");
  forward(batch);
  std::vector<float> logprob(size_t(T), 0.0f);
  if (!train) {
    head_forward(batch, logprob.data(), nullptr);
  } else {
    // d(mean loss)/d(logprob) = -1/N is known before the logits are: one fused pass over the vocabulary.
    std::vector<float> dlogprob(size_t(T), 0.0f);
    for (int t = 0; t < T; t++) dlogprob[t] = batch.targets[t] >= 0 ? float(-1.0 / double(n_targets)) : 0.0f;
    Context& ctx = *ctx_;
    R1_CUDA_CHECK("cross_entropy_step", cudaMemcpyAsync(dlogprob_.get(), dlogprob.data(), size_t(T) * sizeof(float),
                                                        cudaMemcpyHostToDevice, stream_));
    zero(ctx, acts_->dnorm, size_t(T) * config_.hidden_size * sizeof(bf16));
    bool write = false;
    float* G = grads_for_backward(&write);
    lm_head_forward_backward(ctx, logprob_.get(), nullptr, acts_->dnorm, G + layout_.lm_head, dlogprob_.get(), nullptr,
                             acts_->n_final, weights_.get() + layout_.lm_head, targets_.get(), T, config_.hidden_size,
                             config_.vocab_size, 1.0f, head_chunk_, !write);
    backward_trunk(G, write);
    R1_CUDA_CHECK("cross_entropy_step", cudaMemcpyAsync(logprob.data(), logprob_.get(), size_t(T) * sizeof(float),
                                                        cudaMemcpyDeviceToHost, stream_));
    ctx.synchronize("cross_entropy_step");
  }
  double loss = 0;
  for (int t = 0; t < T; t++) loss -= batch.targets[t] >= 0 ? logprob[t] : 0.0f;
  return loss / double(n_targets);
}

double CudaTransformer::grad_sum_squares(int64_t begin, int64_t end) {
  if (begin < 0 || end > layout_.total() || begin > end) throw Error("grad_sum_squares: range outside the model");
  grad_norm_squared(*ctx_, norm_sq_.get(), grads() + begin, end - begin, false);
  double s = 0;
  R1_CUDA_CHECK("grad_sum_squares", cudaMemcpyAsync(&s, norm_sq_.get(), sizeof(double), cudaMemcpyDeviceToHost, stream_));
  ctx_->synchronize("grad_sum_squares");
  return s;
}

void CudaTransformer::init_optimizer_state(int64_t begin, int64_t end) {
  if (begin < 0 || end > layout_.total() || begin > end) throw Error("init_optimizer_state: range outside the model");
  adam_begin_ = begin, adam_count_ = end - begin;
  adam_m_.allocate(size_t(adam_count_), "AdamW first moments");
  adam_v_.allocate(size_t(adam_count_), "AdamW second moments");
  zero(*ctx_, adam_m_.get(), adam_m_.bytes());
  zero(*ctx_, adam_v_.get(), adam_v_.bytes());
}

void CudaTransformer::adamw(const AdamWUpdate& u, int64_t begin, int64_t end) {
  if (begin < adam_begin_ || end > adam_begin_ + adam_count_ || begin > end)
    throw Error("adamw: range outside the optimizer state (init_optimizer_state first)");
  if (begin != adam_chunks_begin_ || end != adam_chunks_end_) {  // every tensor's part of the range, one launch
    std::vector<AdamWSpan> spans;
    for (const ParamInfo& p : layout_.params()) {
      const int64_t b = std::max(begin, p.offset), e = std::min(end, p.offset + p.numel());
      if (b < e) spans.push_back({b, e, p.weight_decay});
    }
    const std::vector<AdamWChunk> chunks = adamw_chunks(spans);
    adam_chunks_.allocate(chunks.size(), "AdamW launch table");
    R1_CUDA_CHECK("adamw", cudaMemcpy(adam_chunks_.get(), chunks.data(), adam_chunks_.bytes(), cudaMemcpyHostToDevice));
    adam_chunks_begin_ = begin, adam_chunks_end_ = end;
  }
  adamw_update_chunks(*ctx_, params_.get(), weights_.get(), grads(), adam_m_.get(), adam_v_.get(), adam_begin_,
                      adam_chunks_.get(), int(adam_chunks_.size()), u.beta1, u.beta2, u.eps, u.weight_decay, u.lr,
                      u.step, u.grad_scale);
}

size_t CudaTransformer::device_bytes_in_use() const {
  size_t free_b = 0, total_b = 0;
  R1_CUDA_CHECK("device_bytes_in_use", cudaMemGetInfo(&free_b, &total_b));
  return total_b - free_b;
}

void CudaTransformer::read_optimizer_state(float* m, float* v, int64_t begin, int64_t end) const {
  if (begin < adam_begin_ || end > adam_begin_ + adam_count_ || begin > end)
    throw Error("read_optimizer_state: range outside the optimizer state");
  const size_t off = size_t(begin - adam_begin_), bytes = size_t(end - begin) * sizeof(float);
  R1_CUDA_CHECK("read_optimizer_state", cudaMemcpyAsync(m, adam_m_.get() + off, bytes, cudaMemcpyDeviceToHost, stream_));
  R1_CUDA_CHECK("read_optimizer_state", cudaMemcpyAsync(v, adam_v_.get() + off, bytes, cudaMemcpyDeviceToHost, stream_));
  R1_CUDA_CHECK("read_optimizer_state", cudaStreamSynchronize(stream_));
}

void CudaTransformer::write_optimizer_state(const float* m, const float* v, int64_t begin, int64_t end) {
  if (begin < adam_begin_ || end > adam_begin_ + adam_count_ || begin > end)
    throw Error("write_optimizer_state: range outside the optimizer state");
  const size_t off = size_t(begin - adam_begin_), bytes = size_t(end - begin) * sizeof(float);
  R1_CUDA_CHECK("write_optimizer_state", cudaMemcpyAsync(adam_m_.get() + off, m, bytes, cudaMemcpyHostToDevice, stream_));
  R1_CUDA_CHECK("write_optimizer_state", cudaMemcpyAsync(adam_v_.get() + off, v, bytes, cudaMemcpyHostToDevice, stream_));
  ctx_->synchronize("write_optimizer_state");
}

void register_cuda_model() {
  register_model_factory(Device::CUDA,
                         [](const ModelConfig& c) -> std::unique_ptr<TrainableModel> { return std::make_unique<CudaTransformer>(c); });
}

}  // namespace r1::cuda
