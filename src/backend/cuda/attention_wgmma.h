// The attention kernels for head dims 64 and 128 on Hopper's warpgroup tensor cores (attention_wgmma.cu). Same
// contracts as the mma.sync kernels they stand in for (attention_forward.cu, attention_backward.cu): the callers
// there pick them when Context::attention_wgmma() is on and wgmma_head_dim(D).
#pragma once
#include <cstdint>

#include "backend/cuda/context.h"
#include "backend/cuda/ops.h"

namespace r1::cuda::attention {

// The head dims these kernels cover (64, 128).
bool wgmma_head_dim(int D);

// out, lse as attention_forward.
void forward_wgmma(Context& ctx, bf16* out, float* lse, const bf16* q, const bf16* k, const bf16* v,
                   const int32_t* cu_seqlens, int B, int T, int Hq, int Hkv, int D, int max_seqlen);

// Partial sums per kv head that dkdv_wgmma leaves for attention_group_sum_kernel: a block adds up to 3 query
// heads of a group, so ceil(G / 3); 1 means it writes dk / dv itself.
int dkdv_wgmma_parts(int Hq, int Hkv);

// The dk/dv kernel: with dkdv_wgmma_parts > 1 each block's float32 share goes to dk_part / dv_part
// [T, Hkv * parts, D] for the group sum; otherwise dk (scaled by `scale`) and dv are written, or added with
// accumulate.
void dkdv_wgmma(Context& ctx, bf16* dk, bf16* dv, float* dk_part, float* dv_part, const bf16* dout, const bf16* q,
                const bf16* k, const bf16* v, const float* lse, const float* Di, const int32_t* cu_seqlens, int B,
                int T, int Hq, int Hkv, int D, int max_seqlen, float scale, bool accumulate);

// dq = scale * dS K, written (or added with accumulate).
void dq_wgmma(Context& ctx, bf16* dq, const bf16* dout, const bf16* q, const bf16* k, const bf16* v,
              const float* lse, const float* Di, const int32_t* cu_seqlens, int B, int T, int Hq, int Hkv, int D,
              int max_seqlen, float scale, bool accumulate);

}  // namespace r1::cuda::attention
