// Measured algorithm choice for the decode step's skinny products (T = a few hundred rows against whole weight
// matrices): cuBLASLt's first heuristic answer is tuned for large T and, at T <= 256, often leaves most SMs idle
// on the narrow outputs (o_proj, down_proj: 896 columns), running far below memory bandwidth. The first time a
// shape is seen, every algorithm the heuristic offers (up to 32, split-K variants included) is timed on the real
// buffers from a cold L2 and the fastest is stored in the Context's GemmCache under the key gemm() looks up — so the ordinary
// linear_forward / lm_head_logits calls, and CUDA graphs captured from them, use it. decode_linears goes one step
// further: it also times our own split-K kernels (decode_matmul.cu: mma.sync; decode_matmul_wgmma.cu: wgmma, each
// tile shape) on the products sharing an input and keeps whichever is fastest, so a shape where cuBLASLt wins
// never gets slower.
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdlib>

#include <algorithm>
#include <array>
#include <string>
#include <utility>
#include <vector>

#include "backend/cuda/check.h"
#include "backend/cuda/decode_ops.h"
#include "backend/cuda/event_timer.h"
#include "backend/cuda/gemm.h"
#include "backend/cuda/ops.h"
#include "core/error.h"

namespace r1::cuda {

namespace {

// Times candidates the way a decode step runs them: every layer's weights stream from memory once per step, so
// each timed run starts from a cold L2 (a memset of twice its size first). Timed back to back instead, the
// weights stay in L2 and the candidate with the least fixed cost wins even when it streams memory worse.
class ColdTimer {
 public:
  ColdTimer(Context& ctx, const char* op) : ctx_(ctx), op_(op), timer_(ctx, op) {
    int device = 0, l2 = 0;
    R1_CUDA_CHECK(op, cudaGetDevice(&device));
    R1_CUDA_CHECK(op, cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, device));
    flush_bytes_ = size_t(std::max(l2, 1 << 20)) * 2;
    R1_CUDA_CHECK(op, cudaMalloc(&flush_, flush_bytes_));
  }
  ~ColdTimer() { cudaFree(flush_); }
  ColdTimer(const ColdTimer&) = delete;
  ColdTimer& operator=(const ColdTimer&) = delete;

  // Evicts the L2 (a memset of twice its size) before a cold run.
  void flush(int rep) { R1_CUDA_CHECK(op_, cudaMemsetAsync(flush_, rep, flush_bytes_, ctx_.stream())); }

  // Total milliseconds of `reps` cold runs (after the caller's own first run, which may tune or fail).
  template <typename Run>
  float time(Run&& run, int reps = 5) {
    return timer_.total_ms(reps, [&](int rep) { flush(rep); }, run);
  }

 private:
  Context& ctx_;
  const char* op_;
  EventTimer timer_;
  void* flush_ = nullptr;
  size_t flush_bytes_ = 0;
};

// C[m, n] = op(A) op(B) (+ bias) as gemm() issues it (beta 0); tunes and caches when the key is new.
void tune(Context& ctx, const char* op, bool trans_a, int m, int n, int k, const bf16* A, int lda, const bf16* B,
          int ldb, void* C, cudaDataType c_type, int ldc, const bf16* bias, float alpha) {
  const GemmKey key{trans_a, false, m, n, k, lda, ldb, ldc, c_type, bias != nullptr, false,
                    pointer_alignment(A), pointer_alignment(B), pointer_alignment(C)};
  auto& algos = ctx.gemm_cache().algos;
  if (algos.count(key)) return;
  if (ctx.capturing(op)) return;  // cannot time inside a capture: gemm() decides

  GemmDescriptors h(op, key, bias);
  std::vector<cublasLtMatmulHeuristicResult_t> results(32);
  int found = 0;
  R1_CUBLAS_CHECK(op, cublasLtMatmulAlgoGetHeuristic(ctx.blas(), h.desc(), h.a(), h.b(), h.c(), h.c(),
                                                     h.preference(ctx), int(results.size()), results.data(), &found));
  if (found == 0) return;  // gemm() reports it
  ColdTimer timer(ctx, op);
  const int best = time_gemm_candidates(ctx, op, h, results.data(), found, alpha, A, B, 0.0f, C, C, 5, 0.0f,
                                        [&](int rep) { timer.flush(rep); });
  if (best >= 0) algos.emplace(key, results[size_t(best)].algo);
}

}  // namespace

void decode_linear(Context& ctx, bf16* y, const bf16* x, const bf16* W, const bf16* bias, int T, int I, int O) {
  if (T <= 0) return;
  // The key linear_forward's gemm() builds: m = O, n = T, k = I, A = W transposed, B = x, bf16 output.
  tune(ctx, "decode_linear", true, O, T, I, W, I, x, I, y, CUDA_R_16BF, O, bias, 1.0f);
  linear_forward(ctx, y, x, W, bias, T, I, O);
}

void decode_lm_head(Context& ctx, float* logits, const bf16* x, const bf16* W, int n, int C, int V) {
  if (n <= 0) return;
  tune(ctx, "decode_lm_head", true, V, n, C, W, C, x, C, logits, CUDA_R_32F, V, nullptr, 1.0f);
  lm_head_logits(ctx, logits, x, W, n, C, V);
}

namespace {

void cublas_products(Context& ctx, const bf16* x, int T, int I, const DecodeProduct* list, int count) {
  for (int i = 0; i < count; i++) decode_linear(ctx, list[i].y, x, list[i].W, list[i].bias, T, I, list[i].O);
}

// Our kernels worth timing for T rows: the mma.sync one, and on Hopper the wgmma one with every tile whose
// token side is not more than twice T (a 256-token tile for 64 rows would only multiply padding), each at 1, 2,
// 3, 4, 6, 8 splits.
std::vector<DecodeKernel> candidates(int T) {
  std::vector<DecodeKernel> out;
  for (int splits : {1, 2, 3, 4, 6, 8}) out.push_back(DecodeKernel::mma(splits));
  if (!decode_wgmma_available()) return out;
  for (int features : DecodeKernel::kWgmmaFeatures)
    for (int tokens : DecodeKernel::kWgmmaTokens)
      if (tokens == 64 || tokens < 2 * T)
        for (int splits : {1, 2, 3, 4, 6, 8}) out.push_back(DecodeKernel::warpgroup(features, tokens, splits));
  return out;
}

}  // namespace

std::vector<std::pair<DecodeKernel, float>> time_decode_kernels(Context& ctx, const bf16* x, int T, int I,
                                                                const DecodeProduct* list, int count) {
  std::vector<std::pair<DecodeKernel, float>> out;
  auto cublas = [&] { cublas_products(ctx, x, T, I, list, count); };
  cublas();
  ColdTimer timer(ctx, "decode_linears");
  constexpr int kReps = 5;
  out.emplace_back(DecodeKernel::cublas(), timer.time(cublas, kReps) / kReps);
  for (const DecodeKernel& kernel : candidates(T)) {
    if (!decode_matmul_supported(x, I, list, count, kernel)) continue;
    auto ours = [&] { decode_matmul(ctx, x, T, I, list, count, kernel); };
    ours();
    out.emplace_back(kernel, timer.time(ours, kReps) / kReps);
  }
  return out;
}

namespace {

// The measured choice for products sharing x, tuned the first time the shape is seen outside a graph capture (the
// tuning runs leave their outputs behind, which the caller overwrites); a capture before any measurement gets
// cuBLASLt.
DecodeKernel decode_choice(Context& ctx, const bf16* x, int T, int I, const DecodeProduct* list, int count) {
  std::array<int, 6> key{T, I, 0, 0, 0, 0};
  for (int i = 0; i < count; i++) key[size_t(2 + i)] = list[i].O, key[5] |= list[i].bias ? 1 << i : 0;
  auto& choices = ctx.gemm_cache().decode_kernels;
  auto found = choices.find(key);
  if (found != choices.end()) return found->second;
  if (ctx.capturing("decode_linears")) return DecodeKernel::cublas();
  // R1_DECODE_OURS_ONLY=1 (benchmarks): leave cuBLASLt out, to see our kernels inside a whole step.
  static const bool ours_only = [] {
    const char* v = std::getenv("R1_DECODE_OURS_ONLY");
    return v && std::string(v) == "1";
  }();
  DecodeKernel best = DecodeKernel::cublas();
  float best_ms = 1e30f;
  for (const auto& [kernel, ms] : time_decode_kernels(ctx, x, T, I, list, count))
    if (ms < best_ms && (kernel.ours() || !ours_only)) best_ms = ms, best = kernel;
  return choices.emplace(key, best).first->second;
}

void run_choice(Context& ctx, const bf16* x, int T, int I, const DecodeProduct* list, int count,
                const DecodeKernel& choice, const DecodeRopeEpilogue* rope = nullptr) {
  if (choice.ours()) return decode_matmul(ctx, x, T, I, list, count, choice, rope);
  cublas_products(ctx, x, T, I, list, count);
}

}  // namespace

DecodeKernel decode_linears(Context& ctx, const bf16* x, int T, int I,
                            std::initializer_list<DecodeProduct> products) {
  if (T <= 0 || products.size() == 0) return DecodeKernel::cublas();
  if (products.size() > size_t(kMaxDecodeProducts))
    throw Error("cuda: decode_linears: at most " + std::to_string(kMaxDecodeProducts) + " products share x");
  const int count = int(products.size());
  const DecodeKernel choice = decode_choice(ctx, x, T, I, products.begin(), count);
  run_choice(ctx, x, T, I, products.begin(), count, choice);
  return choice;
}

DecodeKernel decode_qkv_rope(Context& ctx, const bf16* x, int T, int I, const DecodeProduct (&qkv)[3],
                             const DecodeRopeEpilogue& rope, int Hq, int D) {
  if (T <= 0) return DecodeKernel::cublas();
  const DecodeKernel choice = decode_choice(ctx, x, T, I, qkv, 3);
  if (choice.ours() && decode_rope_epilogue_supported(I, qkv, 3, rope)) {
    run_choice(ctx, x, T, I, qkv, 3, choice, &rope);
    return choice;
  }
  run_choice(ctx, x, T, I, qkv, 3, choice);
  decode_rope_kv_write(ctx, qkv[0].y, qkv[1].y, qkv[2].y, rope.k_pool, rope.v_pool, rope.positions, rope.slots,
                       rope.cos_table, rope.sin_table, T, Hq, rope.Hkv, D);
  return choice;
}

}  // namespace r1::cuda
