// Hopper's tensor memory accelerator (TMA, sm_90a): one thread asks for a whole 2-D box of a global tensor,
// which lands in shared memory (128-byte-swizzled: the layout wgmma.cuh reads) and signals an mbarrier with its
// byte count, so the warps that compute issue no loads. Boxes past the tensor's edge are filled with zeros.
#pragma once
#include <cuda.h>
#include <cuda_bf16.h>

#include <cstdint>

namespace r1::cuda {

// The tensor map of a row-major bf16 matrix [rows, cols] read in boxes of box_rows x 64 columns (128 bytes,
// 128-byte swizzle). Host side; the map is a kernel parameter (const __grid_constant__).
CUtensorMap tma_map_bf16(const __nv_bfloat16* base, int64_t rows, int64_t cols, int box_rows, const char* op);

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

__device__ __forceinline__ void mbarrier_init(uint32_t bar, uint32_t arrivals) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(arrivals) : "memory");
}
// Makes initialised mbarriers visible to the async proxy (TMA) and the cluster; then a barrier for the block.
__device__ __forceinline__ void mbarrier_init_fence() {
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}
// One arrival that also announces `bytes` of transfers the phase must wait for.
__device__ __forceinline__ void mbarrier_expect_bytes(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
// Blocks until the phase with this parity has completed.
__device__ __forceinline__ void mbarrier_wait(uint32_t bar, uint32_t parity) {
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (!done);
}
// The box at (row, col) of `map` into shared memory at `dst` (1024-byte aligned), completing on `bar`.
__device__ __forceinline__ void tma_load_2d(uint32_t dst, const CUtensorMap* map, int col, int row, uint32_t bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n" ::"r"(
          dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(col), "r"(row), "r"(bar)
      : "memory");
}

#endif  // __CUDA_ARCH_FEAT_SM90_ALL

}  // namespace r1::cuda
