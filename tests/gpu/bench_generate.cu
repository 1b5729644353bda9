// Rollout throughput of GpuEngine on a Qwen2.5-0.5B-shaped random model (hidden 896, 24 layers, 14/2 heads of 64,
// FFN 4864, vocab 151936, tied): batches of 64 and 256 distinct 128-token prompts, 256 new tokens each,
// temperature 1 sampling, ignore_eos — the shapes of bench/cuda/generate_reference.py (transformers'
// model.generate), which prints the same table. Each configuration runs once to warm up (cuBLASLt algorithm
// choice, CUDA graph capture) and is then timed; with graphs and without (every kernel launched eagerly).
// Usage: bench_generate [--breakdown] [batch ...]   (default 64 256; --breakdown: only the per-op timings)
#include <cuda_profiler_api.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "backend/cuda/check.h"
#include "backend/cuda/decode_ops.h"
#include "backend/cuda/ops.h"
#include "generate/cuda/gpu_engine.h"
#include "model/config.h"
#include "model/param_layout.h"

namespace {

bool g_candidates = false;  // --candidates: the breakdown lists every product kernel's time
bool g_profile = false;     // --profile: + one run of cuBLASLt and of our 3 fastest inside cudaProfilerStart/Stop

using r1::cuda::bf16;

// Weights ~ N(0, std) from a counter hash + Box-Muller (GPU side: initialising 494M values on the host is slow).
__global__ void fill_normal(bf16* w, int64_t n, uint64_t seed, float std) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  uint64_t h = (uint64_t(i) + seed * 0x9E3779B97F4A7C15ull) * 0xD1B54A32D192ED03ull;
  h ^= h >> 29, h *= 0xBF58476D1CE4E5B9ull, h ^= h >> 32;
  const float u1 = (float((h >> 40) & 0xFFFFFF) + 0.5f) * (1.0f / 16777216.0f);
  const float u2 = float((h >> 8) & 0xFFFFFF) * (1.0f / 16777216.0f);
  w[i] = __float2bfloat16(std * sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2));
}
__global__ void fill_const(bf16* w, int64_t n, float v) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) w[i] = __float2bfloat16(v);
}

// Mean time of `iters` runs after one warm-up, each from a cold L2 (a 100 MB memset, outside the timed interval): a decode step streams
// each layer's weights and cache once, so this is the speed that matters inside a step.
template <typename F>
double time_cold_ms(F&& f, int iters = 10) {
  static void* flush = nullptr;
  constexpr size_t kFlush = size_t(100) << 20;
  if (!flush) cudaMalloc(&flush, kFlush);
  f();
  cudaEvent_t a, b;
  cudaEventCreate(&a), cudaEventCreate(&b);
  double total = 0;
  for (int i = 0; i < iters; i++) {
    cudaMemsetAsync(flush, i, kFlush);
    cudaEventRecord(a);
    f();
    cudaEventRecord(b);
    cudaEventSynchronize(b);
    float ms = 0;
    cudaEventElapsedTime(&ms, a, b);
    total += ms;
  }
  cudaEventDestroy(a), cudaEventDestroy(b);
  return total / iters;
}

// Where a decode step's time goes at batch B (context 256 tokens): the ops alone, on the default stream, each
// timed from a cold L2.
void breakdown(const r1::ModelConfig& c, const bf16* w, const r1::ParamLayout& layout, int B) {
  r1::cuda::Context ctx;
  const int V = c.vocab_size, C = c.hidden_size, Hq = c.num_attention_heads, Hkv = c.num_key_value_heads,
            D = c.head_dim, L = 256, ps = 16;
  float* logits = nullptr;
  bf16 *x = nullptr, *q = nullptr, *pool = nullptr, *att = nullptr;
  cudaMalloc(&logits, size_t(B) * V * 4), cudaMalloc(&x, size_t(B) * C * 2), cudaMalloc(&q, size_t(B) * Hq * D * 2);
  cudaMalloc(&att, size_t(B) * Hq * D * 2);
  const int pages = B * L / ps;
  cudaMalloc(&pool, size_t(2) * pages * ps * Hkv * D * 2);
  fill_normal<<<(B * C + 255) / 256, 256>>>(x, int64_t(B) * C, 5, 1.0f);
  fill_normal<<<(B * Hq * D + 255) / 256, 256>>>(q, int64_t(B) * Hq * D, 6, 1.0f);
  fill_normal<<<int((int64_t(2) * pages * ps * Hkv * D + 255) / 256), 256>>>(pool, int64_t(2) * pages * ps * Hkv * D, 7, 1.0f);
  std::vector<int32_t> indptr{0}, indices, lens(size_t(B), L);
  for (int b = 0; b < B; b++) {
    for (int p = 0; p < L / ps; p++) indices.push_back(b * (L / ps) + p);
    indptr.push_back(int32_t(indices.size()));
  }
  std::vector<r1::cuda::RowSampling> prm(static_cast<size_t>(B)), greedy(size_t(B), r1::cuda::RowSampling{0.0f, 0, 1.0f, 0}),
      topp(size_t(B), r1::cuda::RowSampling{1.0f, 0, 0.9f, 0});
  std::vector<double> u(static_cast<size_t>(B), 0.37);
  int32_t *dptr, *didx, *dlen, *dtok;
  r1::cuda::RowSampling *dprm, *dgreedy, *dtopp;
  double* du;
  float *dlp, *dslp, *work;
  cudaMalloc(&dptr, indptr.size() * 4), cudaMalloc(&didx, indices.size() * 4), cudaMalloc(&dlen, size_t(B) * 4);
  cudaMalloc(&dtok, size_t(B) * 4), cudaMalloc(&dlp, size_t(B) * 4), cudaMalloc(&dslp, size_t(B) * 4);
  cudaMalloc(&dprm, size_t(B) * 16), cudaMalloc(&dgreedy, size_t(B) * 16), cudaMalloc(&dtopp, size_t(B) * 16);
  cudaMalloc(&du, size_t(B) * 8);
  cudaMemcpy(dptr, indptr.data(), indptr.size() * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(didx, indices.data(), indices.size() * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(dlen, lens.data(), size_t(B) * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(dprm, prm.data(), size_t(B) * 16, cudaMemcpyHostToDevice);
  cudaMemcpy(dgreedy, greedy.data(), size_t(B) * 16, cudaMemcpyHostToDevice);
  cudaMemcpy(dtopp, topp.data(), size_t(B) * 16, cudaMemcpyHostToDevice);
  cudaMemcpy(du, u.data(), size_t(B) * 8, cudaMemcpyHostToDevice);
  int sms = 0;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  const auto plan = r1::cuda::plan_decode_attention(B, Hkv, L, sms);
  const double kv_bytes = 2.0 * B * L * Hkv * D * 2;  // K and V of one layer
  cudaMalloc(&work, size_t(std::max<int64_t>(1, r1::cuda::decode_attention_workspace_floats(B, Hq, D, plan.splits))) * 4);
  const bf16* head = w + layout.lm_head;
  const double t_head = time_cold_ms([&] { r1::cuda::lm_head_logits(ctx, logits, x, head, B, C, V); });
  const double t_t1 = time_cold_ms([&] { r1::cuda::sample_tokens(ctx, dtok, dlp, dslp, logits, nullptr, dprm, du, B, V); });
  const double t_gr = time_cold_ms([&] { r1::cuda::sample_tokens(ctx, dtok, dlp, dslp, logits, nullptr, dgreedy, du, B, V); });
  const double t_tp = time_cold_ms([&] { r1::cuda::sample_tokens(ctx, dtok, dlp, dslp, logits, nullptr, dtopp, du, B, V); });
  const double t_att = time_cold_ms([&] {
    r1::cuda::paged_decode_attention(ctx, att, nullptr, q, pool, pool + int64_t(pages) * ps * Hkv * D, dptr, didx, dlen,
                                     B, Hq, Hkv, D, ps, plan, work);
  });
  // Attention as a step runs it: one launch per layer over that layer's cache (24 pools, 0.8 GB at B = 256: none
  // stays in L2), back to back, for each tile size and stage count.
  const int layers = c.num_hidden_layers;
  const int64_t pool_elems = int64_t(2) * pages * ps * Hkv * D;
  bf16* pools = nullptr;
  cudaMalloc(&pools, size_t(pool_elems) * layers * 2);
  fill_normal<<<int((pool_elems * layers + 255) / 256), 256>>>(pools, pool_elems * layers, 8, 1.0f);
  std::printf("  attention B=%d, %d layers back to back (plan: tile %d, %d stages):", B, layers, plan.tile_tokens,
              plan.stages);
  for (int tile : {16, 32})
    for (int stages : {2, 3}) {
      auto variant = plan;
      variant.tile_tokens = tile, variant.stages = stages;
      const double t = time_cold_ms([&] {
        for (int l = 0; l < layers; l++) {
          const bf16* kp = pools + l * pool_elems;
          r1::cuda::paged_decode_attention(ctx, att, nullptr, q, kp, kp + pool_elems / 2, dptr, didx, dlen, B, Hq,
                                           Hkv, D, ps, variant, work);
        }
      });
      std::printf(" tile %d / %d stages %.3f ms (%.0f GB/s);", tile, stages, t, kv_bytes * layers / (t * 1e-3) / 1e9);
    }
  std::printf("\n");
  cudaFree(pools);
  // The layer's products at B rows, weights of layer 0: cuBLASLt alone (decode_linear, its measured algorithm per
  // product) vs decode_linears (the faster of that and our split-K kernel, q/k/v and gate/up in one launch each).
  bf16 *gx = nullptr, *gy = nullptr;
  const int F = c.intermediate_size, QD = Hq * D, KD = Hkv * D;
  cudaMalloc(&gx, size_t(B) * F * 2), cudaMalloc(&gy, size_t(B) * 2 * F * 2);
  fill_normal<<<(B * F + 255) / 256, 256>>>(gx, int64_t(B) * F, 9, 1.0f);
  const auto& L0 = layout.layer(0);
  using P = r1::cuda::DecodeProduct;
  auto bias = [&](int64_t off) { return off >= 0 ? w + off : nullptr; };
  struct Group { const char* name; int I; std::vector<P> products; };
  const Group groups[] = {
      {"qkv", C, {P{w + L0.q_w, bias(L0.q_b), gy, QD}, P{w + L0.k_w, bias(L0.k_b), gy + B * QD, KD},
                  P{w + L0.v_w, bias(L0.v_b), gy + B * (QD + KD), KD}}},
      {"o", QD, {P{w + L0.o_w, nullptr, gy, C}}},
      {"gate|up", C, {P{w + L0.gate_w, nullptr, gy, 2 * F}}},  // one product: up_proj follows gate_proj
      {"down", F, {P{w + L0.down_w, nullptr, gy, C}}}};
  std::printf("  products B=%d (cuBLASLt -> chosen):", B);
  double layer_cublas = 0, layer_ours = 0;
  for (const Group& g : groups) {
    const auto& ps = g.products;
    const double t_cublas = time_cold_ms([&] {
      for (const P& p : ps) r1::cuda::decode_linear(ctx, p.y, gx, p.W, p.bias, B, g.I, p.O);
    });
    r1::cuda::DecodeKernel choice;
    const double t_ours = time_cold_ms([&] {
      choice = ps.size() == 1   ? r1::cuda::decode_linears(ctx, gx, B, g.I, {ps[0]})
               : ps.size() == 2 ? r1::cuda::decode_linears(ctx, gx, B, g.I, {ps[0], ps[1]})
                                : r1::cuda::decode_linears(ctx, gx, B, g.I, {ps[0], ps[1], ps[2]});
    });
    double bytes = 0;
    for (const P& p : ps) bytes += double(g.I) * p.O * 2;
    if (g_candidates) {  // every kernel decode_linears weighs, fastest first
      auto times = r1::cuda::time_decode_kernels(ctx, gx, B, g.I, ps.data(), int(ps.size()));
      std::sort(times.begin(), times.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
      std::printf("\n    %s B=%d:", g.name, B);
      for (size_t i = 0; i < times.size(); i++)
        if (i < 8 || !times[i].first.ours())
          std::printf(" %s %.1f us%s", times[i].first.name().c_str(), 1e3 * times[i].second,
                      i + 1 < times.size() ? "," : "");
      std::printf("\n   ");
      if (g_profile) {  // for `ncu --profile-from-start off`: each kernel once, after its warm-up above
        cudaProfilerStart();
        for (const P& p : ps) r1::cuda::decode_linear(ctx, p.y, gx, p.W, p.bias, B, g.I, p.O);
        int runs = 0;
        for (const auto& [kernel, ms] : times)
          if (kernel.ours() && runs++ < 3) r1::cuda::decode_matmul(ctx, gx, B, g.I, ps.data(), int(ps.size()), kernel);
        cudaProfilerStop();
      }
    }
    layer_cublas += t_cublas, layer_ours += t_ours;
    std::printf(" %s %.1f -> %.1f us (%s, %.0f GB/s)", g.name, 1e3 * t_cublas, 1e3 * t_ours,
                choice.name().c_str(), bytes / (t_ours * 1e-3) / 1e9);
  }
  std::printf("; per layer %.3f -> %.3f ms, x%d = %.3f -> %.3f ms\n", layer_cublas, layer_ours, c.num_hidden_layers,
              layer_cublas * c.num_hidden_layers, layer_ours * c.num_hidden_layers);
  cudaFree(gx), cudaFree(gy);
  const double kv_gb = kv_bytes / 1e9;
  std::printf("  breakdown B=%d: lm_head %.3f ms, sample T=1 %.3f ms, greedy %.3f ms, top_p=0.9 %.3f ms; "
              "attention (L=%d, %d splits) %.3f ms/layer = %.0f GB/s, x%d layers = %.3f ms\n",
              B, t_head, t_t1, t_gr, t_tp, L, plan.splits, t_att, kv_gb / (t_att * 1e-3), c.num_hidden_layers,
              t_att * c.num_hidden_layers);
  std::fflush(stdout);
  cudaFree(logits), cudaFree(x), cudaFree(q), cudaFree(pool), cudaFree(att), cudaFree(dptr), cudaFree(didx);
  cudaFree(dlen), cudaFree(dtok), cudaFree(dlp), cudaFree(dslp), cudaFree(dprm), cudaFree(dgreedy), cudaFree(dtopp);
  cudaFree(du), cudaFree(work);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::vector<int> batches;
    bool breakdown_only = false;  // --breakdown: only the per-op timings (for profilers)
    for (int i = 1; i < argc; i++) {
      if (std::string(argv[i]) == "--breakdown") breakdown_only = true;
      else if (std::string(argv[i]) == "--candidates") g_candidates = true;
      else if (std::string(argv[i]) == "--profile") g_candidates = g_profile = true;
      else batches.push_back(std::atoi(argv[i]));
    }
    if (batches.empty()) batches = {64, 256};
    const r1::ModelConfig c = r1::builtin_model_config("qwen2.5-0.5b");
    const r1::ParamLayout layout(c);
    bf16* w = nullptr;
    R1_CUDA_CHECK("bench", cudaMalloc(&w, size_t(layout.total()) * sizeof(bf16)));
    for (const auto& p : layout.params()) {
      const int64_t n = p.numel();
      const int blocks = int((n + 255) / 256);
      if (p.kind == r1::ParamKind::Norm) fill_const<<<blocks, 256>>>(w + p.offset, n, 1.0f);
      else if (p.kind == r1::ParamKind::Bias) fill_normal<<<blocks, 256>>>(w + p.offset, n, 7 + p.offset, 0.02f);
      else fill_normal<<<blocks, 256>>>(w + p.offset, n, 11 + p.offset, 0.02f);
    }
    R1_CUDA_CHECK("bench", cudaDeviceSynchronize());
    cudaDeviceProp prop{};
    cudaGetDeviceProperties(&prop, 0);
    std::printf("device: %s; model qwen2.5-0.5b shape, %lld params, random bf16 weights\n", prop.name,
                (long long)layout.total());
    std::printf("| engine | batch | graphs | prompt | new | prefill ms | decode ms/step | device ms/step | wall ms/step | mean batch | total s | tokens/s |\n");
    std::printf("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    const int prompt_len = 128, new_tokens = 256;
    for (int B : batches) {
      if (breakdown_only) {
        breakdown(c, w, layout, B);
        continue;
      }
      std::mt19937 rng(1234);
      std::uniform_int_distribution<int> tok(0, c.vocab_size - 1);
      std::vector<r1::gen::GenerationRequest> reqs(static_cast<size_t>(B));
      for (int i = 0; i < B; i++) {
        for (int t = 0; t < prompt_len; t++) reqs[size_t(i)].prompt.push_back(tok(rng));
        reqs[size_t(i)].seed = 1;
        reqs[size_t(i)].first_sample = i;
        reqs[size_t(i)].params.temperature = 1.0f;
        reqs[size_t(i)].params.max_new_tokens = new_tokens;
        reqs[size_t(i)].params.ignore_eos = true;
      }
      r1::gen::EngineOptions opt;
      opt.max_slots = B;
      opt.max_total_tokens = prompt_len + new_tokens;
      opt.max_prefill_tokens = 16384;
      r1::gen::GpuEngine engine(c, w, opt);
      for (bool graphs : {true, false}) {
        engine.set_use_graphs(graphs);
        engine.generate(reqs);  // warm-up: algorithm choice, graph capture
        const auto out = engine.generate(reqs);
        const auto& s = engine.stats();
        // decode: the host's view of decode_step() up to the tokens' arrival; device: events around the step's
        // upload .. download; wall: everything after prefill (first draws, bookkeeping, callbacks) per step.
        const double steps = double(s.decode_steps);
        std::printf("| r1 GpuEngine | %d | %s | %d | %d | %.1f | %.3f | %.3f | %.3f | %.1f | %.3f | %.0f |\n", B,
                    graphs ? "on" : "off", prompt_len, new_tokens, 1e3 * s.prefill_seconds,
                    1e3 * s.decode_seconds / steps, 1e3 * s.decode_device_seconds / steps,
                    1e3 * (s.total_seconds - s.prefill_seconds) / steps, double(s.decode_rows) / steps, s.total_seconds,
                    double(s.generated_tokens) / s.total_seconds);
        std::fflush(stdout);
        if (int64_t(out.size()) != B || out[0].tokens.size() != size_t(new_tokens)) {
          std::printf("ERROR: expected %d completions of %d tokens\n", B, new_tokens);
          return 1;
        }
      }
      std::printf("  stats: %s\n", r1::gen::describe(engine.stats()).c_str());
      breakdown(c, w, layout, B);
    }
    cudaFree(w);
  } catch (const std::exception& e) {
    std::printf("ERROR: %s\n", e.what());
    return 1;
  }
  return 0;
}
