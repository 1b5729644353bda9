// Shared pieces of the tensor-core attention kernels (attention_forward.cu, attention_backward.cu).
// Tiles are kTile = 64 rows (queries or keys) of one head, staged in shared memory as bf16 with rows padded by
// 8 elements (16 bytes): the fragment loads of mma.cuh then hit distinct banks and ldmatrix rows stay aligned.
// A block is 4 warps; each warp owns 16 of the tile's 64 rows.
#pragma once
#include <cuda_bf16.h>

#include <cstdint>

#include "backend/cuda/async_copy.cuh"
#include "backend/cuda/common.cuh"
#include "backend/cuda/mma.cuh"

namespace r1::cuda::attention {

constexpr int kTile = 64;
constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

template <int D>
constexpr int ld() {
  return D + 8;
}

// Blocks are launched as grid (heads, sequences, row tiles), the tile index varying slowest, so the hardware
// starts every (head, sequence)'s heaviest tiles first and the light ones fill the tail of the wave. Under the
// causal mask a query tile's work grows with its position (forward, dq) and a key tile's shrinks (dk/dv).
__device__ __forceinline__ int heavy_first_tile(bool late_tiles_are_heavy) {
  return late_tiles_are_heavy ? int(gridDim.z) - 1 - int(blockIdx.z) : int(blockIdx.z);
}

inline dim3 tile_grid(int heads, int sequences, int max_seqlen) {
  return dim3(unsigned(heads), unsigned(sequences), unsigned((max_seqlen + kTile - 1) / kTile));
}

// Copies rows r0 .. r0+kTile-1 (relative to the sequence starting at token s0, `len` tokens long) of head
// `head` of a [T, heads, D] tensor into the padded tile s; rows past the sequence's end become zeros.
template <int D>
__device__ __forceinline__ void load_tile(__nv_bfloat16* s, const __nv_bfloat16* src, int s0, int r0, int len,
                                          int heads, int head) {
  constexpr int kVec = D / 8;  // 16-byte vectors per row
  for (int e = threadIdx.x; e < kTile * kVec; e += blockDim.x) {
    const int r = e / kVec, c = (e % kVec) * 8;
    uint4 val = make_uint4(0, 0, 0, 0);
    if (r0 + r < len) val = *reinterpret_cast<const uint4*>(src + ((int64_t(s0) + r0 + r) * heads + head) * D + c);
    *reinterpret_cast<uint4*>(s + r * ld<D>() + c) = val;
  }
}

// The same copy issued as asynchronous 16-byte copies (cp.async, bypassing registers and L1), so the next tile
// streams in while the current one is being computed on. Rows past the end are zero-filled by the copy itself
// (source size 0). Complete with cp_async_commit() + cp_async_wait<n>() + __syncthreads().
template <int D>
__device__ __forceinline__ void load_tile_async(__nv_bfloat16* s, const __nv_bfloat16* src, int s0, int r0, int len,
                                                int heads, int head) {
  constexpr int kVec = D / 8;
  for (int e = threadIdx.x; e < kTile * kVec; e += blockDim.x) {
    const int r = e / kVec, c = (e % kVec) * 8;
    const bool ok = r0 + r < len;
    cp_async16(s + r * ld<D>() + c, ok ? src + ((int64_t(s0) + r0 + r) * heads + head) * D + c : src, ok);
  }
}

// Accumulator tiles of 16 rows per warp (mma.sync's m16n8 C fragments side by side, or a warp's share of a wgmma
// m64nN accumulator: the same layout), held flat: d[4 j + i] is row row_a (i < 2) or row_a + 8 (i >= 2), column
// 8 j + 2 q + (i & 1), with q = lane % 4.

// lse (in base 2) and Di of this lane's two query rows (row_a, row_a + 8) of head h; rows past the end get
// lse = +inf (so P = 0) and Di = 0.
__device__ __forceinline__ void load_row_stats(float (&lse2)[2], float (&di)[2], const float* lse, const float* Di,
                                               int s0, int row_a, int len, int Hq, int h) {
#pragma unroll
  for (int r = 0; r < 2; r++) {
    const int row = row_a + 8 * r;
    const int64_t idx = (int64_t(s0) + row) * Hq + h;
    lse2[r] = row < len ? lse[idx] * kLog2e : INFINITY;
    di[r] = row < len ? Di[idx] : 0.0f;
  }
}

// dst row (float32) = accumulator row of a 16 x D tile d, for this lane's two rows (row_a at row_a_ptr, row_a + 8)
// when they are valid.
template <int D>
__device__ __forceinline__ void store_rows_f32(float* row_a_ptr, int64_t row_stride, bool valid_a, bool valid_b,
                                               const float* d) {
  const int tq = int(threadIdx.x) % 4;
#pragma unroll
  for (int r = 0; r < 2; r++) {
    if (!(r == 0 ? valid_a : valid_b)) continue;
    float* dst = row_a_ptr + (r == 0 ? 0 : 8 * row_stride) + 2 * tq;
#pragma unroll
    for (int j = 0; j < D / 8; j++)
      *reinterpret_cast<float2*>(dst + 8 * j) = make_float2(d[4 * j + 2 * r], d[4 * j + 2 * r + 1]);
  }
}

// dst row (bf16) = scale * accumulator row, or += with accumulate (read-modify-write), for this lane's two rows.
template <int D>
__device__ __forceinline__ void store_rows_bf16(bf16* row_a_ptr, int64_t row_stride, bool valid_a, bool valid_b,
                                                const float* d, float scale, bool accumulate) {
  const int tq = int(threadIdx.x) % 4;
#pragma unroll
  for (int r = 0; r < 2; r++) {
    if (!(r == 0 ? valid_a : valid_b)) continue;
    bf16* dst = row_a_ptr + (r == 0 ? 0 : 8 * row_stride) + 2 * tq;
#pragma unroll
    for (int j = 0; j < D / 8; j++) {
      auto* p = reinterpret_cast<__nv_bfloat162*>(dst + 8 * j);
      const float2 old = accumulate ? __bfloat1622float2(*p) : make_float2(0.0f, 0.0f);
      *p = __floats2bfloat162_rn(old.x + d[4 * j + 2 * r] * scale, old.y + d[4 * j + 2 * r + 1] * scale);
    }
  }
}

}  // namespace r1::cuda::attention
