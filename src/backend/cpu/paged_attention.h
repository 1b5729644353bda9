// Decode attention over a paged KV cache: a batch of B sequences of different lengths, one query token each,
// grouped-query heads. Sequence b attends to its first seq_lens[b] cached tokens (the current token's K/V is
// written into the cache before the call), found through a CSR page table:
//   pages of b = page_indices[page_indptr[b] .. page_indptr[b+1]),  token j of b lives in page j / page_size
//   at row j % page_size of the pools k_pool, v_pool: [num_pages, page_size, Hkv, D].
// q, out: [B, Hq, D]; query head h reads kv head h / (Hq / Hkv); scale 1/sqrt(D). lse[B, Hq] (may be null)
// receives the log-sum-exp of the scaled scores. This is the CPU reference the CUDA paged kernel is checked
// against; it never gathers the pages into a contiguous copy.
#pragma once
#include <cstdint>

namespace r1::cpu {

void paged_attention_decode(float* out, float* lse, const float* q, const float* k_pool, const float* v_pool,
                            const int32_t* page_indptr, const int32_t* page_indices, const int32_t* seq_lens, int B,
                            int Hq, int Hkv, int D, int page_size);

}  // namespace r1::cpu
