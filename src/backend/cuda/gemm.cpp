#include "backend/cuda/gemm.h"

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

namespace {

// RAII holders so an error thrown mid-way does not leak descriptors.
struct Desc {
  cublasLtMatmulDesc_t d = nullptr;
  ~Desc() { if (d) cublasLtMatmulDescDestroy(d); }
};
struct Layout {
  cublasLtMatrixLayout_t l = nullptr;
  ~Layout() { if (l) cublasLtMatrixLayoutDestroy(l); }
};
struct Pref {
  cublasLtMatmulPreference_t p = nullptr;
  ~Pref() { if (p) cublasLtMatmulPreferenceDestroy(p); }
};

}  // namespace

void gemm(Context& ctx, const char* op, bool trans_a, bool trans_b, int m, int n, int k, float alpha,
          const __nv_bfloat16* A, int lda, const __nv_bfloat16* B, int ldb, float beta, void* C, cudaDataType c_type,
          int ldc, const __nv_bfloat16* bias) {
  if (m == 0 || n == 0) return;
  Desc desc;
  R1_CUBLAS_CHECK(op, cublasLtMatmulDescCreate(&desc.d, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t ta = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, tb = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  R1_CUBLAS_CHECK(op, cublasLtMatmulDescSetAttribute(desc.d, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
  R1_CUBLAS_CHECK(op, cublasLtMatmulDescSetAttribute(desc.d, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
  if (bias) {
    const cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
    const cudaDataType bias_type = CUDA_R_16BF;
    R1_CUBLAS_CHECK(op, cublasLtMatmulDescSetAttribute(desc.d, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)));
    R1_CUBLAS_CHECK(op, cublasLtMatmulDescSetAttribute(desc.d, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
    R1_CUBLAS_CHECK(op, cublasLtMatmulDescSetAttribute(desc.d, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type,
                                                       sizeof(bias_type)));
  }
  // Stored shapes: op(A) is m x k, so A itself is k x m when transposed; likewise B.
  Layout la, lb, lc;
  R1_CUBLAS_CHECK(op, cublasLtMatrixLayoutCreate(&la.l, CUDA_R_16BF, trans_a ? k : m, trans_a ? m : k, lda));
  R1_CUBLAS_CHECK(op, cublasLtMatrixLayoutCreate(&lb.l, CUDA_R_16BF, trans_b ? n : k, trans_b ? k : n, ldb));
  R1_CUBLAS_CHECK(op, cublasLtMatrixLayoutCreate(&lc.l, c_type, m, n, ldc));

  const GemmKey key{trans_a, trans_b, m, n, k, lda, ldb, ldc, c_type, bias != nullptr, beta != 0.0f,
                    pointer_alignment(A), pointer_alignment(B), pointer_alignment(C)};
  auto& algos = ctx.gemm_cache().algos;
  auto it = algos.find(key);
  if (it == algos.end()) {
    Pref pref;
    R1_CUBLAS_CHECK(op, cublasLtMatmulPreferenceCreate(&pref.p));
    const size_t ws = ctx.workspace_bytes();
    R1_CUBLAS_CHECK(op, cublasLtMatmulPreferenceSetAttribute(pref.p, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
                                                             sizeof(ws)));
    const uint32_t aa = key.align_a, ab = key.align_b, ac = key.align_c;
    R1_CUBLAS_CHECK(op, cublasLtMatmulPreferenceSetAttribute(pref.p, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &aa,
                                                             sizeof(aa)));
    R1_CUBLAS_CHECK(op, cublasLtMatmulPreferenceSetAttribute(pref.p, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &ab,
                                                             sizeof(ab)));
    R1_CUBLAS_CHECK(op, cublasLtMatmulPreferenceSetAttribute(pref.p, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &ac,
                                                             sizeof(ac)));
    R1_CUBLAS_CHECK(op, cublasLtMatmulPreferenceSetAttribute(pref.p, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &ac,
                                                             sizeof(ac)));
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    R1_CUBLAS_CHECK(op, cublasLtMatmulAlgoGetHeuristic(ctx.blas(), desc.d, la.l, lb.l, lc.l, lc.l, pref.p, 1, &result,
                                                       &found));
    if (found == 0)
      throw Error(std::string("cuda: ") + op + ": cuBLASLt found no algorithm for a " + std::to_string(m) + "x" +
                  std::to_string(n) + "x" + std::to_string(k) + " product");
    it = algos.emplace(key, result.algo).first;
  }
  R1_CUBLAS_CHECK(op, cublasLtMatmul(ctx.blas(), desc.d, &alpha, A, la.l, B, lb.l, &beta, C, lc.l, C, lc.l,
                                     &it->second, ctx.workspace(), ctx.workspace_bytes(), ctx.stream()));
}

}  // namespace r1::cuda
