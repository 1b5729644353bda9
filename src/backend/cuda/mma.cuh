// Tensor-core building blocks for the attention kernels: the warp-level bf16 matrix product
// mma.sync m16n8k16 (float32 accumulators) and loaders of its operand fragments from shared memory.
//
// Fragment layouts (PTX ISA, "mma.m16n8k16"), with g = lane / 4 and t = lane % 4:
//   A 16x16 (row-major, 4 x b32): a0 (row g, cols 2t..2t+1), a1 (row g+8, same cols),
//                                 a2 (row g, cols 2t+8..2t+9), a3 (row g+8, cols 2t+8..2t+9)
//   B 16x8  (k x n, 2 x b32):     b0 (k 2t..2t+1, col g), b1 (k 2t+8..2t+9, col g)
//   C 16x8  (4 x f32):            c0, c1 (row g, cols 2t, 2t+1), c2, c3 (row g+8, same cols)
// The lower-indexed element of each pair sits in the low half of its b32 register. Because a C fragment's
// pairs are laid out exactly like an A fragment's, a 16x16 block of accumulators (two n-tiles) becomes the
// A operand of the next product by packing to bf16: no shuffles (FlashAttention's P V trick).
#pragma once
#include <cuda_bf16.h>

#include <cstdint>

namespace r1::cuda {

__device__ __forceinline__ void mma_bf16(float c[4], const uint32_t a[4], const uint32_t b[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&v);
}

// The A fragment of the 16x16 block made of two adjacent 16x8 accumulator tiles (columns 0-7 in lo, 8-15 in
// hi), packed to bf16: the C and A layouts line up, so no shuffles.
__device__ __forceinline__ void pack_a(uint32_t a[4], const float lo[4], const float hi[4]) {
  a[0] = pack_bf16(lo[0], lo[1]);
  a[1] = pack_bf16(lo[2], lo[3]);
  a[2] = pack_bf16(hi[0], hi[1]);
  a[3] = pack_bf16(hi[2], hi[3]);
}

__device__ __forceinline__ uint32_t ld_b32(const __nv_bfloat16* p) { return *reinterpret_cast<const uint32_t*>(p); }

// A fragment of the 16x16 block at (row0, col0) of a row-major bf16 tile with leading dimension ld.
__device__ __forceinline__ void load_a(uint32_t a[4], const __nv_bfloat16* s, int ld, int row0, int col0) {
  const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const __nv_bfloat16* p = s + (row0 + g) * ld + col0 + 2 * t;
  a[0] = ld_b32(p);
  a[1] = ld_b32(p + 8 * ld);
  a[2] = ld_b32(p + 8);
  a[3] = ld_b32(p + 8 * ld + 8);
}

// B fragment (k x n = 16 x 8) from a tile stored [n][k] row-major (e.g. K [key][dim] for S = Q K^T):
// rows n0..n0+7, columns k0..k0+15.
__device__ __forceinline__ void load_b_nk(uint32_t b[2], const __nv_bfloat16* s, int ld, int n0, int k0) {
  const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const __nv_bfloat16* p = s + (n0 + g) * ld + k0 + 2 * t;
  b[0] = ld_b32(p);
  b[1] = ld_b32(p + 8);
}

// B fragment (k x n = 16 x 8) from a tile stored [k][n] row-major (e.g. V [key][dim] for O = P V): rows
// k0..k0+15, columns n0..n0+7, transposed on the fly by ldmatrix. Rows must be 16-byte aligned.
__device__ __forceinline__ void load_b_kn(uint32_t b[2], const __nv_bfloat16* s, int ld, int k0, int n0) {
  const int lane = threadIdx.x % 32;
  const auto addr = static_cast<uint32_t>(__cvta_generic_to_shared(s + (k0 + (lane & 15)) * ld + n0));
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n"
               : "=r"(b[0]), "=r"(b[1])
               : "r"(addr));
}

}  // namespace r1::cuda
