// Asynchronous global -> shared copies (cp.async, sm_80+): 16 bytes per thread per call, bypassing registers and
// L1, so a kernel can stream its next tile while it computes on the current one. Shared by the tensor-core
// kernels (training attention, decode attention, decode products).
#pragma once
#include <cstdint>

namespace r1::cuda {

// Copies 16 bytes from gmem to smem (both 16-byte aligned); with valid = false the 16 bytes become zeros and
// nothing is read (gmem must still be a mapped address).
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid = true) {
  const auto to = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(to), "l"(gmem), "r"(valid ? 16 : 0));
}

// Closes this thread's copies issued since the last commit into one group.
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }

// Waits until at most n of this thread's committed copy groups are still in flight. Other threads see the data
// only after a barrier (__syncthreads, or __syncwarp for copies of the same warp).
template <int n>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(n));
}

// The block copies n floats (n % 4 == 0, both ends 16-byte aligned) from gmem into smem with every copy in flight
// at once, and returns when all of them have landed and the block has synchronised. (Plain loads in batches of a
// few per thread wait on each other: a 74 KiB row part then takes several memory latencies.)
__device__ __forceinline__ void copy_to_shared(float* smem, const float* gmem, int n) {
  for (int i = 4 * int(threadIdx.x); i < n; i += 4 * int(blockDim.x)) cp_async16(smem + i, gmem + i);
  cp_async_commit();
  cp_async_wait<0>();
  __syncthreads();
}

}  // namespace r1::cuda
