// Every CPU op's backward against central finite differences of an independent double-precision reference of
// its forward, on tiny shapes: loss = sum(dout * f(inputs)), gradient checked for a sample of every input's
// elements. Plus the structural properties (packing, chunking, rope inversion).
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "backend/cpu/ops.h"
#include "core/rng.h"

using namespace r1;
using Vec = std::vector<double>;

namespace {

std::vector<float> randn(size_t n, uint64_t seed, float scale = 1.0f) {
  Philox r(seed, 0);
  std::vector<float> v(n);
  for (auto& x : v) x = scale * r.normal();
  return v;
}
Vec to_d(const std::vector<float>& v) { return Vec(v.begin(), v.end()); }
double dotv(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); i++) s += a[i] * b[i];
  return s;
}

// Checks analytic[i] == d/dx_i (objective) at sampled i, where objective(x) is evaluated in double.
void expect_grad(const std::string& what, Vec x, const std::vector<float>& analytic,
                 const std::function<double(const Vec&)>& objective, int samples = 24) {
  ASSERT_EQ(x.size(), analytic.size()) << what;
  double gmax = 0;
  for (float g : analytic) gmax = std::max(gmax, double(std::fabs(g)));
  Philox r(x.size(), 77);
  for (int s = 0; s < samples; s++) {
    const size_t i = samples >= int(x.size()) ? size_t(s % x.size()) : size_t(r.below(x.size()));
    const double h = 1e-5 * std::max(1.0, std::fabs(x[i]));
    const double saved = x[i];
    x[i] = saved + h;
    const double up = objective(x);
    x[i] = saved - h;
    const double down = objective(x);
    x[i] = saved;
    const double fd = (up - down) / (2 * h);
    const double scale = std::max(std::fabs(fd), 1e-3 * gmax + 1e-7);
    EXPECT_LE(std::fabs(analytic[i] - fd) / scale, 1e-3) << what << "[" << i << "] analytic " << analytic[i] << " fd " << fd;
  }
}

// ---- double references ----
Vec ref_rmsnorm(const Vec& x, const Vec& w, int T, int C, double eps) {
  Vec y(x.size());
  for (int t = 0; t < T; t++) {
    double ss = 0;
    for (int c = 0; c < C; c++) ss += x[t * C + c] * x[t * C + c];
    const double r = 1 / std::sqrt(ss / C + eps);
    for (int c = 0; c < C; c++) y[t * C + c] = x[t * C + c] * r * w[c];
  }
  return y;
}
Vec ref_linear(const Vec& x, const Vec& W, const Vec* b, int T, int I, int O) {
  Vec y(size_t(T) * O);
  for (int t = 0; t < T; t++)
    for (int o = 0; o < O; o++) {
      double s = b ? (*b)[o] : 0;
      for (int i = 0; i < I; i++) s += x[t * I + i] * W[o * I + i];
      y[t * O + o] = s;
    }
  return y;
}
Vec ref_attention(const Vec& q, const Vec& k, const Vec& v, const std::vector<int32_t>& cu, int Hq, int Hkv, int D) {
  const int T = cu.back();
  Vec out(size_t(T) * Hq * D, 0.0);
  for (size_t s = 0; s + 1 < cu.size(); s++)
    for (int i = cu[s]; i < cu[s + 1]; i++)
      for (int h = 0; h < Hq; h++) {
        const int g = h / (Hq / Hkv);
        Vec sc;
        double m = -1e300;
        for (int j = cu[s]; j <= i; j++) {
          double d = 0;
          for (int e = 0; e < D; e++) d += q[(i * Hq + h) * D + e] * k[(j * Hkv + g) * D + e];
          sc.push_back(d / std::sqrt(double(D)));
          m = std::max(m, sc.back());
        }
        double z = 0;
        for (double& e : sc) z += (e = std::exp(e - m));
        for (int j = cu[s]; j <= i; j++)
          for (int e = 0; e < D; e++) out[(i * Hq + h) * D + e] += sc[j - cu[s]] / z * v[(j * Hkv + g) * D + e];
      }
  return out;
}
// sum_t wl[t] logprob[t] + we[t] entropy[t]
double ref_head(const Vec& x, const Vec& W, const std::vector<int32_t>& tg, const Vec& wl, const Vec& we, int T, int C,
                int V, double it) {
  double obj = 0;
  for (int t = 0; t < T; t++) {
    if (tg[t] < 0) continue;
    Vec z(V);
    double m = -1e300;
    for (int v = 0; v < V; v++) {
      double s = 0;
      for (int c = 0; c < C; c++) s += x[t * C + c] * W[v * C + c];
      z[v] = s * it;
      m = std::max(m, z[v]);
    }
    double sum = 0;
    for (double e : z) sum += std::exp(e - m);
    const double lse = m + std::log(sum);
    double H = 0;
    for (double e : z) H -= std::exp(e - lse) * (e - lse);
    obj += wl[t] * (z[tg[t]] - lse) + we[t] * H;
  }
  return obj;
}

}  // namespace

// C = 70: the row sums run whole 8-lane blocks plus a tail, and the weight gradient spans two column blocks.
TEST(CpuOps, RmsnormBackwardMatchesFiniteDifferences) {
  const int T = 3, C = 70;
  auto x = randn(T * C, 1), w = randn(C, 2), dout = randn(T * C, 3);
  std::vector<float> y(T * C), rstd(T), dx(T * C, 0), dw(C, 0);
  cpu::rmsnorm_forward(y.data(), rstd.data(), x.data(), w.data(), T, C, 1e-5f);
  cpu::rmsnorm_backward(dx.data(), dw.data(), dout.data(), x.data(), w.data(), rstd.data(), T, C);
  const Vec d = to_d(dout), wd = to_d(w), xd = to_d(x);
  const Vec yr = ref_rmsnorm(xd, wd, T, C, 1e-5);
  for (int i = 0; i < T * C; i++) EXPECT_NEAR(y[i], yr[i], 1e-5);
  expect_grad("dx", xd, dx, [&](const Vec& xx) { return dotv(d, ref_rmsnorm(xx, wd, T, C, 1e-5)); }, 40);
  expect_grad("dw", wd, dw, [&](const Vec& ww) { return dotv(d, ref_rmsnorm(xd, ww, T, C, 1e-5)); }, 40);
}

TEST(CpuOps, LinearBackwardMatchesFiniteDifferences) {
  const int T = 4, I = 5, O = 3;
  auto x = randn(T * I, 4), W = randn(O * I, 5), b = randn(O, 6), dout = randn(T * O, 7);
  std::vector<float> y(T * O), dx(T * I, 0), dW(O * I, 0), db(O, 0);
  cpu::linear_forward(y.data(), x.data(), W.data(), b.data(), T, I, O);
  cpu::linear_backward(dx.data(), dW.data(), db.data(), dout.data(), x.data(), W.data(), T, I, O);
  const Vec d = to_d(dout), xd = to_d(x), Wd = to_d(W), bd = to_d(b);
  const Vec yr = ref_linear(xd, Wd, &bd, T, I, O);
  for (int i = 0; i < T * O; i++) EXPECT_NEAR(y[i], yr[i], 1e-5);
  expect_grad("dx", xd, dx, [&](const Vec& v) { return dotv(d, ref_linear(v, Wd, &bd, T, I, O)); });
  expect_grad("dW", Wd, dW, [&](const Vec& v) { return dotv(d, ref_linear(xd, v, &bd, T, I, O)); });
  expect_grad("db", bd, db, [&](const Vec& v) { return dotv(d, ref_linear(xd, Wd, &v, T, I, O)); });
}

TEST(CpuOps, EmbeddingBackwardScatterAddsRepeatedIds) {
  const int T = 5, C = 3, V = 4;
  const std::vector<int32_t> ids = {1, 3, 1, 0, 1};
  auto table = randn(V * C, 8), dout = randn(T * C, 9);
  std::vector<float> out(T * C), dtable(V * C, 0);
  cpu::embedding_forward(out.data(), ids.data(), table.data(), T, C);
  cpu::embedding_backward(dtable.data(), dout.data(), ids.data(), T, C);
  for (int t = 0; t < T; t++)
    for (int c = 0; c < C; c++) EXPECT_EQ(out[t * C + c], table[ids[t] * C + c]);
  for (int c = 0; c < C; c++) {
    EXPECT_FLOAT_EQ(dtable[1 * C + c], dout[0 * C + c] + dout[2 * C + c] + dout[4 * C + c]);
    EXPECT_EQ(dtable[2 * C + c], 0.0f);
  }
}

TEST(CpuOps, SwigluBackwardMatchesFiniteDifferences) {
  const int n = 20;
  auto g = randn(n, 10, 2.0f), u = randn(n, 11), dout = randn(n, 12);
  std::vector<float> y(n), dg(n, 0), du(n, 0);
  cpu::swiglu_forward(y.data(), g.data(), u.data(), n);
  cpu::swiglu_backward(dg.data(), du.data(), dout.data(), g.data(), u.data(), n);
  const Vec d = to_d(dout), gd = to_d(g), ud = to_d(u);
  auto f = [&](const Vec& gg, const Vec& uu) {
    double s = 0;
    for (int i = 0; i < n; i++) s += d[i] * gg[i] / (1 + std::exp(-gg[i])) * uu[i];
    return s;
  };
  expect_grad("dgate", gd, dg, [&](const Vec& v) { return f(v, ud); });
  expect_grad("dup", ud, du, [&](const Vec& v) { return f(gd, v); });
}

TEST(CpuOps, RopeBackwardInvertsForwardAndIsItsTranspose) {
  const int T = 4, H = 2, D = 8, P = 16;
  std::vector<float> ct(P * D / 2), st(P * D / 2);
  cpu::rope_tables(ct.data(), st.data(), P, D, 10000.0f, {});
  const std::vector<int32_t> pos = {0, 3, 7, 15};
  auto x = randn(T * H * D, 13);
  auto y = x;
  cpu::rope_forward(y.data(), pos.data(), ct.data(), st.data(), T, H, D);
  // Rotation pairs i with i + D/2 (HF rotate_half): check one element by hand.
  const double ang = 3.0 * std::pow(10000.0, -2.0 * 1 / D);
  const size_t base = (1 * H + 0) * D;
  EXPECT_NEAR(y[base + 1], x[base + 1] * std::cos(ang) - x[base + 1 + D / 2] * std::sin(ang), 1e-5);
  auto z = y;
  cpu::rope_backward(z.data(), pos.data(), ct.data(), st.data(), T, H, D);
  for (size_t i = 0; i < x.size(); i++) EXPECT_NEAR(z[i], x[i], 1e-5);
  // <R x, g> == <x, R^T g>: the backward is the transpose.
  auto g = randn(T * H * D, 14);
  auto rg = g;
  cpu::rope_backward(rg.data(), pos.data(), ct.data(), st.data(), T, H, D);
  EXPECT_NEAR(dotv(to_d(y), to_d(g)), dotv(to_d(x), to_d(rg)), 1e-4);
}

TEST(CpuOps, RopeLlama3ScalingFollowsTheDefinition) {
  const int D = 128;
  cpu::RopeScaling s;
  s.type = cpu::RopeScaling::Type::Llama3;
  s.factor = 8, s.low_freq_factor = 1, s.high_freq_factor = 4, s.original_max_position = 8192;
  std::vector<float> scaled(D / 2), plain(D / 2);
  cpu::rope_inv_freq(scaled.data(), D, 500000.0f, s);
  cpu::rope_inv_freq(plain.data(), D, 500000.0f, {});
  int kept = 0, divided = 0, blended = 0;
  for (int i = 0; i < D / 2; i++) {
    const double wavelen = 2 * M_PI / plain[i];
    if (wavelen < 8192.0 / 4) {
      EXPECT_FLOAT_EQ(scaled[i], plain[i]);
      kept++;
    } else if (wavelen > 8192.0) {
      EXPECT_NEAR(scaled[i], plain[i] / 8, 1e-6 * plain[i]);
      divided++;
    } else {
      const double smooth = (8192.0 / wavelen - 1) / (4 - 1);
      EXPECT_NEAR(scaled[i], (1 - smooth) * plain[i] / 8 + smooth * plain[i], 1e-6 * plain[i]);
      blended++;
    }
  }
  EXPECT_GT(kept, 0);
  EXPECT_GT(divided, 0);
  EXPECT_GT(blended, 0);
}

// D = 4 runs only the scalar tail of the kernels' dot products; D = 20 runs one 16-lane block plus a tail.
TEST(CpuOps, AttentionBackwardMatchesFiniteDifferences) {
  for (int D : {4, 20}) {
    SCOPED_TRACE("D = " + std::to_string(D));
    const int Hq = 4, Hkv = 2;
    const std::vector<int32_t> cu = {0, 3, 5, 9};
    const int T = cu.back(), B = 3;
    auto q = randn(T * Hq * D, 15), k = randn(T * Hkv * D, 16), v = randn(T * Hkv * D, 17);
    auto dout = randn(T * Hq * D, 18);
    std::vector<float> out(T * Hq * D), lse(T * Hq), dq(q.size(), 0), dk(k.size(), 0), dv(v.size(), 0);
    cpu::attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), cu.data(), B, T, Hq, Hkv, D);
    cpu::attention_backward(dq.data(), dk.data(), dv.data(), dout.data(), q.data(), k.data(), v.data(), out.data(),
                            lse.data(), cu.data(), B, T, Hq, Hkv, D);
    const Vec d = to_d(dout), qd = to_d(q), kd = to_d(k), vd = to_d(v);
    const Vec ref = ref_attention(qd, kd, vd, cu, Hq, Hkv, D);
    for (size_t i = 0; i < out.size(); i++) EXPECT_NEAR(out[i], ref[i], 1e-5);
    expect_grad("dq", qd, dq, [&](const Vec& x) { return dotv(d, ref_attention(x, kd, vd, cu, Hq, Hkv, D)); }, 40);
    expect_grad("dk", kd, dk, [&](const Vec& x) { return dotv(d, ref_attention(qd, x, vd, cu, Hq, Hkv, D)); }, 40);
    expect_grad("dv", vd, dv, [&](const Vec& x) { return dotv(d, ref_attention(qd, kd, x, cu, Hq, Hkv, D)); }, 40);
  }
}

namespace {

struct AttentionRun {
  std::vector<float> out, lse, dq, dk, dv;
};

// Forward and backward of one packed batch, with gradients accumulated onto the given starting values.
AttentionRun run_attention(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                           const std::vector<float>& dout, const std::vector<int32_t>& cu, int Hq, int Hkv, int D) {
  const int T = cu.back(), B = int(cu.size()) - 1;
  AttentionRun r{std::vector<float>(q.size()), std::vector<float>(size_t(T) * Hq), std::vector<float>(q.size(), 0.5f),
                 std::vector<float>(k.size(), -0.25f), std::vector<float>(v.size(), 1.0f)};
  cpu::attention_forward(r.out.data(), r.lse.data(), q.data(), k.data(), v.data(), cu.data(), B, T, Hq, Hkv, D);
  cpu::attention_backward(r.dq.data(), r.dk.data(), r.dv.data(), dout.data(), q.data(), k.data(), v.data(),
                          r.out.data(), r.lse.data(), cu.data(), B, T, Hq, Hkv, D);
  return r;
}

}  // namespace

// Large enough that the kernels really use a thread team: the result must not depend on its size.
TEST(CpuOps, AttentionIsBitwiseIndependentOfThreadCount) {
  const int Hq = 4, Hkv = 2, D = 32;
  const std::vector<int32_t> cu = {0, 40, 64, 100};
  const int T = cu.back();
  auto q = randn(T * Hq * D, 40), k = randn(T * Hkv * D, 41), v = randn(T * Hkv * D, 42);
  auto dout = randn(T * Hq * D, 43);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const AttentionRun one = run_attention(q, k, v, dout, cu, Hq, Hkv, D);
  omp_set_num_threads(3);
  const AttentionRun three = run_attention(q, k, v, dout, cu, Hq, Hkv, D);
  omp_set_num_threads(saved);
  EXPECT_EQ(one.out, three.out);
  EXPECT_EQ(one.lse, three.lse);
  EXPECT_EQ(one.dq, three.dq);
  EXPECT_EQ(one.dk, three.dk);
  EXPECT_EQ(one.dv, three.dv);
  // The backward accumulates: the starting values of the gradient buffers are still in there.
  std::vector<float> dq_zero(q.size(), 0.0f);
  std::vector<float> dk0(k.size(), 0), dv0(v.size(), 0);
  cpu::attention_backward(dq_zero.data(), dk0.data(), dv0.data(), dout.data(), q.data(), k.data(), v.data(),
                          one.out.data(), one.lse.data(), cu.data(), 3, T, Hq, Hkv, D);
  for (size_t i = 0; i < q.size(); i += 97) EXPECT_NEAR(one.dq[i], dq_zero[i] + 0.5f, 1e-5);
}

TEST(CpuOps, AttentionBackwardPackedEqualsSeparate) {
  const int Hq = 4, Hkv = 2, D = 24;
  const std::vector<int32_t> cu = {0, 6, 8, 19};
  const int T = cu.back();
  auto q = randn(T * Hq * D, 44), k = randn(T * Hkv * D, 45), v = randn(T * Hkv * D, 46);
  auto dout = randn(T * Hq * D, 47);
  const AttentionRun packed = run_attention(q, k, v, dout, cu, Hq, Hkv, D);
  for (int s = 0; s < 3; s++) {
    const int b = cu[s], n = cu[s + 1] - cu[s];
    auto slice = [&](const std::vector<float>& x, int H) {
      return std::vector<float>(x.begin() + size_t(b) * H * D, x.begin() + size_t(b + n) * H * D);
    };
    const AttentionRun alone = run_attention(slice(q, Hq), slice(k, Hkv), slice(v, Hkv), slice(dout, Hq), {0, n}, Hq,
                                             Hkv, D);
    EXPECT_EQ(alone.dq, slice(packed.dq, Hq)) << "sequence " << s;
    EXPECT_EQ(alone.dk, slice(packed.dk, Hkv)) << "sequence " << s;
    EXPECT_EQ(alone.dv, slice(packed.dv, Hkv)) << "sequence " << s;
  }
}

TEST(CpuOps, AddInplaceAccumulates) {
  std::vector<float> y = {1, 2, 3}, x = {0.5f, -2, 4};
  cpu::add_inplace(y.data(), x.data(), 3);
  EXPECT_EQ(y, (std::vector<float>{1.5f, 0, 7}));
}

TEST(CpuOps, AttentionPackedEqualsSeparate) {
  const int Hq = 4, Hkv = 2, D = 8;
  const std::vector<int32_t> cu = {0, 5, 7, 13};
  const int T = cu.back();
  auto q = randn(T * Hq * D, 19), k = randn(T * Hkv * D, 20), v = randn(T * Hkv * D, 21);
  std::vector<float> out(T * Hq * D), lse(T * Hq);
  cpu::attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), cu.data(), 3, T, Hq, Hkv, D);
  for (int s = 0; s < 3; s++) {
    const int b = cu[s], n = cu[s + 1] - cu[s];
    const std::vector<int32_t> one = {0, n};
    std::vector<float> o1(n * Hq * D), l1(n * Hq);
    cpu::attention_forward(o1.data(), l1.data(), q.data() + b * Hq * D, k.data() + b * Hkv * D, v.data() + b * Hkv * D,
                           one.data(), 1, n, Hq, Hkv, D);
    for (int i = 0; i < n * Hq * D; i++) EXPECT_EQ(o1[i], out[b * Hq * D + i]);
    for (int i = 0; i < n * Hq; i++) EXPECT_EQ(l1[i], lse[b * Hq + i]);
  }
}

TEST(CpuOps, LmHeadBackwardMatchesFiniteDifferencesWithEntropy) {
  const int T = 5, C = 6, V = 11;
  const float it = 1.0f / 0.7f;
  const std::vector<int32_t> tg = {3, -1, 0, 10, 7};
  auto x = randn(T * C, 22), W = randn(V * C, 23), wl = randn(T, 24), we = randn(T, 25);
  std::vector<float> lp(T), ent(T), dx(T * C, 0), dW(V * C, 0);
  cpu::lm_head_forward(lp.data(), ent.data(), x.data(), W.data(), tg.data(), T, C, V, it, 2);
  cpu::lm_head_backward(dx.data(), dW.data(), wl.data(), we.data(), x.data(), W.data(), tg.data(), T, C, V, it, 2);
  const Vec xd = to_d(x), Wd = to_d(W), wld = to_d(wl), wed = to_d(we);
  Vec lpref;
  for (int t = 0; t < T; t++) {
    Vec a(T, 0), b(T, 0);
    a[t] = 1;
    EXPECT_NEAR(lp[t], ref_head(xd, Wd, tg, a, b, T, C, V, it), 1e-5);
    a[t] = 0, b[t] = 1;
    EXPECT_NEAR(ent[t], ref_head(xd, Wd, tg, a, b, T, C, V, it), 1e-5);
  }
  EXPECT_EQ(lp[1], 0.0f);
  expect_grad("dx", xd, dx, [&](const Vec& v) { return ref_head(v, Wd, tg, wld, wed, T, C, V, it); }, 30);
  expect_grad("dW", Wd, dW, [&](const Vec& v) { return ref_head(xd, v, tg, wld, wed, T, C, V, it); }, 40);
}

TEST(CpuOps, LmHeadChunkedEqualsUnchunked) {
  const int T = 7, C = 5, V = 13;
  const std::vector<int32_t> tg = {1, 2, -1, 12, 0, 5, 5};
  auto x = randn(T * C, 26), W = randn(V * C, 27), gl = randn(T, 28), ge = randn(T, 29);
  std::vector<float> lp_ref, ent_ref, dx_ref, dW_ref;
  for (int chunk : {T, 1, 3}) {
    std::vector<float> lp(T), ent(T), dx(T * C, 0), dW(V * C, 0);
    cpu::lm_head_forward(lp.data(), ent.data(), x.data(), W.data(), tg.data(), T, C, V, 1.0f, chunk);
    cpu::lm_head_backward(dx.data(), dW.data(), gl.data(), ge.data(), x.data(), W.data(), tg.data(), T, C, V, 1.0f, chunk);
    if (chunk == T) {
      // chunk = T is the unchunked computation: check it against full logits built here.
      std::vector<float> logits(T * V);
      cpu::lm_head_logits(logits.data(), x.data(), W.data(), T, C, V);
      for (int t = 0; t < T; t++) {
        if (tg[t] < 0) continue;
        double m = -1e300, s = 0;
        for (int v = 0; v < V; v++) m = std::max(m, double(logits[t * V + v]));
        for (int v = 0; v < V; v++) s += std::exp(logits[t * V + v] - m);
        EXPECT_NEAR(lp[t], logits[t * V + tg[t]] - m - std::log(s), 1e-5);
      }
      lp_ref = lp, ent_ref = ent, dx_ref = dx, dW_ref = dW;
      continue;
    }
    for (int t = 0; t < T; t++) EXPECT_NEAR(lp[t], lp_ref[t], 1e-6) << "chunk " << chunk;
    for (int t = 0; t < T; t++) EXPECT_NEAR(ent[t], ent_ref[t], 1e-6) << "chunk " << chunk;
    for (int i = 0; i < T * C; i++) EXPECT_NEAR(dx[i], dx_ref[i], 1e-5) << "chunk " << chunk;
    for (int i = 0; i < V * C; i++) EXPECT_NEAR(dW[i], dW_ref[i], 1e-5) << "chunk " << chunk;
  }
}
