#include "backend/cuda/gemm.h"

#include <algorithm>
#include <string>

#include "backend/cuda/check.h"
#include "core/error.h"

namespace r1::cuda {

int pointer_alignment(const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  int align = 256;
  while (align > 1 && a % align != 0) align /= 2;
  return align;
}

GemmDescriptors::GemmDescriptors(const char* op, const GemmKey& key, const __nv_bfloat16* bias)
    : op_(op), key_(key) {
  R1_CUBLAS_CHECK(op, cublasLtMatmulDescCreate(&desc_, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t ta = key.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, tb = key.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  R1_CUBLAS_CHECK(op, cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
  R1_CUBLAS_CHECK(op, cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
  if (bias) {
    const cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
    const cudaDataType bias_type = CUDA_R_16BF;
    R1_CUBLAS_CHECK(op, cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)));
    R1_CUBLAS_CHECK(op, cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
    R1_CUBLAS_CHECK(op, cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type,
                                                       sizeof(bias_type)));
  }
  // Stored shapes: op(A) is m x k, so A itself is k x m when transposed; likewise B.
  const int m = key.m, n = key.n, k = key.k;
  R1_CUBLAS_CHECK(op, cublasLtMatrixLayoutCreate(&a_, CUDA_R_16BF, key.trans_a ? k : m, key.trans_a ? m : k, key.lda));
  R1_CUBLAS_CHECK(op, cublasLtMatrixLayoutCreate(&b_, CUDA_R_16BF, key.trans_b ? n : k, key.trans_b ? k : n, key.ldb));
  R1_CUBLAS_CHECK(op, cublasLtMatrixLayoutCreate(&c_, key.c_type, m, n, key.ldc));
}

GemmDescriptors::~GemmDescriptors() {
  if (pref_) cublasLtMatmulPreferenceDestroy(pref_);
  if (c_) cublasLtMatrixLayoutDestroy(c_);
  if (b_) cublasLtMatrixLayoutDestroy(b_);
  if (a_) cublasLtMatrixLayoutDestroy(a_);
  if (desc_) cublasLtMatmulDescDestroy(desc_);
}

cublasLtMatmulPreference_t GemmDescriptors::preference(const Context& ctx) {
  if (pref_) return pref_;
  const char* op = op_;
  R1_CUBLAS_CHECK(op, cublasLtMatmulPreferenceCreate(&pref_));
  const size_t ws = ctx.workspace_bytes();
  R1_CUBLAS_CHECK(op, cublasLtMatmulPreferenceSetAttribute(pref_, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
                                                           sizeof(ws)));
  const uint32_t aa = key_.align_a, ab = key_.align_b, ac = key_.align_c;
  R1_CUBLAS_CHECK(op, cublasLtMatmulPreferenceSetAttribute(pref_, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &aa,
                                                           sizeof(aa)));
  R1_CUBLAS_CHECK(op, cublasLtMatmulPreferenceSetAttribute(pref_, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &ab,
                                                           sizeof(ab)));
  R1_CUBLAS_CHECK(op, cublasLtMatmulPreferenceSetAttribute(pref_, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &ac,
                                                           sizeof(ac)));
  R1_CUBLAS_CHECK(op, cublasLtMatmulPreferenceSetAttribute(pref_, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &ac,
                                                           sizeof(ac)));
  return pref_;
}

void gemm(Context& ctx, const char* op, bool trans_a, bool trans_b, int m, int n, int k, float alpha,
          const __nv_bfloat16* A, int lda, const __nv_bfloat16* B, int ldb, float beta, void* C, cudaDataType c_type,
          int ldc, const __nv_bfloat16* bias, const void* C_in) {
  if (m == 0 || n == 0) return;
  const void* addend = C_in ? C_in : C;
  const GemmKey key{trans_a, trans_b, m, n, k, lda, ldb, ldc, c_type, bias != nullptr, beta != 0.0f,
                    pointer_alignment(A), pointer_alignment(B),
                    std::min(pointer_alignment(C), pointer_alignment(addend))};
  GemmDescriptors d(op, key, bias);
  auto& algos = ctx.gemm_cache().algos;
  auto it = algos.find(key);
  if (it == algos.end()) {
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    R1_CUBLAS_CHECK(op, cublasLtMatmulAlgoGetHeuristic(ctx.blas(), d.desc(), d.a(), d.b(), d.c(), d.c(),
                                                       d.preference(ctx), 1, &result, &found));
    if (found == 0)
      throw Error(std::string("cuda: ") + op + ": cuBLASLt found no algorithm for a " + std::to_string(m) + "x" +
                  std::to_string(n) + "x" + std::to_string(k) + " product");
    it = algos.emplace(key, result.algo).first;
  }
  R1_CUBLAS_CHECK(op, cublasLtMatmul(ctx.blas(), d.desc(), &alpha, A, d.a(), B, d.b(), &beta, addend, d.c(), C, d.c(),
                                     &it->second, ctx.workspace(), ctx.workspace_bytes(), ctx.stream()));
}

}  // namespace r1::cuda
