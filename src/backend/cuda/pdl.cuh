// Programmatic dependent launch (Hopper) for the decode step's own kernels. A decode step is ~250 small dependent
// kernels; normally each one starts only after the previous one has finished and its launch has been processed.
// Launched with launch_dependent(), a kernel may start while its predecessor is still running: it does the work
// that does not read the predecessor's results (page-table lookups, weight loads), then dependency_wait() blocks
// until the predecessor has completed and its writes are visible. allow_dependents() lets a kernel's successor
// be scheduled early (its blocks then wait in dependency_wait()).
//
// Rules for a kernel launched with launch_dependent(): every block calls dependency_wait() before it reads
// anything an earlier kernel wrote, before its first global write, and before it exits (so that its completion
// implies its predecessors' and the chain stays transitive). Both instructions are no-ops for a kernel launched
// the ordinary way, so the kernels stay usable everywhere. CUDA graphs captured from the stream keep the edges.
#pragma once
#include <cuda_runtime.h>

#include "backend/cuda/check.h"

namespace r1::cuda {

__device__ __forceinline__ void dependency_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void allow_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" :::);
#endif
}

template <typename... Params, typename... Args>
void launch_dependent(const char* op, void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem,
                      cudaStream_t stream, Args&&... args) {
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = 1;
  R1_CUDA_CHECK(op, cudaLaunchKernelEx(&cfg, kernel, static_cast<Params>(args)...));
}

}  // namespace r1::cuda
