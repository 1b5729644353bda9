#include "backend/cuda/context.h"

#include "backend/cuda/check.h"
#include "backend/cuda/gemm.h"

#include <cstdlib>
#include <cstring>

namespace r1::cuda {

bool wgmma_available() {
  int device = 0, major = 0, minor = 0;
  R1_CUDA_CHECK("device", cudaGetDevice(&device));
  R1_CUDA_CHECK("device", cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  R1_CUDA_CHECK("device", cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
  return major == 9 && minor == 0;
}

Context::Context(cudaStream_t stream, size_t workspace_bytes)
    : stream_(stream), workspace_bytes_(workspace_bytes), gemm_cache_(std::make_unique<GemmCache>()) {
  R1_CUBLAS_CHECK("context", cublasLtCreate(&blas_));
  if (workspace_bytes_ > 0) R1_CUDA_CHECK("context", cudaMalloc(&workspace_, workspace_bytes_));
  const char* env = std::getenv("R1_ATTENTION_WGMMA");
  set_attention_wgmma(!(env && std::strcmp(env, "0") == 0));
}

Context::~Context() {
  // Destructors must not throw: errors here are reported by the next checked call, if any.
  if (scratch_) cudaFreeAsync(scratch_, stream_);
  if (workspace_) {
    cudaStreamSynchronize(stream_);
    cudaFree(workspace_);
  }
  if (blas_) cublasLtDestroy(blas_);
}

void* Context::scratch(size_t bytes) {
  if (bytes <= scratch_bytes_) return scratch_;
  if (scratch_) {
    void* old = scratch_;
    scratch_ = nullptr;
    scratch_bytes_ = 0;
    R1_CUDA_CHECK("scratch", cudaFreeAsync(old, stream_));
  }
  // Grow geometrically so a sequence of slightly larger requests does not reallocate every time.
  const size_t grown = bytes + bytes / 4;
  R1_CUDA_CHECK("scratch", cudaMallocAsync(&scratch_, grown, stream_));
  scratch_bytes_ = grown;
  return scratch_;
}

bool Context::capturing(const char* op) const {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  R1_CUDA_CHECK(op, cudaStreamIsCapturing(stream_, &status));
  return status != cudaStreamCaptureStatusNone;
}

void Context::synchronize(const char* op) { R1_CUDA_CHECK(op, cudaStreamSynchronize(stream_)); }

}  // namespace r1::cuda
