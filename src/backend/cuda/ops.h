// The CUDA backend: the same ops as the CPU reference (backend/cpu/ops.h), on device pointers, enqueued on the
// Context's stream. Storage is bf16 for activations, their gradients and the working copy of the weights;
// every reduction and every softmax accumulates in float32. Float32 throughout for RMSNorm's rstd, attention's
// lse, log-probabilities, entropies, parameter gradients, master weights and optimizer state.
//
// Conventions, as on the CPU: row-major contiguous tensors; T tokens of a packed batch (sequences concatenated,
// offsets in cu_seqlens); backward functions ACCUMULATE (+=) into every gradient they produce, so callers zero
// once and residual branches or tied weights simply add up. Where a flag says accumulate = false, that gradient is
// written instead (the first contribution after zero_grads: no zeroing pass over it). All integer arrays (ids, positions, targets,
// cu_seqlens) are device pointers too. Ops are asynchronous unless they return a value to the host.
#pragma once
#include <cuda_bf16.h>

#include <cstdint>
#include <vector>

#include "backend/cuda/context.h"

namespace r1::cuda {

using bf16 = __nv_bfloat16;

// ---- conversions (weights: float32 master <-> bf16 working copy) ----
void f32_to_bf16(Context& ctx, bf16* dst, const float* src, int64_t n);
void bf16_to_f32(Context& ctx, float* dst, const bf16* src, int64_t n);

// ---- embedding: out[t, :] = table[ids[t], :] ----
void embedding_forward(Context& ctx, bf16* out, const int32_t* ids, const bf16* table, int T, int C);
// Deterministic: tokens are sorted by id and each table row is summed by one block in token order (no atomics).
void embedding_backward(Context& ctx, float* dtable, const bf16* dout, const int32_t* ids, int T, int C);

// ---- RMSNorm: y = x / sqrt(mean(x^2) + eps) * weight; saves rstd[T] ----
void rmsnorm_forward(Context& ctx, bf16* out, float* rstd, const bf16* x, const bf16* weight, int T, int C,
                     float eps);
void rmsnorm_backward(Context& ctx, bf16* dx, float* dweight, const bf16* dout, const bf16* x, const bf16* weight,
                      const float* rstd, int T, int C, bool accumulate_dweight = true);

// ---- linear, HF layout W [O, I]: y[T, O] = x[T, I] W^T + bias (bias may be null), via cuBLASLt ----
void linear_forward(Context& ctx, bf16* y, const bf16* x, const bf16* W, const bf16* bias, int T, int I, int O);
// y = residual + x W^T + bias in one product (the residual added in float32 in its epilogue, rounded once); y may
// not alias x or W.
void linear_forward_residual(Context& ctx, bf16* y, const bf16* residual, const bf16* x, const bf16* W,
                             const bf16* bias, int T, int I, int O);
// dx += dy W (skipped when dx is null; dx = dy W with accumulate_dx false: no zeroing pass before it),
// dW += dy^T x, db += sum_t dy (skipped when db is null).
void linear_backward(Context& ctx, bf16* dx, float* dW, float* db, const bf16* dy, const bf16* x, const bf16* W,
                     int T, int I, int O, bool accumulate_dx = true, bool accumulate_grads = true);

// ---- RoPE, rotate_half pairing (i, i + D/2). cos/sin tables [max_pos, D/2] float32 on the device, built by
// cpu::rope_tables and uploaded, so both backends rotate by bitwise the same angles. In place on x [T, H, D]. ----
void rope_forward(Context& ctx, bf16* x, const int32_t* positions, const float* cos_table, const float* sin_table,
                  int T, int H, int D);
void rope_backward(Context& ctx, bf16* dx, const int32_t* positions, const float* cos_table, const float* sin_table,
                   int T, int H, int D);
// The same on q [T, Hq, D] and k [T, Hkv, D] in one launch.
void rope_forward_qk(Context& ctx, bf16* q, bf16* k, const int32_t* positions, const float* cos_table,
                     const float* sin_table, int T, int Hq, int Hkv, int D);
void rope_backward_qk(Context& ctx, bf16* dq, bf16* dk, const int32_t* positions, const float* cos_table,
                      const float* sin_table, int T, int Hq, int Hkv, int D);

// ---- causal GQA attention over packed sequences (cu_seqlens[B+1], device) ----
// q, out [T, Hq, D]; k, v [T, Hkv, D]; lse [T, Hq]; scale 1/sqrt(D). max_seqlen bounds the longest sequence
// (the host knows it; it sizes the grid). Tiled with an online softmax: no [T x T] matrix exists anywhere.
// Head dims supported: 32, 64, 128.
void attention_forward(Context& ctx, bf16* out, float* lse, const bf16* q, const bf16* k, const bf16* v,
                       const int32_t* cu_seqlens, int B, int T, int Hq, int Hkv, int D, int max_seqlen);
// Deterministic, no atomics: dk/dv rows are owned by (key tile, query head) blocks, whose float32 partials a fixed-
// order sum adds over each GQA group; dq rows by (query tile, query head) blocks. accumulate false writes dq, dk, dv
// instead of adding to them (every row is written: no zeroing pass needed).
void attention_backward(Context& ctx, bf16* dq, bf16* dk, bf16* dv, const bf16* dout, const bf16* q, const bf16* k,
                        const bf16* v, const bf16* out, const float* lse, const int32_t* cu_seqlens, int B, int T,
                        int Hq, int Hkv, int D, int max_seqlen, bool accumulate = true);

// ---- SwiGLU out = silu(gate) * up, and the residual y += x ----
void swiglu_forward(Context& ctx, bf16* out, const bf16* gate, const bf16* up, int64_t n);
// Adds into dgate / dup; with accumulate false it writes them instead (no zeroing pass over [T, F] before it).
void swiglu_backward(Context& ctx, bf16* dgate, bf16* dup, const bf16* dout, const bf16* gate, const bf16* up,
                     int64_t n, bool accumulate = true);
void add_inplace(Context& ctx, bf16* y, const bf16* x, int64_t n);

// ---- chunked LM head: logits = x W^T * inv_temperature, `chunk` tokens at a time (a float32 [chunk, V] scratch
// in the Context, never [T, V]). Tokens with target < 0 get logprob 0, entropy 0 and no gradient. ----
void lm_head_forward(Context& ctx, float* logprob, float* entropy, const bf16* x, const bf16* W,
                     const int32_t* targets, int T, int C, int V, float inv_temperature, int chunk);
// dlogits = dlogprob (onehot - p) - dentropy p (log p + H), times inv_temperature; dx += dlogits W, dW += dlogits^T x.
// dentropy may be null.
void lm_head_backward(Context& ctx, bf16* dx, float* dW, const float* dlogprob, const float* dentropy, const bf16* x,
                      const bf16* W, const int32_t* targets, int T, int C, int V, float inv_temperature, int chunk,
                      bool accumulate_dw = true);
// Forward and backward in one pass over the logits, when d(loss)/d(logprob) does not depend on the log-probs
// (cross-entropy: -1/N per target): logprob / entropy (either may be null) as lm_head_forward, gradients as
// lm_head_backward, one logits product per chunk instead of two.
void lm_head_forward_backward(Context& ctx, float* logprob, float* entropy, bf16* dx, float* dW, const float* dlogprob,
                              const float* dentropy, const bf16* x, const bf16* W, const int32_t* targets, int T, int C,
                              int V, float inv_temperature, int chunk, bool accumulate_dw = true);
// Plain float32 logits [n, V] (inference).
void lm_head_logits(Context& ctx, float* logits, const bf16* x, const bf16* W, int n, int C, int V);

// ---- optimizer over the flat float32 buffers ----
// AdamW with decoupled weight decay (applied only where `decay`), bias correction (step is 1-based), the
// gradients multiplied by grad_scale first (gradient clipping fused in). When params_bf16 is not null it also
// receives the updated weights in bf16 (the working copy the next forward reads).
void adamw_update(Context& ctx, float* params, bf16* params_bf16, const float* grads, float* m, float* v, int64_t n,
                  float beta1, float beta2, float eps, float weight_decay, float lr, int64_t step, bool decay,
                  float grad_scale = 1.0f);
// The same update over many tensors of the flat buffers in one launch: a model's ~300 tensors, most of them tiny
// (norms, biases), launched one by one cost ~1 ms a step. Each chunk is a block's work: up to kAdamWChunk
// elements of one tensor, whose decay flag it carries. adamw_chunks cuts (begin, end, decay) spans into chunks
// once (the caller keeps them on the device); m / v index from moment_begin (a ZeRO-1 shard's start).
struct AdamWChunk {
  int64_t begin;
  int32_t count, decay;
};
constexpr int32_t kAdamWChunk = 1 << 16;
struct AdamWSpan {
  int64_t begin, end;
  bool decay;
};
std::vector<AdamWChunk> adamw_chunks(const std::vector<AdamWSpan>& spans);
void adamw_update_chunks(Context& ctx, float* params, bf16* params_bf16, const float* grads, float* m, float* v,
                         int64_t moment_begin, const AdamWChunk* chunks, int num_chunks, float beta1, float beta2,
                         float eps, float weight_decay, float lr, int64_t step, float grad_scale = 1.0f);
// sum g^2 in double into *sum_sq_device (one double on the device), deterministic (fixed-order reduction);
// accumulate = true adds to it, so several buffers can share one norm without a host round trip.
void grad_norm_squared(Context& ctx, double* sum_sq_device, const float* grads, int64_t n, bool accumulate);
// sqrt(sum g^2); synchronizes the stream to return it.
double global_grad_norm(Context& ctx, const float* grads, int64_t n);
// Scales the gradients in place when their norm exceeds max_norm; returns the norm before clipping.
double clip_grad_norm(Context& ctx, float* grads, int64_t n, double max_norm);

}  // namespace r1::cuda
