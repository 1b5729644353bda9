// Internal to sample_tokens: which rows the cluster kernel (sampling_cluster.cu) draws, and its launch.
#pragma once
#include <cstdint>

#include "backend/cuda/decode_ops.h"

namespace r1::cuda {

// Top-k or top-p restricts the row's draw to a canonical-order prefix (sampling.cu's histogram search); greedy
// rows and plain temperature rows draw over ids in order, which the cluster kernel does.
__host__ __device__ inline bool sampling_row_truncated(const RowSampling& p, int V) {
  return p.temperature > 0.0f && ((p.top_k > 0 && p.top_k < V) || p.top_p < 1.0f);
}

// Draws every untruncated row of sample_tokens (truncated rows are left alone) with each logits row in the shared
// memory of a cluster of blocks; false (nothing launched) when V does not split into such a cluster.
bool sample_untruncated_rows(Context& ctx, int32_t* token, float* logprob, float* sampling_logprob,
                             const float* logits, const int32_t* rows, const RowSampling* params, const double* u,
                             int B, int V, int fx_bits);

}  // namespace r1::cuda
