// One matrix product through cuBLASLt: bf16 inputs, float32 accumulation, bf16 or float32 output, optional
// bias epilogue. Column-major in cuBLAS's terms; linear.cu and lm_head.cu translate our row-major layouts.
//   C[m, n] = alpha * op(A) op(B) + beta * C  (+ bias[m] broadcast over columns)
// The chosen algorithm is cached per shape, layout and pointer alignment in the Context, so the choice is made
// once per distinct product rather than once per call. It is measured: the heuristic's first answer can be far
// off (Qwen2.5-0.5B at 8 x 1024 tokens on an H100: o_proj with the residual in its epilogue 0.114 ms vs 0.033 for
// its 5th candidate; the LM head's products 1.9 / 2.0 vs 1.6 ms), so the first call of a key outside a graph
// capture times up to 16 candidates (once per class of shapes: the token count rounded up to a power of two;
// products under ~1 GFLOP are not timed) and keeps the heuristically first one within kTrainingTuneMargin of the
// fastest (near ties keep the heuristic's order, so the choice repeats from run to run unless timings move by
// more than the margin). R1_GEMM_TUNE=0 takes the heuristic's first answer (bit-identical algorithms on every
// run and machine); R1_GEMM_TUNE=2 prints every choice.
#pragma once
#include <cublasLt.h>
#include <cuda_bf16.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <tuple>

#include "backend/cuda/context.h"
#include "backend/cuda/decode_kernel.h"

namespace r1::cuda {

struct GemmKey {
  bool trans_a, trans_b;
  int m, n, k, lda, ldb, ldc;
  cudaDataType c_type;
  bool bias, beta_nonzero;
  int align_a, align_b, align_c;
  auto tie() const {
    return std::tie(trans_a, trans_b, m, n, k, lda, ldb, ldc, c_type, bias, beta_nonzero, align_a, align_b, align_c);
  }
  bool operator<(const GemmKey& o) const { return tie() < o.tie(); }
};

struct GemmCache {
  std::map<GemmKey, cublasLtMatmulAlgo_t> algos;
  std::map<GemmKey, cublasLtMatmulAlgo_t> tuned_classes;  // gemm()'s timed choice per class of shapes
  // decode_linears' measured choice per (T, I, O of up to three products, bias mask).
  std::map<std::array<int, 6>, DecodeKernel> decode_kernels;
};

// The largest power of two (up to 256) dividing the address: cuBLASLt picks kernels assuming this alignment, so it
// is part of the algorithm cache's key.
int pointer_alignment(const void* p);

// The cuBLASLt descriptors of one product as gemm() issues it (RAII: an error thrown mid-way leaks nothing):
// the operation (compute float32, transposes, bias epilogue when `bias` is set), the A/B/C layouts, and on
// request the algorithm preference (workspace size and the key's alignments) that heuristic queries take.
class GemmDescriptors {
 public:
  GemmDescriptors(const char* op, const GemmKey& key, const __nv_bfloat16* bias);
  ~GemmDescriptors();
  GemmDescriptors(const GemmDescriptors&) = delete;
  GemmDescriptors& operator=(const GemmDescriptors&) = delete;
  cublasLtMatmulDesc_t desc() const { return desc_; }
  cublasLtMatrixLayout_t a() const { return a_; }
  cublasLtMatrixLayout_t b() const { return b_; }
  cublasLtMatrixLayout_t c() const { return c_; }
  cublasLtMatmulPreference_t preference(const Context& ctx);  // created on first call

 private:
  const char* op_;
  GemmKey key_;
  cublasLtMatmulDesc_t desc_ = nullptr;
  cublasLtMatrixLayout_t a_ = nullptr, b_ = nullptr, c_ = nullptr;
  cublasLtMatmulPreference_t pref_ = nullptr;
};

constexpr float kTrainingTuneMargin = 0.05f;

// Times candidates results[0 .. found) of this product, `reps` runs each (after one untimed run, which may fail:
// the candidate is skipped), writing D to `out` (C = addend), with before_each(rep) before every timed run (e.g. a
// cache flush). Returns the first candidate whose time is within `margin` of the fastest, or -1 if none ran.
int time_gemm_candidates(Context& ctx, const char* op, GemmDescriptors& d,
                         const cublasLtMatmulHeuristicResult_t* results, int found, float alpha,
                         const __nv_bfloat16* A, const __nv_bfloat16* B, float beta, const void* addend, void* out,
                         int reps, float margin, const std::function<void(int)>& before_each);

// `op` names the calling op in error messages. c_type is CUDA_R_16BF or CUDA_R_32F; bias (bf16, length m) may
// be null. The addend beta * C is read from C itself (in place: what += accumulation needs) or, when C_in is
// given, from C_in (same type and layout): C = alpha op(A) op(B) + beta C_in, e.g. a residual added in the
// epilogue.
void gemm(Context& ctx, const char* op, bool trans_a, bool trans_b, int m, int n, int k, float alpha,
          const __nv_bfloat16* A, int lda, const __nv_bfloat16* B, int ldb, float beta, void* C, cudaDataType c_type,
          int ldc, const __nv_bfloat16* bias = nullptr, const void* C_in = nullptr);

}  // namespace r1::cuda
