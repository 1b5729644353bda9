// Launching kernels whose blocks form thread-block clusters (distributed shared memory): the decode products
// (split-K partial tiles) and the LM head's dlogits pass (a row spread over a cluster's shared memory).
#pragma once
#include <cuda_runtime.h>

#include "backend/cuda/check.h"

namespace r1::cuda {

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
