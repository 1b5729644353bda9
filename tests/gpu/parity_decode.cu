// Parity of the GPU decode path against the CPU reference (standalone: needs a GPU; prints a table; exit 1 on
// any failure):
//   kv_write / kv_copy_pages     exact copies into and between pages
//   decode_matmul                our split-K layer products (1-3 sharing x, bias, ragged T) vs a double product
//   paged_decode_attention       vs cpu::paged_attention_decode on the same bf16-representable pools, sequences of
//                                1 .. 1500 tokens over scattered pages, one and several splits, groups of 7/4/16,
//                                16- and 32-token tiles
//   sample_tokens                vs gen::Sampler::sample on the same float logits and uniforms: greedy, T = 1,
//                                T = 0.7, top-k, top-p, both, and rows full of ties; the token must be identical
//   GpuEngine end to end         vs gen::Engine on a small random model whose weights are bf16-representable:
//                                greedy, prompts of different lengths with n > 1, 72 new tokens (ignore_eos):
//                                every GPU token is the CPU model's argmax up to bf16 noise, teacher-forced (the
//                                count of completions identical to the CPU engine's and the first divergence are
//                                reported: a near-tie can go either way). Also sampled (T = 1)
//                                runs: identical Philox streams, so tokens agree until the logits' bf16 rounding
//                                flips a draw (reported, not required).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <stdexcept>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/ops.h"
#include "backend/cpu/paged_attention.h"
#include "backend/cuda/check.h"
#include "backend/cuda/decode_ops.h"
#include "core/dtype.h"
#include "core/sampling_weight.h"
#include "generate/cuda/gpu_engine.h"
#include "generate/engine.h"
#include "generate/sampler.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/transformer.h"

namespace {

using r1::cuda::bf16;
using Vec = std::vector<float>;

int g_failures = 0;

void report(const std::string& name, bool pass, const std::string& detail) {
  std::printf("%-58s %-5s %s\n", name.c_str(), pass ? "PASS" : "FAIL", detail.c_str());
  std::fflush(stdout);
  if (!pass) g_failures++;
}

std::mt19937_64& rng() {
  static std::mt19937_64 g(20260707);
  return g;
}
float round_bf16(float x) { return r1::bf16_to_f32(r1::f32_to_bf16(x)); }
Vec randn(size_t n, float scale) {
  std::normal_distribution<float> d(0.0f, scale);
  Vec v(n);
  for (auto& x : v) x = round_bf16(d(rng()));
  return v;
}

template <typename T>
T* upload(const std::vector<T>& h) {
  T* d = nullptr;
  R1_CUDA_CHECK("parity", cudaMalloc(&d, std::max<size_t>(1, h.size()) * sizeof(T)));
  if (!h.empty()) R1_CUDA_CHECK("parity", cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
  return d;
}
bf16* upload_bf16(const Vec& h) {
  std::vector<uint16_t> b(h.size());
  for (size_t i = 0; i < h.size(); i++) b[i] = r1::f32_to_bf16(h[i]);
  return reinterpret_cast<bf16*>(upload(b));
}
template <typename T>
std::vector<T> download(const T* d, size_t n) {
  std::vector<T> h(n);
  R1_CUDA_CHECK("parity", cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost));
  return h;
}
Vec download_bf16(const bf16* d, size_t n) {
  auto b = download(reinterpret_cast<const uint16_t*>(d), n);
  Vec f(n);
  for (size_t i = 0; i < n; i++) f[i] = r1::bf16_to_f32(b[i]);
  return f;
}

double rel_err(const Vec& a, const Vec& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); i++) {
    if (!std::isfinite(a[i])) return INFINITY;
    num += (double(a[i]) - ref[i]) * (double(a[i]) - ref[i]);
    den += double(ref[i]) * ref[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

// ---------------------------------------------------------------------------------------------------------
void check_kv_ops(r1::cuda::Context& ctx) {
  const int pages = 12, ps = 16, Hkv = 2, D = 64, row = Hkv * D, L = 3, T = 20;
  const int64_t pool_elems = int64_t(pages) * ps * row;
  Vec pools = randn(size_t(2 * L * pool_elems), 1.0f), k = randn(size_t(T) * row, 1.0f), v = randn(size_t(T) * row, 1.0f);
  std::vector<int32_t> slots(static_cast<size_t>(T));
  for (int t = 0; t < T; t++) slots[size_t(t)] = (t * 37 + 5) % (pages * ps);  // distinct slots
  bf16* dp = upload_bf16(pools);
  bf16 *dk = upload_bf16(k), *dv = upload_bf16(v);
  int32_t* ds = upload(slots);
  const int layer = 1;
  r1::cuda::kv_write(ctx, dp + 2 * layer * pool_elems, dp + (2 * layer + 1) * pool_elems, dk, dv, ds, T, row);
  for (int t = 0; t < T; t++)
    for (int c = 0; c < row; c++) {
      pools[size_t(2 * layer * pool_elems + int64_t(slots[size_t(t)]) * row + c)] = k[size_t(t) * row + c];
      pools[size_t((2 * layer + 1) * pool_elems + int64_t(slots[size_t(t)]) * row + c)] = v[size_t(t) * row + c];
    }
  std::vector<int32_t> src{3, 7}, dst{9, 0};
  int32_t *dsrc = upload(src), *ddst = upload(dst);
  r1::cuda::kv_copy_pages(ctx, dp, pool_elems, 2 * L, dsrc, ddst, 2, ps * row);
  for (int p = 0; p < 2 * L; p++)
    for (size_t i = 0; i < src.size(); i++)
      std::copy_n(pools.begin() + p * pool_elems + int64_t(src[i]) * ps * row, ps * row,
                  pools.begin() + p * pool_elems + int64_t(dst[i]) * ps * row);
  const Vec got = download_bf16(dp, pools.size());
  report("kv_write + kv_copy_pages (3 layers, 20 tokens, 2 pages)", got == pools, got == pools ? "exact" : "mismatch");
  cudaFree(dp), cudaFree(dk), cudaFree(dv), cudaFree(ds), cudaFree(dsrc), cudaFree(ddst);
}

// ---------------------------------------------------------------------------------------------------------
// decode_matmul (no kernel given: through decode_linears' measured choice) vs a double-precision product of the same
// bf16 inputs, per product: relative L2 error and max error relative to the largest output (bf16 rounding of
// the output is ~2^-9); a second launch must reproduce the first bit for bit (the cluster adds in rank order).
void check_decode_matmul(r1::cuda::Context& ctx, int T, int I, const std::vector<int>& outs, bool bias,
                         std::optional<r1::cuda::DecodeKernel> kernel) {
  const Vec x = randn(size_t(T) * I, 1.0f);
  bf16* dx = upload_bf16(x);
  std::vector<Vec> W, b;
  std::vector<r1::cuda::DecodeProduct> products;
  for (int O : outs) {
    W.push_back(randn(size_t(O) * I, 1.0f / std::sqrt(float(I))));
    b.push_back(bias ? randn(size_t(O), 0.5f) : Vec());
    bf16* dy = nullptr;
    R1_CUDA_CHECK("parity", cudaMalloc(&dy, size_t(T) * O * 2));
    products.push_back({upload_bf16(W.back()), bias ? upload_bf16(b.back()) : nullptr, dy, O});
  }
  auto launch = [&] {
    if (kernel) {
      r1::cuda::decode_matmul(ctx, dx, T, I, products.data(), int(products.size()), *kernel);
      return *kernel;
    }
    if (products.size() == 1) return r1::cuda::decode_linears(ctx, dx, T, I, {products[0]});
    if (products.size() == 2) return r1::cuda::decode_linears(ctx, dx, T, I, {products[0], products[1]});
    return r1::cuda::decode_linears(ctx, dx, T, I, {products[0], products[1], products[2]});
  };
  const r1::cuda::DecodeKernel used = launch();
  std::vector<Vec> first;
  for (const auto& p : products) first.push_back(download_bf16(p.y, size_t(T) * p.O));
  launch();
  double worst_rel = 0, worst_max = 0;
  bool repeat_equal = true;
  for (size_t p = 0; p < products.size(); p++) {
    const int O = products[p].O;
    Vec ref(size_t(T) * O);
    double ref_max = 0, err_max = 0;
    for (int t = 0; t < T; t++)
      for (int o = 0; o < O; o++) {
        double acc = bias ? b[p][size_t(o)] : 0.0;
        for (int i = 0; i < I; i++) acc += double(x[size_t(t) * I + i]) * W[p][size_t(o) * I + i];
        ref[size_t(t) * O + o] = float(acc);
        ref_max = std::max(ref_max, std::fabs(acc));
      }
    for (size_t i = 0; i < ref.size(); i++) err_max = std::max(err_max, std::fabs(double(first[p][i]) - ref[i]));
    worst_rel = std::max(worst_rel, rel_err(first[p], ref));
    worst_max = std::max(worst_max, err_max / std::max(ref_max, 1e-30));
    repeat_equal = repeat_equal && download_bf16(products[p].y, size_t(T) * O) == first[p];
  }
  std::string shape;
  for (int O : outs) shape += (shape.empty() ? "" : "+") + std::to_string(O);
  char name[160], detail[160];
  std::snprintf(name, sizeof(name), "decode_matmul T=%d I=%d O=%s%s %s", T, I, shape.c_str(), bias ? " +bias" : "",
                kernel ? kernel->name().c_str() : "(measured choice)");
  std::snprintf(detail, sizeof(detail), "rel %.2e, max/|ref| %.2e, repeat %s, used %s", worst_rel, worst_max,
                repeat_equal ? "bitwise" : "DIFFERS", used.name().c_str());
  report(name, worst_rel <= 4e-3 && worst_max <= 8e-3 && repeat_equal, detail);
  cudaFree(dx);
  for (auto& p : products) cudaFree(const_cast<bf16*>(p.W)), cudaFree(const_cast<bf16*>(p.bias)), cudaFree(p.y);
}

// The RoPE + cache-write epilogue of the q/k/v product vs the two kernels it replaces (decode_matmul without it,
// then decode_rope_kv_write): rotated q, and the K/V rows in their (scattered) cache slots. Both round y to bf16
// before rotating with the same formulas; only the compiler's FMA contraction of a * cos - b * sin may differ, so
// the outputs must agree to one bf16 rounding.
void check_qkv_rope(r1::cuda::Context& ctx, int T, const r1::cuda::DecodeKernel& kernel) {
  const int I = 896, Hq = 14, Hkv = 2, D = 64, QD = Hq * D, KD = Hkv * D, max_pos = 512, slots_total = 4 * T + 7;
  const Vec x = randn(size_t(T) * I, 1.0f);
  std::vector<Vec> W{randn(size_t(QD) * I, 0.03f), randn(size_t(KD) * I, 0.03f), randn(size_t(KD) * I, 0.03f)};
  std::vector<Vec> b{randn(size_t(QD), 0.5f), randn(size_t(KD), 0.5f), randn(size_t(KD), 0.5f)};
  Vec cos_t(size_t(max_pos) * D / 2), sin_t(cos_t.size());
  for (size_t i = 0; i < cos_t.size(); i++) cos_t[i] = std::cos(0.37f * float(i)), sin_t[i] = std::sin(0.37f * float(i));
  std::vector<int32_t> pos(static_cast<size_t>(T)), slot(static_cast<size_t>(T)), perm(static_cast<size_t>(slots_total));
  for (int i = 0; i < slots_total; i++) perm[size_t(i)] = i;
  std::shuffle(perm.begin(), perm.end(), rng());
  std::uniform_int_distribution<int> any_pos(0, max_pos - 1);
  for (int t = 0; t < T; t++) pos[size_t(t)] = any_pos(rng()), slot[size_t(t)] = perm[size_t(t)];
  bf16* dx = upload_bf16(x);
  int32_t *dpos = upload(pos), *dslot = upload(slot);
  float *dcos = upload(cos_t), *dsin = upload(sin_t);
  const size_t pool_n = size_t(slots_total) * KD;
  struct Out { bf16 *q, *k, *v, *kp, *vp; } out[2];
  std::vector<r1::cuda::DecodeProduct> products[2];
  for (auto& o : out) {
    for (bf16** ptr : {&o.q, &o.k, &o.v}) R1_CUDA_CHECK("parity", cudaMalloc(ptr, size_t(T) * QD * 2));
    o.kp = upload_bf16(Vec(pool_n, 0.0f)), o.vp = upload_bf16(Vec(pool_n, 0.0f));
  }
  std::vector<bf16*> dW, db;
  for (int i = 0; i < 3; i++) dW.push_back(upload_bf16(W[size_t(i)])), db.push_back(upload_bf16(b[size_t(i)]));
  for (int k = 0; k < 2; k++)
    products[k] = {{dW[0], db[0], out[k].q, QD}, {dW[1], db[1], out[k].k, KD}, {dW[2], db[2], out[k].v, KD}};
  const r1::cuda::DecodeRopeEpilogue rope{dpos, dslot, dcos, dsin, out[0].kp, out[0].vp, Hkv, D};
  r1::cuda::decode_matmul(ctx, dx, T, I, products[0].data(), 3, kernel, &rope);
  r1::cuda::decode_matmul(ctx, dx, T, I, products[1].data(), 3, kernel);
  r1::cuda::decode_rope_kv_write(ctx, out[1].q, out[1].k, out[1].v, out[1].kp, out[1].vp, dpos, dslot, dcos, dsin, T,
                                 Hq, Hkv, D);
  ctx.synchronize("parity qkv rope");
  double worst = 0;
  size_t differ = 0, n = 0;
  auto compare = [&](const bf16* a, const bf16* r, size_t count) {
    const Vec va = download_bf16(a, count), vr = download_bf16(r, count);
    for (size_t i = 0; i < count; i++) {
      const double d = std::fabs(double(va[i]) - vr[i]);
      worst = std::max(worst, d / std::max(std::fabs(double(vr[i])), 1e-3));
      differ += d != 0.0;
    }
    n += count;
  };
  compare(out[0].q, out[1].q, size_t(T) * QD);
  compare(out[0].kp, out[1].kp, pool_n);
  compare(out[0].vp, out[1].vp, pool_n);
  char name[128], detail[160];
  std::snprintf(name, sizeof name, "q/k/v product + RoPE epilogue T=%d %s", T, kernel.name().c_str());
  std::snprintf(detail, sizeof detail, "vs product + decode_rope_kv_write: %zu of %zu values differ, max rel %.2e",
                differ, n, worst);
  report(name, worst <= 8e-3, detail);  // one bf16 rounding (2^-8 relative) at most
  cudaFree(dx), cudaFree(dpos), cudaFree(dslot), cudaFree(dcos), cudaFree(dsin);
  for (auto& o : out) cudaFree(o.q), cudaFree(o.k), cudaFree(o.v), cudaFree(o.kp), cudaFree(o.vp);
  for (int i = 0; i < 3; i++) cudaFree(dW[size_t(i)]), cudaFree(db[size_t(i)]);
}

// ---------------------------------------------------------------------------------------------------------
void check_attention(r1::cuda::Context& ctx, int Hq, int Hkv, int D, const std::vector<int>& lens, int forced_splits,
                     int forced_tile = 0, int forced_stages = 0) {
  const int ps = 16, B = int(lens.size());
  std::vector<int32_t> indptr{0}, indices;
  int pages_total = 0;
  for (int L : lens) pages_total += (L + ps - 1) / ps;
  const int num_pages = pages_total + 7;
  std::vector<int32_t> perm(static_cast<size_t>(num_pages));
  for (int i = 0; i < num_pages; i++) perm[size_t(i)] = i;
  std::shuffle(perm.begin(), perm.end(), rng());  // scattered pages
  int next = 0, max_len = 0;
  for (int L : lens) {
    for (int p = 0; p < (L + ps - 1) / ps; p++) indices.push_back(perm[size_t(next++)]);
    indptr.push_back(int32_t(indices.size()));
    max_len = std::max(max_len, L);
  }
  const size_t pool_n = size_t(num_pages) * ps * Hkv * D;
  const Vec kp = randn(pool_n, 1.0f), vp = randn(pool_n, 1.0f), q = randn(size_t(B) * Hq * D, 1.0f);
  Vec out(size_t(B) * Hq * D), lse(size_t(B) * Hq);
  r1::cpu::paged_attention_decode(out.data(), lse.data(), q.data(), kp.data(), vp.data(), indptr.data(),
                                  indices.data(), lens.data(), B, Hq, Hkv, D, ps);
  bf16 *dk = upload_bf16(kp), *dv = upload_bf16(vp), *dq = upload_bf16(q), *dout = nullptr;
  int32_t *dptr = upload(indptr), *didx = upload(indices), *dlen = upload(std::vector<int32_t>(lens.begin(), lens.end()));
  R1_CUDA_CHECK("parity", cudaMalloc(&dout, out.size() * sizeof(bf16)));
  float* dlse = upload(Vec(lse.size(), NAN));
  auto plan = r1::cuda::plan_decode_attention(B, Hkv, max_len, 132);
  if (forced_splits > 0) {
    plan.split_len = (max_len + forced_splits - 1) / forced_splits;
    plan.splits = (max_len + plan.split_len - 1) / plan.split_len;
  }
  if (forced_tile > 0) plan.tile_tokens = forced_tile;
  if (forced_stages > 0) plan.stages = forced_stages;
  float* work = upload(Vec(size_t(std::max<int64_t>(1, r1::cuda::decode_attention_workspace_floats(B, Hq, D, plan.splits)))));
  r1::cuda::paged_decode_attention(ctx, dout, dlse, dq, dk, dv, dptr, didx, dlen, B, Hq, Hkv, D, ps, plan, work);
  ctx.synchronize("parity attention");
  const double e_out = rel_err(download_bf16(dout, out.size()), out), e_lse = rel_err(download(dlse, lse.size()), lse);
  char name[128], detail[128];
  std::snprintf(name, sizeof name, "paged_decode_attention Hq%d/Hkv%d D%d B%d max %d, %d splits, tile %d, %d stages",
                Hq, Hkv, D, B, max_len, plan.splits, plan.tile_tokens, plan.stages);
  std::snprintf(detail, sizeof detail, "out rel %.2e, lse rel %.2e", e_out, e_lse);
  report(name, e_out <= 1e-2 && e_lse <= 1e-4, detail);
  cudaFree(dk), cudaFree(dv), cudaFree(dq), cudaFree(dout), cudaFree(dptr), cudaFree(didx), cudaFree(dlen);
  cudaFree(dlse), cudaFree(work);
}

// ---------------------------------------------------------------------------------------------------------
// The samplers agree only if core/sampling_weight.h gives the same float on both engines: every d of a dense
// sweep (and the scaled differences (x - max) / T the kernels form), bit for bit.
__global__ void sampling_weight_kernel(float* w, const float* d, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) w[i] = r1::sampling_weight(d[i]);
}
void check_sampling_weight() {
  Vec d;
  for (int i = 0; i < 1 << 20; i++) d.push_back(-90.0f * float(i) / float(1 << 20));
  for (float T : {0.7f, 0.9f, 1.3f})
    for (int i = 0; i < 1 << 16; i++) d.push_back((-20.0f * float(i) / float(1 << 16)) * (1.0f / T));
  const int n = int(d.size());
  float *dd = upload(d), *dw = upload(Vec(d.size(), NAN));
  sampling_weight_kernel<<<(n + 255) / 256, 256>>>(dw, dd, n);
  const Vec w = download(dw, d.size());
  int differ = 0;
  for (int i = 0; i < n; i++) {
    const float ref = r1::sampling_weight(d[size_t(i)]);
    differ += std::memcmp(&w[size_t(i)], &ref, sizeof ref) != 0;
  }
  char detail[96];
  std::snprintf(detail, sizeof detail, "%d of %d weights differ from the CPU's bits", differ, n);
  report("sampling_weight GPU == CPU bitwise", differ == 0, detail);
  cudaFree(dd), cudaFree(dw);
}

struct SampleCase {
  std::string name;
  r1::gen::SamplingParams p;
  int kind;  // 0 gaussian logits, 1 peaked (a few large), 2 heavy ties (few distinct values), 3 all equal
};

// `other`: every third row (r % 3 == 1) samples with these parameters instead, so one call mixes the cluster
// kernel's rows (no top-k / top-p) with the block-per-row kernel's.
void check_sampling(r1::cuda::Context& ctx, int V, int rows, const SampleCase& sc,
                    const r1::gen::SamplingParams* other = nullptr) {
  auto row_params = [&](int r) { return other && r % 3 == 1 ? *other : sc.p; };
  Vec logits(size_t(rows) * V);
  std::normal_distribution<float> n01(0.0f, 1.0f);
  std::uniform_int_distribution<int> pick(0, V - 1), few(0, 5);
  for (int r = 0; r < rows; r++) {
    float* z = logits.data() + size_t(r) * V;
    for (int v = 0; v < V; v++) {
      switch (sc.kind) {
        case 0: z[v] = 2.0f * n01(rng()); break;
        case 1: z[v] = n01(rng()); break;
        case 2: z[v] = float(few(rng())) * 0.5f; break;
        default: z[v] = 1.25f; break;
      }
    }
    if (sc.kind == 1)
      for (int i = 0; i < 5; i++) z[pick(rng())] = 12.0f + float(i);
    if (sc.kind == 0 && r % 3 == 0) z[pick(rng())] = -INFINITY;  // masked tokens are legal
  }
  std::vector<double> u(static_cast<size_t>(rows));
  for (int r = 0; r < rows; r++) u[size_t(r)] = r1::gen::sampling_uniform(7, uint64_t(r), uint64_t(r % 5));
  std::vector<r1::cuda::RowSampling> params;
  for (int r = 0; r < rows; r++) {
    const r1::gen::SamplingParams q = row_params(r);
    params.push_back(r1::cuda::RowSampling{q.temperature, q.top_k, q.top_p, 0});
  }
  float* dl = upload(logits);
  r1::cuda::RowSampling* dp = upload(params);
  double* du = upload(u);
  int32_t* dt = upload(std::vector<int32_t>(size_t(rows), -7));
  float *dlp = upload(Vec(size_t(rows), NAN)), *dslp = upload(Vec(size_t(rows), NAN));
  r1::cuda::sample_tokens(ctx, dt, dlp, dslp, dl, nullptr, dp, du, rows, V);
  ctx.synchronize("parity sampling");
  const auto tok = download(dt, size_t(rows));
  const Vec lp = download(dlp, size_t(rows)), slp = download(dslp, size_t(rows));
  r1::gen::Sampler sampler;
  int same = 0;
  double max_dlp = 0, max_dslp = 0;
  for (int r = 0; r < rows; r++) {
    const auto ref = sampler.sample(logits.data() + size_t(r) * V, V, row_params(r), u[size_t(r)]);
    if (ref.token == tok[size_t(r)]) {
      same++;
      max_dlp = std::max(max_dlp, double(std::fabs(ref.logprob - lp[size_t(r)])));
      max_dslp = std::max(max_dslp, double(std::fabs(ref.sampling_logprob - slp[size_t(r)])));
    }
  }
  char name[128], detail[160];
  std::snprintf(name, sizeof name, "sample_tokens V%d x%d %s%s", V, rows, sc.name.c_str(),
                other ? " (every 3rd row other params)" : "");
  std::snprintf(detail, sizeof detail, "tokens %d/%d identical, |dlogprob| %.1e, |dsampling_logprob| %.1e", same, rows,
                max_dlp, max_dslp);
  report(name, same == rows && max_dlp <= 1e-4 && max_dslp <= 1e-4, detail);
  cudaFree(dl), cudaFree(dp), cudaFree(du), cudaFree(dt), cudaFree(dlp), cudaFree(dslp);
}

// Teacher-forced check of greedy completions: the CPU float32 model reads each prompt + completion in one
// forward, and every completion token must be its argmax at that position up to `margin` in logit. A bf16
// engine can take a near-tie the other way (and then continue a different, equally valid sequence), so token
// equality with the CPU engine is luck that changes with the GEMM algorithms the tuner picks; a token below the
// argmax by more than bf16 noise is a bug. Returns the largest (max logit - logit of the chosen token).
double worst_greedy_margin(r1::Transformer& model, const r1::ModelConfig& c, const r1::ParamLayout& layout,
                           const std::vector<r1::gen::GenerationRequest>& reqs,
                           const std::vector<r1::gen::Completion>& completions) {
  double worst = 0;
  const int C = c.hidden_size, V = c.vocab_size;
  const float* W = model.params() + layout.lm_head;
  for (const auto& cpl : completions) {
    const auto& prompt = reqs[size_t(cpl.request_index)].prompt;
    std::vector<int32_t> seq = prompt;
    seq.insert(seq.end(), cpl.tokens.begin(), cpl.tokens.end());
    r1::PackedBatch batch;
    batch.add_sequence(seq);
    model.reserve(batch.num_tokens());
    model.forward(batch);
    // Logits of the positions that predicted the completion's tokens: the last prompt token's onwards.
    const int n = int(cpl.tokens.size());
    std::vector<float> logits(size_t(n) * V);
    r1::cpu::lm_head_logits(logits.data(), model.hidden() + (prompt.size() - 1) * size_t(C), W, n, C, V);
    for (int k = 0; k < n; k++) {
      const float* z = logits.data() + size_t(k) * V;
      worst = std::max(worst, double(*std::max_element(z, z + V)) - z[cpl.tokens[size_t(k)]]);
    }
  }
  return worst;
}

// ---------------------------------------------------------------------------------------------------------
// mode: greedy, sampled (T = 1), or stops: greedy with the ways a completion can end before max_new_tokens —
// EOS ids (the engine's), a request's stop_token_ids and stop strings over a detokenizer — picked from tokens the
// greedy run produces mid-completion, plus the streaming callbacks; every early ending (tokens, reason, text) and
// the callback counts must equal the CPU engine's, and completions that run to the limit must agree on >= 64
// tokens.
enum class EngineMode { Greedy, Sampled, Stops };
void check_engine(EngineMode mode) {
  const bool sampled = mode == EngineMode::Sampled;
  r1::ModelConfig c = r1::builtin_model_config("small");
  c.vocab_size = 1000;
  c.hidden_size = 256;
  c.num_hidden_layers = 4;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 64;
  c.intermediate_size = 512;
  c.max_position_embeddings = 512;
  c.eos_token_ids = {0};
  r1::Transformer model(c);
  const r1::ParamLayout layout(c);
  r1::init_params(c, layout, model.params(), 42);
  // Non-zero biases exercise the bias epilogue; every weight bf16-representable, so both engines hold the
  // same model.
  std::normal_distribution<float> nb(0.0f, 0.02f);
  for (const auto& p : layout.params())
    if (p.kind == r1::ParamKind::Bias)
      for (int64_t i = 0; i < p.numel(); i++) model.params()[p.offset + i] = nb(rng());
  for (int64_t i = 0; i < layout.total(); i++) model.params()[i] = round_bf16(model.params()[i]);
  bf16* dw = upload_bf16(Vec(model.params(), model.params() + layout.total()));

  std::vector<r1::gen::GenerationRequest> reqs;
  const int lens[] = {5, 16, 17, 40, 77};
  const int ns[] = {2, 3, 1, 4, 2};
  std::uniform_int_distribution<int> tok(1, c.vocab_size - 1);
  for (int i = 0; i < 5; i++) {
    r1::gen::GenerationRequest q;
    for (int t = 0; t < lens[i]; t++) q.prompt.push_back(tok(rng()));
    q.n = ns[i];
    q.seed = 100 + uint64_t(i);
    q.params.max_new_tokens = 72;
    q.params.ignore_eos = true;
    q.params.temperature = sampled ? 1.0f : 0.0f;
    reqs.push_back(q);
  }
  r1::gen::EngineOptions opt;
  opt.max_slots = 6;  // fewer slots than samples: continuous batching and slot reuse
  opt.page_size = 16;
  r1::gen::EngineCallbacks cpu_cb, gpu_cb;
  int cpu_tokens = 0, cpu_done = 0, gpu_tokens = 0, gpu_done = 0;
  if (mode == EngineMode::Stops) {
    // Endings taken from the greedy completions themselves, so that each one fires partway through.
    const auto free_run = r1::gen::Engine(model, opt).generate(reqs);
    auto first_sample = [&](int request) -> const std::vector<int32_t>& {
      for (const auto& cpl : free_run)
        if (cpl.request_index == request) return cpl.tokens;
      throw std::runtime_error("no completion of request " + std::to_string(request));
    };
    opt.eos_token_ids = {first_sample(2)[20]};
    reqs[2].params.ignore_eos = false;  // the others keep ignoring EOS: stop ids and strings must end them
    reqs[3].params.stop_token_ids = {first_sample(3)[30]};
    const auto& s4 = first_sample(4);
    reqs[4].params.stop = {"t" + std::to_string(s4[40]) + " t" + std::to_string(s4[41])};
    for (auto* cb : {&cpu_cb, &gpu_cb}) {
      cb->detokenize = [](const std::vector<int32_t>& ids) {
        std::string text;
        for (int32_t id : ids) text += "t" + std::to_string(id) + " ";
        return text;
      };
    }
    cpu_cb.on_token = [&](const r1::gen::Completion&, int32_t) { cpu_tokens++; };
    cpu_cb.on_complete = [&](const r1::gen::Completion&) { cpu_done++; };
    gpu_cb.on_token = [&](const r1::gen::Completion&, int32_t) { gpu_tokens++; };
    gpu_cb.on_complete = [&](const r1::gen::Completion&) { gpu_done++; };
  }
  r1::gen::Engine cpu(model, opt);
  const auto ref = cpu.generate(reqs, cpu_cb);
  r1::gen::GpuEngine gpu(c, dw, opt);
  const auto got = gpu.generate(reqs, gpu_cb);
  const auto again = gpu.generate(reqs, gpu_cb);  // second call: CUDA graphs replayed, must reproduce the first

  int identical = 0, total = int(ref.size()), first_div = INT32_MAX, compared = 0;
  bool endings_ok = true;
  double max_dlp = 0;
  bool repro = got.size() == again.size();
  for (size_t i = 0; i < ref.size() && i < got.size(); i++) {
    const auto &a = ref[i], &b = got[i];
    repro = repro && b.tokens == again[i].tokens;
    size_t k = 0;
    while (k < a.tokens.size() && k < b.tokens.size() && a.tokens[k] == b.tokens[k]) {
      max_dlp = std::max(max_dlp, double(std::fabs(a.logprobs[k] - b.logprobs[k])));
      k++;
    }
    compared += int(k);
    const bool same = a.tokens == b.tokens && a.finish_reason == b.finish_reason && a.text == b.text;
    if (same) identical++;
    else first_div = std::min(first_div, int(k));
    // An early ending (eos / stop) reached by identical tokens must be reproduced exactly (same reason, same
    // text); a completion may part earlier at a near-tie (checked teacher-forced below), and then its ending
    // cannot be compared.
    if (a.finish_reason != "length" && k >= a.tokens.size()) endings_ok = endings_ok && same;
  }
  std::string endings;
  bool callbacks_equal = true;
  if (mode == EngineMode::Stops) {
    std::map<std::string, int> reasons;
    for (const auto& cpl : ref) reasons[cpl.finish_reason]++;
    for (const auto& [reason, count] : reasons) endings += " " + reason + " x" + std::to_string(count);
    // The GPU engine ran twice with the same callbacks (token counts equal while the lengths are).
    callbacks_equal = gpu_done == 2 * cpu_done && cpu_done == total &&
                      (identical != total || gpu_tokens == 2 * cpu_tokens);
    endings += ", callbacks " + std::to_string(cpu_tokens) + " tokens / " + std::to_string(cpu_done) + " done" +
               (callbacks_equal ? " (equal)" : " (GPU " + std::to_string(gpu_tokens / 2) + " / " +
                                                      std::to_string(gpu_done / 2) + ")");
    // All three endings must have fired, or the check proves nothing.
    callbacks_equal = callbacks_equal && reasons.count("eos") && reasons.count("stop") && reasons.count("length");
  }
  char name[128], detail[480];
  std::snprintf(name, sizeof name, "GpuEngine vs Engine, %s, 5 prompts, 12 samples, 72 tokens",
                mode == EngineMode::Sampled ? "sampled T=1" : mode == EngineMode::Greedy ? "greedy" : "greedy + EOS/stops");
  std::snprintf(detail, sizeof detail, "%d/%d completions identical%s, first divergence at token %s, |dlogprob| %.1e, "
                "graph replay %s;%s", identical, total, sampled ? " (informative)" : "",
                first_div == INT32_MAX ? "none" : std::to_string(first_div).c_str(), max_dlp,
                repro ? "reproduces" : "DIFFERS", endings.c_str());
  // Greedy: every GPU token is the CPU model's choice up to bf16 noise (teacher-forced), and the CPU engine's
  // own tokens pass the same check with float32 rounding only (a check of the check). Sampled runs only have to
  // reproduce themselves (bf16 logits may flip a draw).
  bool tokens_ok = true;
  if (mode != EngineMode::Sampled) {
    constexpr double kMargin = 3e-2;  // logit; the engines' log-probs differ by <= ~6e-3
    const double gpu_margin = worst_greedy_margin(model, c, layout, reqs, got);
    const double cpu_margin = worst_greedy_margin(model, c, layout, reqs, ref);
    tokens_ok = gpu_margin <= kMargin && cpu_margin <= 1e-4 && (mode == EngineMode::Greedy || endings_ok);
    std::snprintf(detail + std::strlen(detail), sizeof detail - std::strlen(detail),
                  " teacher-forced: GPU tokens within %.1e of the CPU argmax (<= %.0e), CPU's within %.1e", gpu_margin,
                  kMargin, cpu_margin);
  }
  report(name, tokens_ok && repro && total == int(got.size()) && callbacks_equal, detail);
  std::printf("  gpu stats: %s\n", r1::gen::describe(gpu.stats()).c_str());
  cudaFree(dw);
}

}  // namespace

int main() {
  try {
    r1::cuda::Context ctx;
    check_kv_ops(ctx);
    using K = r1::cuda::DecodeKernel;
    check_decode_matmul(ctx, 1, 896, {896, 128, 128}, true, K::mma(1));
    check_decode_matmul(ctx, 1, 896, {896, 128, 128}, true, K::mma(4));
    check_decode_matmul(ctx, 64, 896, {896, 128, 128}, true, K::mma(3));
    check_decode_matmul(ctx, 200, 256, {192}, false, K::mma(2));
    check_decode_matmul(ctx, 256, 4864, {896}, false, K::mma(8));
    check_decode_matmul(ctx, 130, 896, {4864, 4864}, false, K::mma(1));
    if (r1::cuda::decode_wgmma_available()) {
      check_decode_matmul(ctx, 1, 896, {896, 128, 128}, true, K::warpgroup(64, 64, 1));
      check_decode_matmul(ctx, 64, 896, {896, 128, 128}, true, K::warpgroup(128, 64, 6));
      check_decode_matmul(ctx, 256, 896, {896, 128, 128}, true, K::warpgroup(128, 256, 4));
      check_decode_matmul(ctx, 200, 256, {192}, false, K::warpgroup(64, 128, 2));
      check_decode_matmul(ctx, 256, 4864, {896}, false, K::warpgroup(128, 256, 8));
      check_decode_matmul(ctx, 130, 896, {4864, 4864}, false, K::warpgroup(64, 256, 3));
      check_decode_matmul(ctx, 300, 896, {896}, false, K::warpgroup(128, 128, 1));
      check_decode_matmul(ctx, 77, 4864, {896}, false, K::warpgroup(64, 128, 8));
    }
    check_decode_matmul(ctx, 256, 896, {896, 128, 128}, true, std::nullopt);
    check_decode_matmul(ctx, 256, 4864, {896}, false, std::nullopt);
    check_decode_matmul(ctx, 64, 896, {9728}, false, std::nullopt);
    check_qkv_rope(ctx, 1, K::mma(1));
    check_qkv_rope(ctx, 64, K::mma(3));
    check_qkv_rope(ctx, 200, K::mma(4));
    if (r1::cuda::decode_wgmma_available()) {
      check_qkv_rope(ctx, 64, K::warpgroup(64, 64, 3));
      check_qkv_rope(ctx, 200, K::warpgroup(128, 256, 4));
    }
    check_attention(ctx, 14, 2, 64, {1, 15, 16, 17, 100, 300, 1000}, 0);
    check_attention(ctx, 14, 2, 64, {1, 15, 16, 17, 100, 300, 1000}, 5);
    check_attention(ctx, 8, 2, 128, {3, 64, 65, 257, 1500}, 0);
    check_attention(ctx, 16, 1, 64, {7, 33, 129, 600}, 3);
    check_attention(ctx, 14, 2, 64, std::vector<int>(256, 200), 0);  // the plan's 16-token tiles
    check_attention(ctx, 14, 2, 64, {1, 15, 16, 17, 100, 300, 1000}, 5, 16);
    check_attention(ctx, 8, 2, 128, {3, 64, 65, 257, 1500}, 0, 16);
    check_attention(ctx, 16, 1, 64, {7, 33, 129, 600}, 1, 16);
    for (int tile : {16, 32}) {  // 3 stages (the plans above take 2 unless they say otherwise)
      check_attention(ctx, 14, 2, 64, {1, 15, 16, 17, 100, 300, 1000}, 0, tile, 3);
      check_attention(ctx, 14, 2, 64, {1, 15, 16, 17, 100, 300, 1000}, 5, tile, 3);
      check_attention(ctx, 8, 2, 128, {3, 64, 65, 257, 1500}, 0, tile, 3);
      check_attention(ctx, 16, 1, 64, {7, 33, 129, 600}, 3, tile, 3);
    }
    check_attention(ctx, 14, 2, 64, {1, 15, 16, 17, 100, 300, 1000}, 0, 16, 2);

    r1::gen::SamplingParams greedy, t1, t07, topk, topp, both;
    greedy.temperature = 0.0f;
    t07.temperature = 0.7f;
    topk.top_k = 50;
    topp.top_p = 0.9f;
    both.top_k = 200, both.top_p = 0.8f, both.temperature = 0.9f;
    const std::vector<SampleCase> cases = {
        {"greedy", greedy, 0}, {"T=1", t1, 0},          {"T=0.7", t07, 0},       {"top_k=50", topk, 0},
        {"top_p=0.9", topp, 0}, {"top_k=200 top_p=0.8 T=0.9", both, 0}, {"T=1 peaked", t1, 1},
        {"top_p=0.9 peaked", topp, 1}, {"T=1 ties", t1, 2}, {"top_k=50 ties", topk, 2},
        {"top_p=0.9 ties", topp, 2}, {"T=1 all equal", t1, 3}, {"greedy all equal", greedy, 3}};
    check_sampling_weight();
    for (const auto& sc : cases) check_sampling(ctx, 151936, 64, sc);
    for (const auto& sc : cases) check_sampling(ctx, 1000, 256, sc);
    // Both sampling kernels in one launch; and a vocabulary that does not split into 16-byte parts (V % 4 != 0:
    // the block-per-row kernel draws every row).
    check_sampling(ctx, 151936, 64, cases[1], &topp);
    check_sampling(ctx, 151936, 64, cases[9], &t07);
    check_sampling(ctx, 1001, 64, cases[1]);
    check_sampling(ctx, 1001, 64, cases[0], &both);

    check_engine(EngineMode::Greedy);
    check_engine(EngineMode::Sampled);
    check_engine(EngineMode::Stops);
  } catch (const std::exception& e) {
    std::printf("ERROR: %s\n", e.what());
    return 1;
  }
  std::printf("%s: %d failure(s)\n", g_failures ? "FAIL" : "PASS", g_failures);
  return g_failures ? 1 : 0;
}
