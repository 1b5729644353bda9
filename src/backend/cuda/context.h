// The per-stream state every CUDA op needs: the stream it enqueues on, a cuBLASLt handle with its workspace,
// a cache of chosen matmul algorithms, and one growable device scratch buffer for ops that need temporary
// memory (the LM head's chunk of logits, the embedding backward's sorted ids, reductions' partial sums).
// No globals: the model owns one Context per stream and passes it to every op.
#pragma once
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <memory>

namespace r1::cuda {

struct GemmCache;  // defined in gemm.h

// Whether the current device runs the build's sm_90a code (Hopper's wgmma and TMA); other devices run the
// compute_90 PTX, which has neither, so the kernels that need them must not be launched there.
bool wgmma_available();

class Context {
 public:
  // Uses `stream` (the legacy default stream when null); the Context does not own it.
  explicit Context(cudaStream_t stream = nullptr, size_t workspace_bytes = size_t(32) << 20);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  cudaStream_t stream() const { return stream_; }
  cublasLtHandle_t blas() const { return blas_; }
  void* workspace() const { return workspace_; }
  size_t workspace_bytes() const { return workspace_bytes_; }
  GemmCache& gemm_cache() { return *gemm_cache_; }

  // A device buffer of at least `bytes`, valid for work enqueued on stream() until the next scratch() call.
  // Growth frees the old buffer stream-ordered, so work already enqueued that still reads it stays correct.
  void* scratch(size_t bytes);

  // Whether attention with head dim 64 or 128 runs on the wgmma kernels (attention_wgmma.cu) rather than the
  // mma.sync ones: on by default where wgmma_available(), off with R1_ATTENTION_WGMMA=0; parity checks and benchmarks
  // switch it to compare the two.
  bool attention_wgmma() const { return attention_wgmma_; }
  void set_attention_wgmma(bool on) { attention_wgmma_ = on && wgmma_available(); }

  // Whether the stream is being captured into a CUDA graph (no timing, no synchronisation then).
  bool capturing(const char* op) const;

  // Blocks until everything enqueued on the stream has finished (and reports asynchronous faults).
  void synchronize(const char* op = "synchronize");

 private:
  cudaStream_t stream_ = nullptr;
  cublasLtHandle_t blas_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  void* scratch_ = nullptr;
  size_t scratch_bytes_ = 0;
  std::unique_ptr<GemmCache> gemm_cache_;
  bool attention_wgmma_ = false;
};

}  // namespace r1::cuda
