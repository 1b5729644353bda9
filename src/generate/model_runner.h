// Inference forward of the Transformer over the paged KV cache. It reads the model's flat parameter buffer in
// place (no copy), so after an optimizer step the next call already uses the new weights, and it reuses the
// very same cpu kernels as the training forward, so logits and log-probabilities agree with it to rounding.
//
//   prefill: prompts packed into one batch, causal within each prompt (the training attention kernel); each
//            layer's post-RoPE K and V go straight into the sequences' cache pages; returns the logits of each
//            prompt's last token.
//   decode:  one new token per sequence at position length-1; its K/V is written into the cache, then the
//            paged attention kernel attends over all of the sequence's cached tokens.
// Only the rows the sampler needs reach the LM head.
#pragma once
#include <cstdint>
#include <vector>

#include "generate/kv_cache.h"
#include "model/transformer.h"

namespace r1::gen {

class ModelRunner {
 public:
  explicit ModelRunner(const Transformer& model);

  const ModelConfig& config() const { return model_.config(); }
  // The cache geometry this model needs for a pool of num_pages pages.
  KvGeometry kv_geometry(int num_pages, int page_size) const;

  // tokens: the prompts concatenated; cu_seqlens[B+1] their offsets. seqs[b] must already hold exactly the
  // prompt's length (KvCache::grow). logits: [B, vocab].
  void prefill(const std::vector<int32_t>& tokens, const std::vector<int32_t>& cu_seqlens,
               const std::vector<const KvSequence*>& seqs, KvCache& cache, float* logits);
  // tokens[B]: token b sits at position seqs[b]->length - 1 (the cache has already grown by one). logits: [B, vocab].
  void decode(const std::vector<int32_t>& tokens, const std::vector<const KvSequence*>& seqs, KvCache& cache,
              float* logits);

 private:
  void reserve(int T);
  // Shared by prefill and decode: embeddings of T tokens into x_.
  void embed(const int32_t* tokens, int T);
  // Attention input of layer l for T tokens: n1 = norm(x), q/k/v projections, RoPE; then K/V into the cache at
  // the given pool offsets (floats).
  void qkv_to_cache(int l, int T, const int32_t* positions, const int64_t* slot_offsets, KvCache& cache);
  // Rest of layer l after attention (att_): o_proj + residual, norm, SwiGLU MLP + residual, in place on x_.
  void finish_layer(int l, int T);
  // Final norm of the rows `rows` of x_ and their logits.
  void head(const std::vector<int32_t>& rows, float* logits);

  const Transformer& model_;
  std::vector<float> rope_cos_, rope_sin_;
  int capacity_ = 0;
  std::vector<float> x_, n_, rstd_, q_, k_, v_, att_, lse_, tmp_, gate_, up_, act_;
  std::vector<int32_t> positions_;
  std::vector<int64_t> slots_;
  std::vector<int32_t> indptr_, indices_, lens_;
};

}  // namespace r1::gen
