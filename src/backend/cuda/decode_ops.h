// The CUDA ops of the rollout (decode) path, beside the training ops of backend/cuda/ops.h: the paged KV cache
// (write a token's K/V into its page slot, copy pages for copy-on-write), decode attention over the paged cache
// for a batch of sequences of different lengths, and fused token sampling over a batch of logits rows.
//
// KV pool layout (what gen::KvCache does on the CPU, in bf16): one allocation [2 * layers][num_pages][page_size]
// [Hkv][D]; layer l's K pool is block 2l, its V pool block 2l+1. A token's "slot" is page * page_size + row; its
// K row lives at pool + slot * Hkv * D. Page tables are CSR: sequence b owns pages indices[indptr[b] ..
// indptr[b+1]) in order. All integer arrays are device pointers; every op is asynchronous on ctx's stream and
// never allocates (no Context::scratch), so the whole decode step can be captured in a CUDA graph.
#pragma once
#include <cuda_bf16.h>

#include <cstdint>
#include <initializer_list>
#include <utility>
#include <vector>

#include "backend/cuda/context.h"
#include "backend/cuda/decode_kernel.h"

namespace r1::cuda {

using bf16 = __nv_bfloat16;

// ---- paged KV cache (kv_ops.cu) ----
// k_pool[slots[t]] = k[t], v_pool[slots[t]] = v[t] for T tokens; a row is `row` = Hkv * D elements.
void kv_write(Context& ctx, bf16* k_pool, bf16* v_pool, const bf16* k, const bf16* v, const int32_t* slots, int T,
              int row);
// Copy-on-write: page src[i] -> page dst[i] for n pairs, in every one of the pool_count pools (2 * layers) of
// `pool_elems` elements each. page_elems = page_size * Hkv * D.
void kv_copy_pages(Context& ctx, bf16* pools, int64_t pool_elems, int pool_count, const int32_t* src, const int32_t* dst,
                   int n, int page_elems);
// dst[i, :] = src[rows[i], :] (the prompt's last-token rows before the LM head).
void gather_rows(Context& ctx, bf16* dst, const bf16* src, const int32_t* rows, int n, int C);

// ---- decode fusions (decode_fused.cu): bitwise what the unfused ops compute, in fewer launches ----
// rope_forward on q [T, Hq, D] in place and on k [T, Hkv, D], then kv_write of the rotated k and of v (k itself
// is left unrotated: only the cache needs it).
void decode_rope_kv_write(Context& ctx, bf16* q, const bf16* k, const bf16* v, bf16* k_pool, bf16* v_pool,
                          const int32_t* positions, const int32_t* slots, const float* cos_table,
                          const float* sin_table, int T, int Hq, int Hkv, int D);
// out [T, F] = swiglu_forward(gate_up[:, :F], gate_up[:, F:]) for the rows of one product against the
// concatenated gate and up weights (ParamLayout stores up_proj right after gate_proj when there is no MLP bias).
// Pointers 16-byte aligned.
void decode_swiglu_rows(Context& ctx, bf16* out, const bf16* gate_up, int T, int F);
// out[b] = table[id_b] (embedding_forward) where id_b = prev_tokens[source_rows[b]] when source_rows[b] >= 0 (the
// token the previous decode step sampled for that row, still on the device: the host launches the next step
// before it has read them), else tokens[b]. A negative sampled id (a NaN row, which the engine reports) reads
// row 0.
void decode_embedding(Context& ctx, bf16* out, const int32_t* tokens, const int32_t* source_rows,
                      const int32_t* prev_tokens, const bf16* table, int B, int C);
// x += delta (bf16, as add_inplace), then out = rmsnorm_forward(x) with rstd [T].
void add_rmsnorm(Context& ctx, bf16* x, const bf16* delta, bf16* out, float* rstd, const bf16* weight, int T, int C,
                 float eps);

// ---- our decode products (decode_matmul.cu, decode_matmul_wgmma.cu) ----
// y_p[T, O_p] = x[T, I] W_p^T (+ b_p) for 1..3 products sharing x (q/k/v; gate/up), bf16 in and out, float32
// accumulation. The reduction over I is cut into `kernel.splits` (1..8) parts whose partial tiles a thread-block
// cluster adds in a fixed order (deterministic). Two kernels (DecodeKernel): mma.sync on 64 x 64 output tiles,
// or wgmma (sm_90a) on tiles of 64 or 128 output features x 64, 128 or 256 tokens, which reads each weight tile
// once for up to 256 tokens. Needs I a multiple of 64, every O_p a multiple of the tile's features, 16-byte
// aligned x, W_p, y_p (decode_matmul_supported); any T.
constexpr int kMaxDecodeProducts = 3, kMaxDecodeSplits = 8;
struct DecodeProduct {
  const bf16* W;
  const bf16* bias;  // may be null
  bf16* y;
  int O;
};
// decode_rope_kv_write folded into the q/k/v product's epilogue (head dim 64: each 64 output features of a tile
// are one head).
// Products 0, 1, 2 are q, k, v: q is rotated into its y, the rotated k and v go to their cache slots (their y are
// not written). The same formulas and bf16 rounding points as the two kernels it replaces.
struct DecodeRopeEpilogue {
  const int32_t* positions = nullptr;
  const int32_t* slots = nullptr;
  const float* cos_table = nullptr;
  const float* sin_table = nullptr;
  bf16* k_pool = nullptr;  // null: no epilogue
  bf16* v_pool = nullptr;
  int Hkv = 0, head_dim = 0;
};
bool decode_matmul_supported(const bf16* x, int I, const DecodeProduct* products, int count,
                             const DecodeKernel& kernel);
bool decode_rope_epilogue_supported(int I, const DecodeProduct* products, int count, const DecodeRopeEpilogue& rope);
// Whether this device runs the wgmma kernel (compute capability 9.0).
bool decode_wgmma_available();
void decode_matmul(Context& ctx, const bf16* x, int T, int I, const DecodeProduct* products, int count,
                   const DecodeKernel& kernel, const DecodeRopeEpilogue* rope = nullptr);

// ---- measured GEMM choice (decode_gemm.cpp) ----
// linear_forward / lm_head_logits, except that the first call for a shape (and pointer alignments) times every
// algorithm cuBLASLt's heuristic offers and stores the fastest in ctx's GemmCache, where gemm() finds it. Call
// once outside a graph capture per shape (a capture then records the chosen algorithm).
void decode_linear(Context& ctx, bf16* y, const bf16* x, const bf16* W, const bf16* bias, int T, int I, int O);
void decode_lm_head(Context& ctx, float* logits, const bf16* x, const bf16* W, int n, int C, int V);
// The products sharing x through whichever is faster for this shape, measured on the first call outside a graph
// capture: decode_matmul with the best kernel, tile and number of splits, or decode_linear per product
// (cuBLASLt). The choice is cached in ctx's GemmCache; a capture before any measurement uses cuBLASLt. Returns
// the choice, which the benchmarks print.
DecodeKernel decode_linears(Context& ctx, const bf16* x, int T, int I, std::initializer_list<DecodeProduct> products);
// Every candidate decode_linears weighs for these products (cuBLASLt first, then our kernels), each with its
// time in ms per run from a cold L2, as a decode step runs them. Outside a graph capture only.
std::vector<std::pair<DecodeKernel, float>> time_decode_kernels(Context& ctx, const bf16* x, int T, int I,
                                                                const DecodeProduct* list, int count);
// q/k/v = x W^T (+ b), then RoPE + the cache write: decode_linears' choice for the three products, with the rope
// in our kernel's epilogue when that kernel is chosen and the shapes allow (decode_rope_epilogue_supported), else
// decode_rope_kv_write after. Hq * D is the q width. Returns the choice as decode_linears does.
DecodeKernel decode_qkv_rope(Context& ctx, const bf16* x, int T, int I, const DecodeProduct (&qkv)[3],
                             const DecodeRopeEpilogue& rope, int Hq, int D);

// ---- paged decode attention (decode_attention.cu) ----
// One query token per sequence: q, out [B, Hq, D]; sequence b attends to its first lens[b] cached tokens
// (lens[b] >= 1; the new token's K/V is written first). Query head h reads kv head h / (Hq / Hkv); scale
// 1/sqrt(D); lse [B, Hq] (may be null) receives the log-sum-exp of the scaled scores. A block owns one
// (sequence, kv head, split) and reads each K/V row once for all query heads of the group. The context is cut
// into `splits` chunks of split_len tokens (splits * split_len >= the longest lens[b]; blocks past a sequence's
// end exit); with splits > 1, partial results go to `workspace` (decode_attention_workspace_floats) and a second
// kernel merges them. Head dims 64 and 128.
struct DecodeAttentionPlan {
  int splits = 1, split_len = 0;
  int tile_tokens = 32;  // tokens a warp takes per step: 32, or 16 for batches too large for one wave of 32s
  int stages = 2;        // tiles of a warp in flight (2 or 3): this one and the next stages - 1
};
// Splits that keep every SM busy for B sequences of up to max_len tokens (a pure function: graphs reuse it).
DecodeAttentionPlan plan_decode_attention(int B, int Hkv, int max_len, int num_sms);
int64_t decode_attention_workspace_floats(int B, int Hq, int D, int splits);
void paged_decode_attention(Context& ctx, bf16* out, float* lse, const bf16* q, const bf16* k_pool,
                            const bf16* v_pool, const int32_t* indptr, const int32_t* indices, const int32_t* lens,
                            int B, int Hq, int Hkv, int D, int page_size, DecodeAttentionPlan plan, float* workspace);

// ---- fused sampling (sampling.cu) ----
// Per-row sampling parameters as gen::SamplingParams: temperature <= 0 is greedy; top_k 0 is off; top_p 1 is off.
struct RowSampling {
  float temperature = 1.0f;
  int32_t top_k = 0;
  float top_p = 1.0f;
  int32_t pad = 0;
};
// For each row b (logits row rows ? rows[b] : b of [*, V], float32): the token the CPU sampler
// (gen::Sampler::sample) picks for uniform u[b]: the argmax (lowest id) for greedy; otherwise the inverse CDF of
// w = exp((z - max) / T) over the CPU's order — token ids when neither top-k nor top-p is on (the CPU never
// sorts then), else (higher logit first, lower id on ties) restricted to the top-k prefix and then to the top-p
// prefix (keep while the mass before a token is below top_p). logprob[b] = log softmax(z)[token];
// sampling_logprob[b] = log q(token) (0 for greedy). Weights are summed in 2^-44 fixed point (exact, order
// independent: deterministic), so a draw can differ from the CPU's double sums only when u falls within ~1e-9
// of a boundary. token[b] = -1 marks a row with NaN logits. No full sort: value histograms locate the crossing,
// and only the tokens of that one bin are sorted (in shared memory).
void sample_tokens(Context& ctx, int32_t* token, float* logprob, float* sampling_logprob, const float* logits,
                   const int32_t* rows, const RowSampling* params, const double* u, int B, int V);

}  // namespace r1::cuda
