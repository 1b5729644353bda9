// Launching kernels whose blocks form thread-block clusters (distributed shared memory): the decode products
// (split-K partial tiles), the LM head's dlogits pass and sampling (a row spread over a cluster's shared memory).
#pragma once
#include <cuda_runtime.h>

#include "backend/cuda/check.h"

namespace r1::cuda {

// Kernels that hold a float32 row of V values spread over the shared memory of a cluster of blocks (the LM head's
// dlogits pass, sampling). A block holds at most 80 KiB of it: V = 151,936 takes 8 blocks of 74 KiB, so 3 blocks
// share an SM and one's copy overlaps the others' arithmetic (with 4 blocks of 148 KiB, one per SM, the training
// step was slower than two passes over the logits from memory).
constexpr int kRowPartMaxFloats = 80 * 1024 / 4;
// The smallest cluster (1, 2, 4 or 8 blocks: 8 is the largest portable size) whose blocks each hold a
// 16-byte-aligned part of at most kRowPartMaxFloats values; 0 when none can (V % 4 != 0, or too large a row).
inline int row_cluster_size(int V) {
  if (V % 4 != 0) return 0;
  for (int n = 1; n <= 8; n *= 2)
    if ((V / 4 + n - 1) / n * 4 <= kRowPartMaxFloats) return n;
  return 0;
}
// Values of the row each of the n blocks holds (a multiple of 4; the last block's part may be shorter).
inline int row_cluster_part(int V, int n) { return (V / 4 + n - 1) / n * 4; }

// Opts a kernel into `smem` bytes of dynamic shared memory (more than the default 48 KB) and the largest
// shared-memory carveout; call once per kernel per process.
template <typename... Params>
bool configure_kernel(const char* op, void (*kernel)(Params...), size_t smem) {
  R1_CUDA_CHECK(op, cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
  R1_CUDA_CHECK(op, cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout,
                                         int(cudaSharedmemCarveoutMaxShared)));
  return true;
}

// Launches `grid` in clusters of `cluster` blocks; `dependent` makes it a programmatic dependent launch (pdl.cuh:
// the kernel may start before the previous one on the stream finishes, and waits where it needs its output).
template <typename... Params, typename... Args>
void launch_clusters(const char* op, void (*kernel)(Params...), dim3 grid, dim3 cluster, int threads, size_t smem,
                     cudaStream_t stream, bool dependent, Args&&... args) {
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = dim3(unsigned(threads));
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cudaLaunchAttribute attr[2];
  attr[0].id = cudaLaunchAttributeClusterDimension;
  attr[0].val.clusterDim.x = cluster.x;
  attr[0].val.clusterDim.y = cluster.y;
  attr[0].val.clusterDim.z = cluster.z;
  attr[1].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[1].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = dependent ? 2 : 1;
  R1_CUDA_CHECK(op, cudaLaunchKernelEx(&cfg, kernel, static_cast<Params>(args)...));
}

}  // namespace r1::cuda
