// Checked CUDA and cuBLAS calls. Every runtime call, library call and kernel launch of the CUDA backend goes
// through one of these macros, so a failure names the op that issued it, the failing call, the CUDA error text,
// and the source file and line — instead of surfacing later as a corrupt tensor or an unrelated error.
#pragma once
#include <cublasLt.h>
#include <cuda_runtime.h>

namespace r1::cuda {

// Throw r1::Error: "cuda: <op>: <call> failed: <error text> at <file>:<line>".
[[noreturn]] void fail_cuda(const char* op, const char* call, cudaError_t err, const char* file, int line);
[[noreturn]] void fail_cublas(const char* op, const char* call, cublasStatus_t status, const char* file, int line);

}  // namespace r1::cuda

// R1_CUDA_CHECK("rmsnorm_forward", cudaMemsetAsync(...));
#define R1_CUDA_CHECK(op, call)                                                      \
  do {                                                                               \
    const cudaError_t r1_err_ = (call);                                              \
    if (r1_err_ != cudaSuccess) ::r1::cuda::fail_cuda(op, #call, r1_err_, __FILE__, __LINE__); \
  } while (0)

#define R1_CUBLAS_CHECK(op, call)                                                     \
  do {                                                                                \
    const cublasStatus_t r1_st_ = (call);                                             \
    if (r1_st_ != CUBLAS_STATUS_SUCCESS) ::r1::cuda::fail_cublas(op, #call, r1_st_, __FILE__, __LINE__); \
  } while (0)

// After every kernel launch: catches bad launch configurations (and, asynchronously, earlier faults).
#define R1_CUDA_LAUNCH_CHECK(op) R1_CUDA_CHECK(op, cudaGetLastError())
