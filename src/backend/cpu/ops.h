// The CPU backend: float32 reference kernels, each with its forward and backward, written for clarity first
// and made reasonably fast with OpenMP and OpenBLAS. Every CUDA kernel is tested against these.
//
// Conventions: row-major contiguous float32; T tokens of a PACKED batch (sequences concatenated, offsets in
// cu_seqlens); C hidden size. Backward functions ACCUMULATE (+=) into every gradient they produce — inputs and
// parameters alike — so callers zero once, and residual branches or tied weights simply add up.
#pragma once
#include <cstdint>

namespace r1::cpu {

// out[t, :] = table[ids[t], :]
void embedding_forward(float* out, const int32_t* ids, const float* table, int T, int C);
void embedding_backward(float* dtable, const float* dout, const int32_t* ids, int T, int C);

// y = x / sqrt(mean(x^2) + eps) * weight; saves rstd[T] for the backward.
void rmsnorm_forward(float* out, float* rstd, const float* x, const float* weight, int T, int C, float eps);
void rmsnorm_backward(float* dx, float* dweight, const float* dout, const float* x, const float* weight,
                      const float* rstd, int T, int C);

// HF nn.Linear layout, W [out, in]: y[T, O] = x[T, I] W^T + bias (bias may be null).
void linear_forward(float* y, const float* x, const float* W, const float* bias, int T, int I, int O);
// dx and db may be null (skipped).
void linear_backward(float* dx, float* dW, float* db, const float* dy, const float* x, const float* W, int T, int I,
                     int O);

// RoPE with HF's rotate_half pairing: dimension i rotates with i + D/2 (not interleaved pairs).
struct RopeScaling {
  enum class Type { None, Llama3 } type = Type::None;
  float factor = 1, low_freq_factor = 1, high_freq_factor = 4;
  int original_max_position = 8192;
};
// Inverse frequencies theta^(-2i/D), adjusted by Llama-3.1 scaling when asked. inv_freq has D/2 entries.
void rope_inv_freq(float* inv_freq, int head_dim, float theta, const RopeScaling& scaling);
// cos/sin tables [max_pos, D/2].
void rope_tables(float* cos_table, float* sin_table, int max_pos, int head_dim, float theta, const RopeScaling& s);
// x [T, H, D] rotated in place by each token's own position.
void rope_forward(float* x, const int32_t* positions, const float* cos_table, const float* sin_table, int T, int H,
                  int D);
// The inverse rotation, applied in place to the gradient.
void rope_backward(float* dx, const int32_t* positions, const float* cos_table, const float* sin_table, int T, int H,
                   int D);

// Causal grouped-query attention over packed sequences: token i of sequence s attends to tokens
// cu_seqlens[s] .. i. q, out [T, Hq, D]; k, v [T, Hkv, D]; query head h reads kv head h / (Hq / Hkv);
// scale 1/sqrt(D). Saves lse [T, Hq] (log-sum-exp of the scaled scores). No [T x T] matrix is formed.
void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       const int32_t* cu_seqlens, int B, int T, int Hq, int Hkv, int D);
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                        const float* v, const float* out, const float* lse, const int32_t* cu_seqlens, int B, int T,
                        int Hq, int Hkv, int D);

// SwiGLU: out = silu(gate) * up.
void swiglu_forward(float* out, const float* gate, const float* up, int64_t n);
void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up, int64_t n);

// y += x (residual connection).
void add_inplace(float* y, const float* x, int64_t n);

// Chunked LM head. logits = x W^T * inv_temperature is formed `chunk` tokens at a time ([chunk, V] scratch, never
// [T, V]). For tokens with target >= 0: logprob = log softmax(logits)[target], entropy = -sum p log p
// (entropy may be null). Tokens with target < 0 get 0 and no gradient.
void lm_head_forward(float* logprob, float* entropy, const float* x, const float* W, const int32_t* targets, int T,
                     int C, int V, float inv_temperature, int chunk);
// Recomputes each chunk and accumulates dx [T, C] and dW [V, C] from dlogprob [T] and dentropy [T] (may be null):
// dlogits = dlogprob (onehot - p) - dentropy p (log p + H), times inv_temperature.
void lm_head_backward(float* dx, float* dW, const float* dlogprob, const float* dentropy, const float* x,
                      const float* W, const int32_t* targets, int T, int C, int V, float inv_temperature, int chunk);
// Plain logits for n rows (inference: the sampler's last positions).
void lm_head_logits(float* logits, const float* x, const float* W, int n, int C, int V);

}  // namespace r1::cpu
