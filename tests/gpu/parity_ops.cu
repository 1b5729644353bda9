// Parity and timing of every CUDA op against the float32 CPU reference (backend/cpu/ops.h, backend/cpu/optimizer.h).
// Standalone (not part of ctest: it needs a GPU). For every op, fresh random inputs are rounded to bf16 so both
// backends see identical values; GPU outputs are poisoned with NaN before each run; gradients are pre-filled
// with random values on the GPU to check the accumulate (+=) convention, and the increment is compared:
//   rel = ||cuda - cpu|| / ||cpu||,  PASS when rel <= 1e-2 and no NaN/Inf.
// Then every op is timed at Qwen2.5-0.5B shapes (bs 8 x 1024 tokens): cudaEvent, warm-up, median of N.
//
// Build (the lead's CMakeLists, inside `if(R1_WITH_CUDA)` after r1_cuda):
//   add_executable(parity_ops tests/gpu/parity_ops.cu)
//   target_link_libraries(parity_ops PRIVATE r1_cuda r1_train)
// Run on the GPU machine: bench/cuda/run_parity.sh [build dir] [--check-only | --bench-only] [--iters N]
// Exit status: 0 when every check passes, 1 otherwise.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/ops.h"
#include "backend/cuda/attention_wgmma.h"
#include "backend/cuda/check.h"
#include "backend/cuda/device_buffer.h"
#include "backend/cuda/ops.h"
#include "core/dtype.h"
#include "backend/cpu/optimizer.h"

namespace {

using r1::cuda::bf16;
using r1::cuda::Context;
using Vec = std::vector<float>;

constexpr double kTolerance = 1e-2;

// ---------------------------------------------------------------------------------------------------------
// host data

std::mt19937_64& rng() {
  static std::mt19937_64 g(1234);
  return g;
}

float round_bf16(float x) { return r1::bf16_to_f32(r1::f32_to_bf16(x)); }

// Normal(mean, scale) values, rounded to bf16 when `bf16` so both backends read exactly the same inputs.
Vec randn(size_t n, float scale = 1.0f, bool bf16 = true, float mean = 0.0f) {
  std::normal_distribution<float> d(mean, scale);
  Vec v(n);
  for (auto& x : v) x = bf16 ? round_bf16(d(rng())) : d(rng());
  return v;
}

std::vector<int32_t> randint(size_t n, int lo, int hi) {
  std::uniform_int_distribution<int> d(lo, hi - 1);
  std::vector<int32_t> v(n);
  for (auto& x : v) x = d(rng());
  return v;
}

double rms(const Vec& v) {
  double s = 0;
  for (float x : v) s += double(x) * x;
  return v.empty() ? 0.0 : std::sqrt(s / double(v.size()));
}

// ---------------------------------------------------------------------------------------------------------
// device buffers

template <typename T>
struct Dev {
  T* p = nullptr;
  size_t n = 0;
  explicit Dev(size_t count) : n(count) { R1_CUDA_CHECK("parity", cudaMalloc(&p, std::max<size_t>(1, n) * sizeof(T))); }
  ~Dev() { cudaFree(p); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  void poison() { R1_CUDA_CHECK("parity", cudaMemset(p, 0xff, n * sizeof(T))); }  // NaN in bf16 and float32
  void zero() { R1_CUDA_CHECK("parity", cudaMemset(p, 0, n * sizeof(T))); }
};

Dev<bf16>* new_bf16(const Vec& h) {
  auto* d = new Dev<bf16>(h.size());
  std::vector<uint16_t> bits(h.size());
  for (size_t i = 0; i < h.size(); i++) bits[i] = r1::f32_to_bf16(h[i]);
  R1_CUDA_CHECK("parity", cudaMemcpy(d->p, bits.data(), bits.size() * 2, cudaMemcpyHostToDevice));
  return d;
}
template <typename T>
Dev<T>* new_plain(const std::vector<T>& h) {
  auto* d = new Dev<T>(h.size());
  R1_CUDA_CHECK("parity", cudaMemcpy(d->p, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
  return d;
}
Vec download(const Dev<bf16>& d) {
  std::vector<uint16_t> bits(d.n);
  R1_CUDA_CHECK("parity", cudaMemcpy(bits.data(), d.p, d.n * 2, cudaMemcpyDeviceToHost));
  Vec v(d.n);
  for (size_t i = 0; i < d.n; i++) v[i] = r1::bf16_to_f32(bits[i]);
  return v;
}
Vec download(const Dev<float>& d) {
  Vec v(d.n);
  R1_CUDA_CHECK("parity", cudaMemcpy(v.data(), d.p, d.n * 4, cudaMemcpyDeviceToHost));
  return v;
}

// Owning handles (unique_ptr keeps the checks short and frees on every path).
using B16 = std::unique_ptr<Dev<bf16>>;
using F32 = std::unique_ptr<Dev<float>>;
using I32 = std::unique_ptr<Dev<int32_t>>;
B16 up_bf16(const Vec& h) { return B16(new_bf16(h)); }
F32 up_f32(const Vec& h) { return F32(new_plain(h)); }
I32 up_i32(const std::vector<int32_t>& h) { return I32(new_plain(h)); }
B16 poisoned_bf16(size_t n) {
  B16 d(new Dev<bf16>(n));
  d->poison();
  return d;
}
F32 poisoned_f32(size_t n) {
  F32 d(new Dev<float>(n));
  d->poison();
  return d;
}

// A gradient buffer for the accumulate check: the GPU buffer starts from a random prefill (about half the
// size of the expected increment), and the increment it gains is compared with the CPU's (which started at 0).
template <typename T>
struct Grad {
  Vec prefill;
  std::unique_ptr<Dev<T>> dev;
  Grad(size_t n, double scale) {
    prefill = randn(n, float(std::max(scale, 1e-6)) * 0.5f, std::is_same_v<T, bf16>);
    if constexpr (std::is_same_v<T, bf16>)
      dev.reset(new_bf16(prefill));
    else
      dev.reset(new_plain(prefill));
  }
  T* p() { return dev->p; }
  Vec increment() const {
    Vec v = download(*dev);
    for (size_t i = 0; i < v.size(); i++) v[i] -= prefill[i];
    return v;
  }
};

// ---------------------------------------------------------------------------------------------------------
// the report

struct Row {
  std::string op, tensor;
  double rel;
  bool finite;
};
std::vector<Row> g_rows;

void compare(const std::string& op, const std::string& tensor, const Vec& gpu, const Vec& cpu) {
  double num = 0, den = 0;
  bool finite = gpu.size() == cpu.size();
  for (size_t i = 0; i < std::min(gpu.size(), cpu.size()); i++) {
    if (!std::isfinite(gpu[i])) finite = false;
    const double d = double(gpu[i]) - cpu[i];
    num += d * d;
    den += double(cpu[i]) * cpu[i];
  }
  const double rel = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  g_rows.push_back({op, tensor, rel, finite});
}

// Two GPU results that must agree bit for bit: reported as 0 when they do, 1 (a failure) when not.
void compare_bitwise(const std::string& op, const std::string& tensor, const Vec& a, const Vec& b) {
  const bool same = a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(float) * a.size()) == 0;
  g_rows.push_back({op, tensor, same ? 0.0 : 1.0, true});
}

struct Timing {
  std::string op, shape;
  double ms;
  std::string rate;
};
std::vector<Timing> g_timings;

// Median over `iters` timed runs of fn (after 3 warm-ups), each bracketed by cudaEvents on the Context stream.
double time_ms(Context& ctx, int iters, const std::function<void()>& fn) {
  for (int i = 0; i < 3; i++) fn();
  cudaEvent_t a, b;
  R1_CUDA_CHECK("parity", cudaEventCreate(&a));
  R1_CUDA_CHECK("parity", cudaEventCreate(&b));
  std::vector<float> ms(size_t(std::max(1, iters)));
  for (auto& m : ms) {
    R1_CUDA_CHECK("parity", cudaEventRecord(a, ctx.stream()));
    fn();
    R1_CUDA_CHECK("parity", cudaEventRecord(b, ctx.stream()));
    R1_CUDA_CHECK("parity", cudaEventSynchronize(b));
    R1_CUDA_CHECK("parity", cudaEventElapsedTime(&m, a, b));
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

std::string tflops(double flop, double ms) {
  char s[64];
  std::snprintf(s, sizeof s, "%.1f TFLOP/s", flop / (ms * 1e-3) / 1e12);
  return s;
}
std::string gbps(double bytes, double ms) {
  char s[64];
  std::snprintf(s, sizeof s, "%.0f GB/s", bytes / (ms * 1e-3) / 1e9);
  return s;
}

// ---------------------------------------------------------------------------------------------------------
// parity checks, one per op family

void check_conversions(Context& ctx) {
  const size_t n = 100003;
  const Vec x = randn(n, 3.0f, false);
  F32 dx = up_f32(x);
  B16 db = poisoned_bf16(n);
  r1::cuda::f32_to_bf16(ctx, db->p, dx->p, int64_t(n));
  Vec ref(n);
  for (size_t i = 0; i < n; i++) ref[i] = round_bf16(x[i]);
  compare("f32_to_bf16", "dst", download(*db), ref);
  F32 back = poisoned_f32(n);
  r1::cuda::bf16_to_f32(ctx, back->p, db->p, int64_t(n));
  compare("bf16_to_f32", "dst", download(*back), ref);
}

void check_embedding(Context& ctx) {
  const int T = 777, C = 896, V = 5000;
  std::vector<int32_t> ids = randint(T, 0, V);
  for (int t = 0; t < T; t += 3) ids[t] = t % 7;  // many repeated ids: the backward must sum them
  const Vec table = randn(size_t(V) * C), dout = randn(size_t(T) * C);
  Vec out(size_t(T) * C), dtable(size_t(V) * C, 0.0f);
  r1::cpu::embedding_forward(out.data(), ids.data(), table.data(), T, C);
  r1::cpu::embedding_backward(dtable.data(), dout.data(), ids.data(), T, C);

  I32 d_ids = up_i32(ids);
  B16 d_table = up_bf16(table), d_dout = up_bf16(dout), d_out = poisoned_bf16(out.size());
  Grad<float> g_table(dtable.size(), rms(dtable));
  r1::cuda::embedding_forward(ctx, d_out->p, d_ids->p, d_table->p, T, C);
  r1::cuda::embedding_backward(ctx, g_table.p(), d_dout->p, d_ids->p, T, C);
  compare("embedding_forward", "out", download(*d_out), out);
  compare("embedding_backward", "dtable", g_table.increment(), dtable);
}

// C % 8 == 0 runs the backward's 16-byte kernel, other widths the scalar one.
void check_rmsnorm(Context& ctx, int T, int C) {
  const std::string op = " C" + std::to_string(C);
  const float eps = 1e-6f;
  const Vec x = randn(size_t(T) * C, 2.0f), w = randn(C, 0.1f, true, 1.0f), dout = randn(size_t(T) * C);
  Vec out(x.size()), rstd(T), dx(x.size(), 0.0f), dw(C, 0.0f);
  r1::cpu::rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), T, C, eps);
  r1::cpu::rmsnorm_backward(dx.data(), dw.data(), dout.data(), x.data(), w.data(), rstd.data(), T, C);

  B16 d_x = up_bf16(x), d_w = up_bf16(w), d_dout = up_bf16(dout), d_out = poisoned_bf16(out.size());
  F32 d_rstd = poisoned_f32(T);
  Grad<bf16> g_dx(dx.size(), rms(dx));
  Grad<float> g_dw(dw.size(), rms(dw));
  r1::cuda::rmsnorm_forward(ctx, d_out->p, d_rstd->p, d_x->p, d_w->p, T, C, eps);
  // The backward reads the GPU's own rstd, as training does.
  r1::cuda::rmsnorm_backward(ctx, g_dx.p(), g_dw.p(), d_dout->p, d_x->p, d_w->p, d_rstd->p, T, C);
  compare("rmsnorm_forward" + op, "out", download(*d_out), out);
  compare("rmsnorm_forward" + op, "rstd", download(*d_rstd), rstd);
  compare("rmsnorm_backward" + op, "dx", g_dx.increment(), dx);
  compare("rmsnorm_backward" + op, "dweight", g_dw.increment(), dw);
}

void check_linear(Context& ctx, int T, int I, int O, bool bias, bool with_dx) {
  const std::string op = "linear " + std::to_string(I) + "->" + std::to_string(O) + (bias ? " +b" : "") +
                         (with_dx ? "" : " (no dx)");
  const Vec x = randn(size_t(T) * I), W = randn(size_t(O) * I, 0.03f), b = randn(O, 0.1f),
            dy = randn(size_t(T) * O);
  Vec y(size_t(T) * O), dx(x.size(), 0.0f), dW(W.size(), 0.0f), db(O, 0.0f);
  r1::cpu::linear_forward(y.data(), x.data(), W.data(), bias ? b.data() : nullptr, T, I, O);
  r1::cpu::linear_backward(dx.data(), dW.data(), bias ? db.data() : nullptr, dy.data(), x.data(), W.data(), T, I, O);

  B16 d_x = up_bf16(x), d_W = up_bf16(W), d_b = up_bf16(b), d_dy = up_bf16(dy), d_y = poisoned_bf16(y.size());
  Grad<bf16> g_dx(dx.size(), rms(dx));
  Grad<float> g_dW(dW.size(), rms(dW)), g_db(O, rms(db));
  r1::cuda::linear_forward(ctx, d_y->p, d_x->p, d_W->p, bias ? d_b->p : nullptr, T, I, O);
  r1::cuda::linear_backward(ctx, with_dx ? g_dx.p() : nullptr, g_dW.p(), bias ? g_db.p() : nullptr, d_dy->p, d_x->p,
                            d_W->p, T, I, O);
  compare(op, "y", download(*d_y), y);
  if (with_dx) compare(op, "dx", g_dx.increment(), dx);
  if (!with_dx) compare(op, "dx untouched", g_dx.increment(), Vec(dx.size(), 0.0f));
  compare(op, "dW", g_dW.increment(), dW);
  if (bias) compare(op, "db", g_db.increment(), db);
  {  // the residual form: y = r + x W^T + b, the residual added in the product's epilogue
    const Vec r = randn(y.size());
    B16 d_r = up_bf16(r), d_yr = poisoned_bf16(y.size());
    r1::cuda::linear_forward_residual(ctx, d_yr->p, d_r->p, d_x->p, d_W->p, bias ? d_b->p : nullptr, T, I, O);
    Vec yr(y.size());
    for (size_t i = 0; i < y.size(); i++) yr[i] = y[i] + round_bf16(r[i]);
    compare(op, "y (+ residual)", download(*d_yr), yr);
  }
  if (with_dx) {  // written, not added: the CPU's dx whatever the buffer held
    Grad<bf16> w_dx(dx.size(), rms(dx));
    Grad<float> w_dW(dW.size(), rms(dW));
    r1::cuda::linear_backward(ctx, w_dx.p(), w_dW.p(), nullptr, d_dy->p, d_x->p, d_W->p, T, I, O, false);
    compare(op, "dx (written)", download(*w_dx.dev), dx);
  }
}

// Packed sequence layout: cu_seqlens and each token's position within its own sequence.
void pack(const std::vector<int>& lens, std::vector<int32_t>* cu, std::vector<int32_t>* pos) {
  cu->assign(1, 0);
  pos->clear();
  for (int L : lens) {
    cu->push_back(cu->back() + L);
    for (int p = 0; p < L; p++) pos->push_back(p);
  }
}

void check_rope(Context& ctx) {
  const std::vector<int> lens = {200, 57, 255};
  std::vector<int32_t> cu, pos;
  pack(lens, &cu, &pos);
  const int T = cu.back(), H = 14, D = 64, max_pos = 4096;
  Vec cos_t(size_t(max_pos) * D / 2), sin_t(cos_t.size());
  r1::cpu::RopeScaling scaling;
  r1::cpu::rope_tables(cos_t.data(), sin_t.data(), max_pos, D, 1e6f, scaling);
  for (int t = 0; t < T; t += 5) pos[t] += 3000;  // large angles too
  const Vec x = randn(size_t(T) * H * D), dx0 = randn(x.size());
  Vec y = x, dx = dx0;
  r1::cpu::rope_forward(y.data(), pos.data(), cos_t.data(), sin_t.data(), T, H, D);
  r1::cpu::rope_backward(dx.data(), pos.data(), cos_t.data(), sin_t.data(), T, H, D);
  I32 d_pos = up_i32(pos);
  F32 d_cos = up_f32(cos_t), d_sin = up_f32(sin_t);
  B16 d_x = up_bf16(x), d_dx = up_bf16(dx0);
  r1::cuda::rope_forward(ctx, d_x->p, d_pos->p, d_cos->p, d_sin->p, T, H, D);
  r1::cuda::rope_backward(ctx, d_dx->p, d_pos->p, d_cos->p, d_sin->p, T, H, D);
  compare("rope_forward", "x", download(*d_x), y);
  compare("rope_backward", "dx", download(*d_dx), dx);
  // q and k (GQA: 2 kv heads) in one launch, as the model calls it.
  const int Hkv = 2;
  const Vec k = randn(size_t(T) * Hkv * D), dk0 = randn(k.size());
  Vec yk = k, dk = dk0;
  r1::cpu::rope_forward(yk.data(), pos.data(), cos_t.data(), sin_t.data(), T, Hkv, D);
  r1::cpu::rope_backward(dk.data(), pos.data(), cos_t.data(), sin_t.data(), T, Hkv, D);
  B16 d_q = up_bf16(x), d_k = up_bf16(k), d_dq = up_bf16(dx0), d_dk = up_bf16(dk0);
  r1::cuda::rope_forward_qk(ctx, d_q->p, d_k->p, d_pos->p, d_cos->p, d_sin->p, T, H, Hkv, D);
  r1::cuda::rope_backward_qk(ctx, d_dq->p, d_dk->p, d_pos->p, d_cos->p, d_sin->p, T, H, Hkv, D);
  compare("rope_forward_qk", "q", download(*d_q), y);
  compare("rope_forward_qk", "k", download(*d_k), yk);
  compare("rope_backward_qk", "dq", download(*d_dq), dx);
  compare("rope_backward_qk", "dk", download(*d_dk), dk);
}

void check_attention(Context& ctx, const std::vector<int>& lens, int Hq, int Hkv, int D) {
  std::vector<int32_t> cu, pos;
  pack(lens, &cu, &pos);
  const int B = int(lens.size()), T = cu.back();
  const int max_seqlen = *std::max_element(lens.begin(), lens.end());
  const std::string op = "attention D" + std::to_string(D) + " Hq" + std::to_string(Hq) + "/" + std::to_string(Hkv) +
                         " T" + std::to_string(T) +
                         (ctx.attention_wgmma() && r1::cuda::attention::wgmma_head_dim(D) ? " wgmma" : "");
  const Vec q = randn(size_t(T) * Hq * D, 1.5f), k = randn(size_t(T) * Hkv * D, 1.5f),
            v = randn(size_t(T) * Hkv * D), dout = randn(size_t(T) * Hq * D);
  Vec out(q.size()), lse(size_t(T) * Hq), dq(q.size(), 0.0f), dk(k.size(), 0.0f), dv(v.size(), 0.0f);
  r1::cpu::attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), cu.data(), B, T, Hq, Hkv, D);
  // The CPU backward gets the bf16-rounded output the GPU backward will see.
  Vec out_b = out;
  for (auto& x : out_b) x = round_bf16(x);
  r1::cpu::attention_backward(dq.data(), dk.data(), dv.data(), dout.data(), q.data(), k.data(), v.data(),
                              out_b.data(), lse.data(), cu.data(), B, T, Hq, Hkv, D);

  I32 d_cu = up_i32(cu);
  B16 d_q = up_bf16(q), d_k = up_bf16(k), d_v = up_bf16(v), d_dout = up_bf16(dout), d_out = poisoned_bf16(out.size());
  F32 d_lse = poisoned_f32(lse.size());
  Grad<bf16> g_dq(dq.size(), rms(dq)), g_dk(dk.size(), rms(dk)), g_dv(dv.size(), rms(dv));
  r1::cuda::attention_forward(ctx, d_out->p, d_lse->p, d_q->p, d_k->p, d_v->p, d_cu->p, B, T, Hq, Hkv, D,
                              max_seqlen);
  r1::cuda::attention_backward(ctx, g_dq.p(), g_dk.p(), g_dv.p(), d_dout->p, d_q->p, d_k->p, d_v->p, d_out->p,
                               d_lse->p, d_cu->p, B, T, Hq, Hkv, D, max_seqlen);
  compare(op, "out", download(*d_out), out);
  compare(op, "lse", download(*d_lse), lse);
  compare(op, "dq", g_dq.increment(), dq);
  compare(op, "dk", g_dk.increment(), dk);
  compare(op, "dv", g_dv.increment(), dv);
  // accumulate = false (the model's call) writes every row: poisoned buffers must come back whole.
  B16 w_dq = poisoned_bf16(dq.size()), w_dk = poisoned_bf16(dk.size()), w_dv = poisoned_bf16(dv.size());
  r1::cuda::attention_backward(ctx, w_dq->p, w_dk->p, w_dv->p, d_dout->p, d_q->p, d_k->p, d_v->p, d_out->p, d_lse->p,
                               d_cu->p, B, T, Hq, Hkv, D, max_seqlen, /*accumulate=*/false);
  compare(op, "dq (written)", download(*w_dq), dq);
  compare(op, "dk (written)", download(*w_dk), dk);
  compare(op, "dv (written)", download(*w_dv), dv);
}

void check_swiglu_add(Context& ctx) {
  const int64_t n = 515 * 4864 + 3;  // odd length: the vector path's tail runs too
  const Vec gate = randn(size_t(n), 2.0f), up = randn(size_t(n)), dout = randn(size_t(n)), y0 = randn(size_t(n));
  const size_t un = size_t(n);
  Vec out(un), dgate(un, 0.0f), dup(un, 0.0f), y = y0;
  r1::cpu::swiglu_forward(out.data(), gate.data(), up.data(), n);
  r1::cpu::swiglu_backward(dgate.data(), dup.data(), dout.data(), gate.data(), up.data(), n);
  r1::cpu::add_inplace(y.data(), gate.data(), n);
  B16 d_gate = up_bf16(gate), d_up = up_bf16(up), d_dout = up_bf16(dout), d_out = poisoned_bf16(size_t(n));
  B16 d_y = up_bf16(y0);
  Grad<bf16> g_dgate(size_t(n), rms(dgate)), g_dup(size_t(n), rms(dup));
  r1::cuda::swiglu_forward(ctx, d_out->p, d_gate->p, d_up->p, n);
  r1::cuda::swiglu_backward(ctx, g_dgate.p(), g_dup.p(), d_dout->p, d_gate->p, d_up->p, n);
  r1::cuda::add_inplace(ctx, d_y->p, d_gate->p, n);
  compare("swiglu_forward", "out", download(*d_out), out);
  compare("swiglu_backward", "dgate", g_dgate.increment(), dgate);
  compare("swiglu_backward", "dup", g_dup.increment(), dup);
  compare("add_inplace", "y", download(*d_y), y);
  // Written, not added: the result is the CPU's gradient whatever the buffers held.
  Grad<bf16> w_dgate(size_t(n), rms(dgate)), w_dup(size_t(n), rms(dup));
  r1::cuda::swiglu_backward(ctx, w_dgate.p(), w_dup.p(), d_dout->p, d_gate->p, d_up->p, n, /*accumulate=*/false);
  compare("swiglu_backward", "dgate (written)", download(*w_dgate.dev), dgate);
  compare("swiglu_backward", "dup (written)", download(*w_dup.dev), dup);
  // An unaligned view (offset by one element) takes the scalar path.
  B16 d_out2 = poisoned_bf16(size_t(n));
  r1::cuda::swiglu_forward(ctx, d_out2->p + 1, d_gate->p + 1, d_up->p + 1, n - 1);
  Vec gpu = download(*d_out2);
  compare("swiglu_forward", "out (unaligned)", Vec(gpu.begin() + 1, gpu.end()), Vec(out.begin() + 1, out.end()));
}

// The dlogits pass holds each row in a cluster of 1-8 blocks' shared memory when V % 4 == 0 (V = 151936: 4
// blocks, 60000: 2) and falls back to one block per row otherwise (4099).
void check_lm_head(Context& ctx, int T, int V, int chunk) {  // chunk not dividing T: a short last chunk
  const int C = 896;
  const float inv_temperature = 1.0f / 0.7f;
  const std::string vocab = " V" + std::to_string(V);
  const Vec x = randn(size_t(T) * C), W = randn(size_t(V) * C, 0.05f);
  std::vector<int32_t> targets = randint(T, 0, V);
  for (int t = 0; t < T; t += 11) targets[t] = -1;  // masked tokens
  const Vec dlogprob = randn(T, 1.0f, false), dentropy = randn(T, 0.3f, false);
  Vec logprob(T), entropy(T), dx(x.size(), 0.0f), dW(W.size(), 0.0f);
  r1::cpu::lm_head_forward(logprob.data(), entropy.data(), x.data(), W.data(), targets.data(), T, C, V,
                           inv_temperature, chunk);
  r1::cpu::lm_head_backward(dx.data(), dW.data(), dlogprob.data(), dentropy.data(), x.data(), W.data(),
                            targets.data(), T, C, V, inv_temperature, chunk);
  I32 d_t = up_i32(targets);
  B16 d_x = up_bf16(x), d_W = up_bf16(W);
  F32 d_lp = poisoned_f32(T), d_ent = poisoned_f32(T), d_dlp = up_f32(dlogprob), d_dent = up_f32(dentropy);
  Grad<bf16> g_dx(dx.size(), rms(dx));
  Grad<float> g_dW(dW.size(), rms(dW));
  r1::cuda::lm_head_forward(ctx, d_lp->p, d_ent->p, d_x->p, d_W->p, d_t->p, T, C, V, inv_temperature, chunk);
  r1::cuda::lm_head_backward(ctx, g_dx.p(), g_dW.p(), d_dlp->p, d_dent->p, d_x->p, d_W->p, d_t->p, T, C, V,
                             inv_temperature, chunk);
  compare("lm_head_forward" + vocab, "logprob", download(*d_lp), logprob);
  compare("lm_head_forward" + vocab, "entropy", download(*d_ent), entropy);
  compare("lm_head_backward" + vocab, "dx", g_dx.increment(), dx);
  compare("lm_head_backward" + vocab, "dW", g_dW.increment(), dW);
  // The fused forward + backward: the dlogits pass writes the log-probs and entropies too.
  F32 f_lp = poisoned_f32(T), f_ent = poisoned_f32(T);
  Grad<bf16> f_dx(dx.size(), rms(dx));
  Grad<float> f_dW(dW.size(), rms(dW));
  r1::cuda::lm_head_forward_backward(ctx, f_lp->p, f_ent->p, f_dx.p(), f_dW.p(), d_dlp->p, d_dent->p, d_x->p, d_W->p,
                                     d_t->p, T, C, V, inv_temperature, chunk);
  compare("lm_head_forward_backward" + vocab, "logprob", download(*f_lp), logprob);
  compare("lm_head_forward_backward" + vocab, "entropy", download(*f_ent), entropy);
  compare("lm_head_forward_backward" + vocab, "dx", f_dx.increment(), dx);
  if (V != 151936) return;

  const int n = 5;
  Vec logits(size_t(n) * V);
  r1::cpu::lm_head_logits(logits.data(), x.data(), W.data(), n, C, V);
  F32 d_logits = poisoned_f32(logits.size());
  r1::cuda::lm_head_logits(ctx, d_logits->p, d_x->p, d_W->p, n, C, V);
  compare("lm_head_logits", "logits", download(*d_logits), logits);
}

void check_optimizer(Context& ctx) {
  const int64_t n = (1 << 20) + 7;
  r1::AdamWConfig c;
  c.beta1 = 0.9f, c.beta2 = 0.95f, c.eps = 1e-8f, c.weight_decay = 0.1f;
  for (const bool decay : {true, false}) {
    const Vec p0 = randn(size_t(n), 1.0f, false), g = randn(size_t(n), 1e-2f, false),
              m0 = randn(size_t(n), 1e-3f, false);
    Vec v0 = randn(size_t(n), 1e-4f, false);
    for (auto& x : v0) x = x * x;
    const float grad_scale = 0.5f, lr = 3e-4f;
    const int64_t step = 3;
    Vec p = p0, m = m0, v = v0, gs = g;
    for (auto& x : gs) x *= grad_scale;
    r1::adamw_update(p.data(), gs.data(), m.data(), v.data(), n, c, lr, step, decay);
    F32 d_p = up_f32(p0), d_g = up_f32(g), d_m = up_f32(m0), d_v = up_f32(v0);
    B16 d_pb = poisoned_bf16(size_t(n));
    r1::cuda::adamw_update(ctx, d_p->p, d_pb->p, d_g->p, d_m->p, d_v->p, n, c.beta1, c.beta2, c.eps, c.weight_decay,
                           lr, step, decay, grad_scale);
    // Compare the update (p - p0): the parameters themselves barely move, which would hide errors.
    const size_t un = size_t(n);
    Vec gp = download(*d_p), dp(un), dp_ref(un), pb = download(*d_pb), pb_ref(un);
    for (size_t i = 0; i < size_t(n); i++) {
      dp[i] = gp[i] - p0[i];
      dp_ref[i] = p[i] - p0[i];
      pb_ref[i] = round_bf16(p[i]);
    }
    const std::string op = decay ? "adamw (decay)" : "adamw (no decay)";
    compare(op, "param update", dp, dp_ref);
    compare(op, "m", download(*d_m), m);
    compare(op, "v", download(*d_v), v);
    compare(op, "params bf16", pb, pb_ref);
  }
  // One launch over tensors that decay and tensors that do not, with the moments of a shard starting at 1000:
  // bitwise the per-tensor launches.
  {
    const int64_t shard = 1000;
    const std::vector<r1::cuda::AdamWSpan> spans = {
        {shard, 5000, true}, {5000, 5000 + 70000, false}, {75000, 75001, false}, {75001, n, true}};
    const Vec p0 = randn(size_t(n), 1.0f, false), g = randn(size_t(n), 1e-2f, false);
    const Vec m0 = randn(size_t(n - shard), 1e-3f, false);
    Vec v0 = randn(size_t(n - shard), 1e-3f, false);
    for (auto& x : v0) x = x * x;
    F32 a_p = up_f32(p0), a_m = up_f32(m0), a_v = up_f32(v0), b_p = up_f32(p0), b_m = up_f32(m0), b_v = up_f32(v0);
    F32 d_g = up_f32(g);
    B16 a_pb = poisoned_bf16(size_t(n)), b_pb = poisoned_bf16(size_t(n));
    for (const auto& s : spans)
      r1::cuda::adamw_update(ctx, a_p->p + s.begin, a_pb->p + s.begin, d_g->p + s.begin, a_m->p + (s.begin - shard),
                             a_v->p + (s.begin - shard), s.end - s.begin, c.beta1, c.beta2, c.eps, c.weight_decay,
                             3e-4f, 3, s.decay, 0.5f);
    const std::vector<r1::cuda::AdamWChunk> chunks = r1::cuda::adamw_chunks(spans);
    r1::cuda::DeviceBuffer<r1::cuda::AdamWChunk> d_chunks(chunks.size(), "chunks");
    cudaMemcpy(d_chunks.get(), chunks.data(), d_chunks.bytes(), cudaMemcpyHostToDevice);
    r1::cuda::adamw_update_chunks(ctx, b_p->p, b_pb->p, d_g->p, b_m->p, b_v->p, shard, d_chunks.get(),
                                  int(chunks.size()), c.beta1, c.beta2, c.eps, c.weight_decay, 3e-4f, 3, 0.5f);
    Vec pa = download(*a_p), pb = download(*b_p);
    pa.erase(pa.begin(), pa.begin() + shard), pb.erase(pb.begin(), pb.begin() + shard);  // outside: poisoned alike
    compare_bitwise("adamw_update_chunks", "params (vs per tensor)", pb, pa);
    compare_bitwise("adamw_update_chunks", "m (vs per tensor)", download(*b_m), download(*a_m));
    compare_bitwise("adamw_update_chunks", "v (vs per tensor)", download(*b_v), download(*a_v));
  }
  const Vec g = randn(size_t(n), 0.01f, false);
  F32 d_g = up_f32(g);
  const double norm = r1::cuda::global_grad_norm(ctx, d_g->p, n);
  const double ref = r1::global_grad_norm(g.data(), n);
  compare("global_grad_norm", "norm", Vec{float(norm)}, Vec{float(ref)});
  Vec clipped = g;
  const double ref_pre = r1::clip_grad_norm(clipped.data(), n, 0.5 * ref);
  const double pre = r1::cuda::clip_grad_norm(ctx, d_g->p, n, 0.5 * ref);
  compare("clip_grad_norm", "norm", Vec{float(pre)}, Vec{float(ref_pre)});
  compare("clip_grad_norm", "grads", download(*d_g), clipped);
  Dev<double> d_sum(1);
  r1::cuda::grad_norm_squared(ctx, d_sum.p, d_g->p, n, false);
  r1::cuda::grad_norm_squared(ctx, d_sum.p, d_g->p, n, true);  // accumulates: twice the sum
  double sum = 0;
  R1_CUDA_CHECK("parity", cudaMemcpy(&sum, d_sum.p, sizeof(double), cudaMemcpyDeviceToHost));
  const double ref_c = r1::global_grad_norm(clipped.data(), n);
  compare("grad_norm_squared", "2 x sum", Vec{float(sum)}, Vec{float(2 * ref_c * ref_c)});
}

// ---------------------------------------------------------------------------------------------------------
// timings at Qwen2.5-0.5B shapes: hidden 896, 14 heads / 2 KV heads of 64, FFN 4864, vocab 151936; 8 x 1024

__global__ void fill_kernel(bf16* p, int64_t n, uint32_t seed, float scale) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    uint32_t h = uint32_t(i) * 2654435761u ^ seed;  // a cheap hash: benchmarks need values, not statistics
    h ^= h >> 15;
    h *= 2246822519u;
    h ^= h >> 13;
    p[i] = __float2bfloat16((float(h & 0xffffff) / 16777216.0f - 0.5f) * 2.0f * scale);
  }
}
B16 random_bf16(size_t n, float scale) {
  B16 d(new Dev<bf16>(n));
  fill_kernel<<<1024, 256>>>(d->p, int64_t(n), uint32_t(n * 7919 + 17), scale);
  R1_CUDA_LAUNCH_CHECK("parity fill");
  return d;
}
F32 zeros_f32(size_t n) {
  F32 d(new Dev<float>(n));
  d->zero();
  return d;
}

// Forward and backward attention of B sequences of L tokens, on each kernel family the device has.
void bench_attention(Context& ctx, int iters, int B, int L, int Hq, int Hkv, int D) {
  const int T = B * L;
  std::vector<int32_t> cu, pos;
  pack(std::vector<int>(B, L), &cu, &pos);
  I32 d_cu = up_i32(cu);
  B16 q = random_bf16(size_t(T) * Hq * D, 2.0f), k = random_bf16(size_t(T) * Hkv * D, 2.0f),
      v = random_bf16(size_t(T) * Hkv * D, 1.0f), out = random_bf16(size_t(T) * Hq * D, 1.0f),
      dq = random_bf16(size_t(T) * Hq * D, 1.0f), dk = random_bf16(size_t(T) * Hkv * D, 1.0f),
      dv = random_bf16(size_t(T) * Hkv * D, 1.0f);
  F32 lse = zeros_f32(size_t(T) * Hq);
  const double flop = 4.0 * B * (double(L) * (L + 1) / 2) * D * Hq;  // causal: half the score matrix
  const std::string shape = std::to_string(B) + "x" + std::to_string(L) + " Hq" + std::to_string(Hq) + "/" +
                            std::to_string(Hkv) + " D" + std::to_string(D);
  const bool wgmma = ctx.attention_wgmma();
  for (const bool on : {false, true}) {
    if (on && !wgmma) continue;
    ctx.set_attention_wgmma(on);
    const std::string kernel = on ? " (wgmma)" : " (mma.sync)";
    double ms = time_ms(ctx, iters, [&] {
      r1::cuda::attention_forward(ctx, out->p, lse->p, q->p, k->p, v->p, d_cu->p, B, T, Hq, Hkv, D, L);
    });
    g_timings.push_back({"attention_forward" + kernel, shape, ms, tflops(flop, ms)});
    ms = time_ms(ctx, iters, [&] {
      r1::cuda::attention_backward(ctx, dq->p, dk->p, dv->p, out->p, q->p, k->p, v->p, out->p, lse->p, d_cu->p, B, T,
                                   Hq, Hkv, D, L, /*accumulate=*/false);
    });
    g_timings.push_back({"attention_backward" + kernel, shape, ms, tflops(2.5 * flop, ms)});
  }
  ctx.set_attention_wgmma(wgmma);
}

void bench(Context& ctx, int iters) {
  const int B = 8, L = 1024, T = B * L, C = 896, Hq = 14, Hkv = 2, D = 64, F = 4864, V = 151936;
  const std::string tok = "T=" + std::to_string(T);
  auto add = [&](const std::string& op, const std::string& shape, double ms, const std::string& rate) {
    g_timings.push_back({op, shape, ms, rate});
  };
  {  // embedding
    std::vector<int32_t> ids = randint(T, 0, V);
    I32 d_ids = up_i32(ids);
    B16 table = random_bf16(size_t(V) * C, 1.0f), out = random_bf16(size_t(T) * C, 1.0f);
    F32 dtable = zeros_f32(size_t(V) * C);
    double ms = time_ms(ctx, iters, [&] { r1::cuda::embedding_forward(ctx, out->p, d_ids->p, table->p, T, C); });
    add("embedding_forward", tok + " C=896", ms, gbps(4.0 * T * C, ms));
    ms = time_ms(ctx, iters, [&] { r1::cuda::embedding_backward(ctx, dtable->p, out->p, d_ids->p, T, C); });
    add("embedding_backward", tok + " C=896", ms, gbps(10.0 * T * C, ms));
  }
  {  // rmsnorm, swiglu, add
    B16 x = random_bf16(size_t(T) * C, 1.0f), w = random_bf16(C, 1.0f), out = random_bf16(size_t(T) * C, 1.0f),
        dx = random_bf16(size_t(T) * C, 1.0f);
    F32 rstd = zeros_f32(T), dw = zeros_f32(C);
    double ms = time_ms(ctx, iters, [&] { r1::cuda::rmsnorm_forward(ctx, out->p, rstd->p, x->p, w->p, T, C, 1e-6f); });
    add("rmsnorm_forward", tok + " C=896", ms, gbps(4.0 * T * C, ms));
    ms = time_ms(ctx, iters,
                 [&] { r1::cuda::rmsnorm_backward(ctx, dx->p, dw->p, out->p, x->p, w->p, rstd->p, T, C); });
    add("rmsnorm_backward", tok + " C=896", ms, gbps(8.0 * T * C, ms));
    ms = time_ms(ctx, iters, [&] { r1::cuda::add_inplace(ctx, dx->p, x->p, int64_t(T) * C); });
    add("add_inplace", tok + " C=896", ms, gbps(6.0 * T * C, ms));
    const int64_t n = int64_t(T) * F;
    B16 g = random_bf16(size_t(n), 3.0f), u = random_bf16(size_t(n), 1.0f), o = random_bf16(size_t(n), 1.0f),
        dg = random_bf16(size_t(n), 1.0f), du = random_bf16(size_t(n), 1.0f);
    ms = time_ms(ctx, iters, [&] { r1::cuda::swiglu_forward(ctx, o->p, g->p, u->p, n); });
    add("swiglu_forward", tok + " F=4864", ms, gbps(6.0 * n, ms));
    ms = time_ms(ctx, iters, [&] { r1::cuda::swiglu_backward(ctx, dg->p, du->p, o->p, g->p, u->p, n); });
    add("swiglu_backward", tok + " F=4864", ms, gbps(14.0 * n, ms));
  }
  {  // linear layers of one block
    struct Shape {
      const char* name;
      int I, O;
      bool bias;
    };
    for (const Shape s : {Shape{"qkv", C, (Hq + 2 * Hkv) * D, true}, Shape{"o_proj", Hq * D, C, false},
                          Shape{"gate_up", C, 2 * F, false}, Shape{"down", F, C, false}}) {
      B16 x = random_bf16(size_t(T) * s.I, 1.0f), W = random_bf16(size_t(s.O) * s.I, 0.03f),
          b = random_bf16(s.O, 0.1f), y = random_bf16(size_t(T) * s.O, 1.0f), dx = random_bf16(size_t(T) * s.I, 1.0f);
      F32 dW = zeros_f32(size_t(s.O) * s.I), db = zeros_f32(s.O);
      const std::string shape = tok + " " + std::to_string(s.I) + "->" + std::to_string(s.O);
      const double flop = 2.0 * T * s.I * s.O;
      double ms = time_ms(ctx, iters, [&] {
        r1::cuda::linear_forward(ctx, y->p, x->p, W->p, s.bias ? b->p : nullptr, T, s.I, s.O);
      });
      add(std::string("linear_forward ") + s.name, shape, ms, tflops(flop, ms));
      ms = time_ms(ctx, iters, [&] {
        r1::cuda::linear_backward(ctx, dx->p, dW->p, s.bias ? db->p : nullptr, y->p, x->p, W->p, T, s.I, s.O);
      });
      add(std::string("linear_backward ") + s.name, shape, ms, tflops(2 * flop, ms));
    }
  }
  {  // rope + attention
    std::vector<int32_t> cu, pos;
    pack(std::vector<int>(B, L), &cu, &pos);
    I32 d_cu = up_i32(cu), d_pos = up_i32(pos);
    const int max_pos = 4096;
    Vec cos_t(size_t(max_pos) * D / 2), sin_t(cos_t.size());
    r1::cpu::rope_tables(cos_t.data(), sin_t.data(), max_pos, D, 1e6f, r1::cpu::RopeScaling{});
    F32 d_cos = up_f32(cos_t), d_sin = up_f32(sin_t);
    B16 q = random_bf16(size_t(T) * Hq * D, 2.0f), k = random_bf16(size_t(T) * Hkv * D, 2.0f);
    double ms = time_ms(ctx, iters,
                        [&] { r1::cuda::rope_forward(ctx, q->p, d_pos->p, d_cos->p, d_sin->p, T, Hq, D); });
    add("rope_forward q", tok + " H=14 D=64", ms, gbps(4.0 * T * Hq * D, ms));
    ms = time_ms(ctx, iters, [&] {
      r1::cuda::rope_forward_qk(ctx, q->p, k->p, d_pos->p, d_cos->p, d_sin->p, T, Hq, Hkv, D);
    });
    add("rope_forward q + k", tok + " H=14+2 D=64", ms, gbps(4.0 * T * (Hq + Hkv) * D, ms));
    bench_attention(ctx, iters, B, L, Hq, Hkv, D);
    bench_attention(ctx, iters, B, L, 12, 2, 128);  // Qwen2.5-1.5B's heads
  }
  {  // LM head
    const int chunk = 1024;
    std::vector<int32_t> targets = randint(T, 0, V);
    I32 d_t = up_i32(targets);
    B16 x = random_bf16(size_t(T) * C, 1.0f), W = random_bf16(size_t(V) * C, 0.05f),
        dx = random_bf16(size_t(T) * C, 1.0f);
    F32 lp = zeros_f32(T), ent = zeros_f32(T), dW = zeros_f32(size_t(V) * C);
    std::vector<float> ones(T, -1.0f / T);
    F32 dlp = up_f32(ones);
    const double flop = 2.0 * T * C * V;
    double ms = time_ms(ctx, iters, [&] {
      r1::cuda::lm_head_forward(ctx, lp->p, ent->p, x->p, W->p, d_t->p, T, C, V, 1.0f, chunk);
    });
    add("lm_head_forward", tok + " V=151936 chunk 1024", ms, tflops(flop, ms));
    ms = time_ms(ctx, iters, [&] {
      r1::cuda::lm_head_backward(ctx, dx->p, dW->p, dlp->p, ent->p, x->p, W->p, d_t->p, T, C, V, 1.0f, chunk);
    });
    add("lm_head_backward", tok + " V=151936 chunk 1024", ms, tflops(3 * flop, ms));
  }
  {  // optimizer over all of Qwen2.5-0.5B's parameters
    const int64_t n = 494032768;
    F32 p = zeros_f32(size_t(n)), g = zeros_f32(size_t(n)), m = zeros_f32(size_t(n)), v = zeros_f32(size_t(n));
    B16 pb = random_bf16(size_t(n), 1.0f);
    double ms = time_ms(ctx, iters, [&] {
      r1::cuda::adamw_update(ctx, p->p, pb->p, g->p, m->p, v->p, n, 0.9f, 0.95f, 1e-8f, 0.1f, 1e-4f, 10, true);
    });
    add("adamw_update (+bf16 copy)", "n=494M", ms, gbps(30.0 * n, ms));
    const std::vector<r1::cuda::AdamWChunk> chunks = r1::cuda::adamw_chunks({{0, n, true}});
    r1::cuda::DeviceBuffer<r1::cuda::AdamWChunk> d_chunks(chunks.size(), "chunks");
    cudaMemcpy(d_chunks.get(), chunks.data(), d_chunks.bytes(), cudaMemcpyHostToDevice);
    ms = time_ms(ctx, iters, [&] {
      r1::cuda::adamw_update_chunks(ctx, p->p, pb->p, g->p, m->p, v->p, 0, d_chunks.get(), int(chunks.size()), 0.9f,
                                    0.95f, 1e-8f, 0.1f, 1e-4f, 10);
    });
    add("adamw_update_chunks (model's)", "n=494M", ms, gbps(30.0 * n, ms));
    Dev<double> sum(1);
    ms = time_ms(ctx, iters, [&] { r1::cuda::grad_norm_squared(ctx, sum.p, g->p, n, false); });
    add("grad_norm_squared", "n=494M", ms, gbps(4.0 * n, ms));
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool check = true, timing = true;
  int iters = 20;
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    if (a == "--check-only") timing = false;
    else if (a == "--bench-only") check = false;
    else if (a == "--iters" && i + 1 < argc) iters = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: parity_ops [--check-only | --bench-only] [--iters N]\n");
      return 2;
    }
  }
  try {
    cudaDeviceProp prop{};
    R1_CUDA_CHECK("parity", cudaGetDeviceProperties(&prop, 0));
    std::printf("device: %s (sm_%d%d, %d SMs, %.1f GiB)\n", prop.name, prop.major, prop.minor,
                prop.multiProcessorCount, prop.totalGlobalMem / 1073741824.0);
    Context ctx;
    bool all_pass = true;
    if (check) {
      check_conversions(ctx);
      check_embedding(ctx);
      check_rmsnorm(ctx, 515, 896);
      check_rmsnorm(ctx, 77, 900);
      check_linear(ctx, 515, 896, 1152, true, true);
      check_linear(ctx, 333, 512, 200, false, false);
      check_rope(ctx);
      check_attention(ctx, {1, 33, 130}, 4, 4, 32);
      // Head dims 64 and 128 on both kernel families where the device has wgmma (attention_wgmma.cu), else
      // mma.sync only.
      const bool wgmma = ctx.attention_wgmma();
      for (const bool on : {false, true}) {
        if (on && !wgmma) continue;
        ctx.set_attention_wgmma(on);
        check_attention(ctx, {200, 57, 255}, 14, 2, 64);
        check_attention(ctx, {1024, 1, 64}, 6, 2, 64);
        check_attention(ctx, {70, 129, 3}, 4, 4, 64);
        check_attention(ctx, {90, 200}, 4, 2, 64);  // a group of 2: one wgmma dk/dv block sums it, no partials
        check_attention(ctx, {97, 160}, 8, 2, 128);
        check_attention(ctx, {300, 64, 5}, 12, 2, 128);
      }
      ctx.set_attention_wgmma(wgmma);
      check_swiglu_add(ctx);
      check_lm_head(ctx, 300, 151936, 128);
      check_lm_head(ctx, 67, 60000, 32);
      check_lm_head(ctx, 67, 4099, 32);
      check_optimizer(ctx);
      ctx.synchronize("parity");
      std::printf("\n%-34s %-16s %12s  %s\n", "op", "tensor", "rel L2 err", "result");
      for (const Row& r : g_rows) {
        const bool pass = r.finite && r.rel <= kTolerance;
        all_pass = all_pass && pass;
        std::printf("%-34s %-16s %12.3e  %s\n", r.op.c_str(), r.tensor.c_str(), r.rel,
                    pass ? "PASS" : (r.finite ? "FAIL" : "FAIL (NaN/Inf)"));
      }
      std::printf("parity: %s (%zu checks, tolerance %.0e)\n", all_pass ? "ALL PASS" : "FAILURES", g_rows.size(),
                  kTolerance);
    }
    if (timing) {
      bench(ctx, iters);
      std::printf("\n%-28s %-28s %10s  %s\n", "op (Qwen2.5-0.5B shapes)", "shape", "median ms", "rate");
      for (const Timing& t : g_timings)
        std::printf("%-28s %-28s %10.3f  %s\n", t.op.c_str(), t.shape.c_str(), t.ms, t.rate.c_str());
    }
    return all_pass ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "parity_ops: %s\n", e.what());
    return 1;
  }
}
