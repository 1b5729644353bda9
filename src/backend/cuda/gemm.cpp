#include "backend/cuda/gemm.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "backend/cuda/check.h"
#include "backend/cuda/event_timer.h"
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

namespace {

// R1_GEMM_TUNE=0 keeps the heuristic's first answer for every product; 2 also prints each timed choice.
int tune_level() {
  static const int level = [] {
    const char* v = std::getenv("R1_GEMM_TUNE");
    return v ? std::atoi(v) : 1;
  }();
  return level;
}

// Products below this many FLOPs (~2 us on an H100) keep the heuristic's answer: timing them costs more than
// choosing well saves.
constexpr double kTuneMinFlops = double(1 << 30);

int round_up_pow2(int v) {
  int p = 1;
  while (p < v) p <<= 1;
  return p;
}

// The key with n and k rounded up to powers of two and the leading dimensions left out.
GemmKey tuning_class(GemmKey key) {
  key.n = round_up_pow2(key.n), key.k = round_up_pow2(key.k);
  key.lda = key.ldb = key.ldc = 0;
  return key;
}

}  // namespace

int time_gemm_candidates(Context& ctx, const char* op, GemmDescriptors& d,
                         const cublasLtMatmulHeuristicResult_t* results, int found, float alpha,
                         const __nv_bfloat16* A, const __nv_bfloat16* B, float beta, const void* addend, void* out,
                         int reps, float margin, const std::function<void(int)>& before_each) {
  EventTimer timer(ctx, op);
  std::vector<float> ms(size_t(found), -1.0f);
  const size_t ws = ctx.workspace_bytes();
  for (int i = 0; i < found; i++) {
    if (results[i].state != CUBLAS_STATUS_SUCCESS || results[i].workspaceSize > ws) continue;
    auto run = [&] {
      return cublasLtMatmul(ctx.blas(), d.desc(), &alpha, A, d.a(), B, d.b(), &beta, addend, d.c(), out, d.c(),
                            &results[i].algo, ctx.workspace(), ws, ctx.stream());
    };
    if (run() != CUBLAS_STATUS_SUCCESS) continue;  // an algorithm this shape cannot run: skip it
    auto before = [&](int rep) {
      if (before_each) before_each(rep);
    };
    ms[size_t(i)] = timer.total_ms(reps, before, run) / float(reps);
  }
  cudaGetLastError();  // clear a launch error left by a skipped algorithm
  float best = 1e30f;
  for (float t : ms)
    if (t >= 0 && t < best) best = t;
  int chosen = -1;
  for (int i = 0; i < found && chosen < 0; i++)
    if (ms[size_t(i)] >= 0 && ms[size_t(i)] <= best * (1.0f + margin)) chosen = i;
  if (tune_level() >= 2 && chosen >= 0)
    std::fprintf(stderr, "gemm tune %s: %d candidates, heuristic #0 %.4f ms, chosen #%d %.4f ms\n", op, found, ms[0],
                 chosen, ms[size_t(chosen)]);
  return chosen;
}

namespace {

// The algorithm for a key gemm() has not seen: a timed class's choice when cuBLASLt accepts it for this shape,
// else the heuristic's candidates, timed when tuning is on (gemm.h).
cublasLtMatmulAlgo_t choose_algorithm(Context& ctx, const char* op, GemmDescriptors& d, const GemmKey& key,
                                      float alpha, const __nv_bfloat16* A, const __nv_bfloat16* B, float beta, void* C,
                                      const void* addend) {
  auto& cache = ctx.gemm_cache();
  // Timed once per class of shapes (the token count, n or k, varies from batch to batch; rounded up to a power
  // of two): a later key of the class reuses the class's algorithm when cuBLASLt accepts it for that shape.
  const GemmKey class_key = tuning_class(key);
  const bool tune = tune_level() > 0 && 2.0 * key.m * key.n * key.k >= kTuneMinFlops && !ctx.capturing(op);
  if (tune) {
    auto known = cache.tuned_classes.find(class_key);
    cublasLtMatmulHeuristicResult_t check{};
    if (known != cache.tuned_classes.end() &&
        cublasLtMatmulAlgoCheck(ctx.blas(), d.desc(), d.a(), d.b(), d.c(), d.c(), &known->second, &check) ==
            CUBLAS_STATUS_SUCCESS &&
        check.workspaceSize <= ctx.workspace_bytes())
      return known->second;
  }
  std::vector<cublasLtMatmulHeuristicResult_t> results(tune ? 16 : 1);
  int found = 0;
  R1_CUBLAS_CHECK(op, cublasLtMatmulAlgoGetHeuristic(ctx.blas(), d.desc(), d.a(), d.b(), d.c(), d.c(),
                                                     d.preference(ctx), int(results.size()), results.data(), &found));
  if (found == 0)
    throw Error(std::string("cuda: ") + op + ": cuBLASLt found no algorithm for a " + std::to_string(key.m) + "x" +
                std::to_string(key.n) + "x" + std::to_string(key.k) + " product");
  if (!tune || found == 1) return results[0].algo;
  // beta 0: the real output is written by the call after this anyway; otherwise its addend must stay intact.
  void* out = C;
  if (beta != 0.0f)
    R1_CUDA_CHECK(op, cudaMallocAsync(&out, size_t(key.ldc) * size_t(key.n) * (key.c_type == CUDA_R_32F ? 4 : 2),
                                      ctx.stream()));
  const int chosen = std::max(0, time_gemm_candidates(ctx, op, d, results.data(), found, alpha, A, B, beta, addend,
                                                      out, 3, kTrainingTuneMargin, {}));
  if (out != C) R1_CUDA_CHECK(op, cudaFreeAsync(out, ctx.stream()));
  cache.tuned_classes[class_key] = results[size_t(chosen)].algo;
  return results[size_t(chosen)].algo;
}

}  // namespace

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
  if (it == algos.end()) it = algos.emplace(key, choose_algorithm(ctx, op, d, key, alpha, A, B, beta, C, addend)).first;
  R1_CUBLAS_CHECK(op, cublasLtMatmul(ctx.blas(), d.desc(), &alpha, A, d.a(), B, d.b(), &beta, addend, d.c(), C, d.c(),
                                     &it->second, ctx.workspace(), ctx.workspace_bytes(), ctx.stream()));
}

}  // namespace r1::cuda
