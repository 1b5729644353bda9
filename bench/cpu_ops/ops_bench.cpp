// Throughput of the CPU reference kernels at Qwen2.5-0.5B-like shapes (Hq 14, Hkv 2, D 64, hidden 896):
// packed causal attention forward/backward, the chunked LM head, RMSNorm. Standalone (not built by CMake):
//   g++ -O3 -std=c++20 -fopenmp -Isrc bench/cpu_ops/ops_bench.cpp src/backend/cpu/*.cpp -lopenblas -o ops_bench
//   OMP_NUM_THREADS=8 ./ops_bench [seq_len] [num_seqs]
// GF/s counts 2 flops per multiply-add of the causal half (attention backward: 2.5x the forward; LM head
// backward: 3 products, the recomputed logits included).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "backend/cpu/ops.h"

using namespace r1::cpu;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::vector<float> randn(size_t n, std::mt19937& g, float scale = 1.0f) {
  std::normal_distribution<float> d(0, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  const int L = argc > 1 ? std::atoi(argv[1]) : 512, B = argc > 2 ? std::atoi(argv[2]) : 4;
  const int Hq = 14, Hkv = 2, D = 64, T = L * B;
  std::mt19937 g(1);
  auto q = randn(size_t(T) * Hq * D, g), k = randn(size_t(T) * Hkv * D, g), v = randn(size_t(T) * Hkv * D, g);
  auto dout = randn(size_t(T) * Hq * D, g);
  std::vector<int32_t> cu(B + 1);
  for (int b = 0; b <= B; b++) cu[b] = b * L;
  std::vector<float> out(q.size()), lse(size_t(T) * Hq), dq(q.size()), dk(k.size()), dv(v.size());
  const double flop = double(B) * L * (L + 1) / 2 * Hq * D * 4;
  for (int it = 0; it < 3; it++) {
    const double t0 = now();
    attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), cu.data(), B, T, Hq, Hkv, D);
    const double t1 = now();
    attention_backward(dq.data(), dk.data(), dv.data(), dout.data(), q.data(), k.data(), v.data(), out.data(),
                       lse.data(), cu.data(), B, T, Hq, Hkv, D);
    const double t2 = now();
    std::printf("attention L=%d B=%d  fwd %.3fs (%.1f GF/s)  bwd %.3fs (%.1f GF/s)\n", L, B, t1 - t0,
                flop / (t1 - t0) / 1e9, t2 - t1, 2.5 * flop / (t2 - t1) / 1e9);
  }
  const int TT = 512, C = 896, V = 32000;
  auto x = randn(size_t(TT) * C, g), W = randn(size_t(V) * C, g, 0.03f);
  std::vector<int32_t> targets(TT);
  for (int t = 0; t < TT; t++) targets[t] = (t * 7919) % V;
  std::vector<float> lp(TT), ent(TT), dl(TT, -1.0f / TT), de(TT, 0.01f), dx(x.size()), dW(W.size());
  const double head_flop = 2.0 * TT * C * V;
  for (int it = 0; it < 2; it++) {
    const double t0 = now();
    lm_head_forward(lp.data(), ent.data(), x.data(), W.data(), targets.data(), TT, C, V, 1.0f, 128);
    const double t1 = now();
    lm_head_backward(dx.data(), dW.data(), dl.data(), de.data(), x.data(), W.data(), targets.data(), TT, C, V, 1.0f,
                     128);
    const double t2 = now();
    std::printf("lm_head T=%d V=%d  fwd %.3fs (%.1f GF/s)  bwd %.3fs (%.1f GF/s)\n", TT, V, t1 - t0,
                head_flop / (t1 - t0) / 1e9, t2 - t1, 3 * head_flop / (t2 - t1) / 1e9);
  }
  const int TN = 4096;
  auto xn = randn(size_t(TN) * C, g), wn = randn(C, g), gn = randn(size_t(TN) * C, g);
  std::vector<float> on(xn.size()), rstd(TN), dxn(xn.size()), dwn(C);
  constexpr int kReps = 10;
  const double t0 = now();
  for (int i = 0; i < kReps; i++) rmsnorm_forward(on.data(), rstd.data(), xn.data(), wn.data(), TN, C, 1e-6f);
  const double t1 = now();
  for (int i = 0; i < kReps; i++)
    rmsnorm_backward(dxn.data(), dwn.data(), gn.data(), xn.data(), wn.data(), rstd.data(), TN, C);
  const double t2 = now();
  std::printf("rmsnorm T=%d C=%d  fwd %.2f ms  bwd %.2f ms\n", TN, C, (t1 - t0) * 1e3 / kReps, (t2 - t1) * 1e3 / kReps);
}
