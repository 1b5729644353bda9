// Paged decode attention: equals a double-precision reference over contiguous K/V, for sequences of different
// lengths with their pages scattered through the pool, GQA, and does not depend on the page size.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "backend/cpu/paged_attention.h"
#include "core/rng.h"

namespace r1 {
namespace {

struct Problem {
  int B, Hq, Hkv, D;
  std::vector<int> lens;
  std::vector<float> q;                  // [B, Hq, D]
  std::vector<std::vector<float>> k, v;  // per sequence [len, Hkv, D]
};

Problem make_problem(const std::vector<int>& lens, int Hq, int Hkv, int D, uint64_t seed) {
  Philox rng(seed, 0);
  Problem p{int(lens.size()), Hq, Hkv, D, lens, {}, {}, {}};
  p.q.resize(size_t(p.B) * Hq * D);
  for (auto& x : p.q) x = rng.normal();
  for (int len : lens) {
    std::vector<float> k(size_t(len) * Hkv * D), v(k.size());
    for (auto& x : k) x = rng.normal();
    for (auto& x : v) x = rng.normal();
    p.k.push_back(k);
    p.v.push_back(v);
  }
  return p;
}

// softmax(q k^T / sqrt(D)) v in double, contiguous.
void reference(const Problem& p, std::vector<double>& out, std::vector<double>& lse) {
  const int G = p.Hq / p.Hkv;
  out.assign(p.q.size(), 0.0);
  lse.assign(size_t(p.B) * p.Hq, 0.0);
  for (int b = 0; b < p.B; b++)
    for (int h = 0; h < p.Hq; h++) {
      const int g = h / G, L = p.lens[b];
      std::vector<double> s(L);
      for (int j = 0; j < L; j++) {
        double dot = 0;
        for (int d = 0; d < p.D; d++)
          dot += double(p.q[(size_t(b) * p.Hq + h) * p.D + d]) * p.k[b][(size_t(j) * p.Hkv + g) * p.D + d];
        s[j] = dot / std::sqrt(double(p.D));
      }
      const double m = *std::max_element(s.begin(), s.end());
      double z = 0;
      for (double& x : s) z += (x = std::exp(x - m));
      lse[size_t(b) * p.Hq + h] = m + std::log(z);
      for (int j = 0; j < L; j++)
        for (int d = 0; d < p.D; d++)
          out[(size_t(b) * p.Hq + h) * p.D + d] += s[j] / z * p.v[b][(size_t(j) * p.Hkv + g) * p.D + d];
    }
}

// Scatters every sequence into pages of page_size, page ids shuffled through a pool with spare pages, and runs
// the kernel.
void run_paged(const Problem& p, int page_size, uint64_t shuffle_seed, std::vector<float>& out,
               std::vector<float>& lse) {
  std::vector<int> pages_per_seq;
  int total = 0;
  for (int len : p.lens) pages_per_seq.push_back((len + page_size - 1) / page_size), total += pages_per_seq.back();
  const int pool_pages = total + 5;
  std::vector<int32_t> ids(pool_pages);
  std::iota(ids.begin(), ids.end(), 0);
  Philox rng(shuffle_seed, 1);
  for (int i = pool_pages - 1; i > 0; i--) std::swap(ids[i], ids[rng.below(uint64_t(i) + 1)]);
  const int64_t slot = int64_t(p.Hkv) * p.D;
  std::vector<float> kpool(size_t(pool_pages) * page_size * slot, NAN), vpool(kpool.size(), NAN);
  std::vector<int32_t> indptr{0}, indices;
  int next = 0;
  for (int b = 0; b < p.B; b++) {
    for (int i = 0; i < pages_per_seq[b]; i++) indices.push_back(ids[next++]);
    indptr.push_back(int32_t(indices.size()));
    for (int j = 0; j < p.lens[b]; j++) {
      const int64_t at = (int64_t(indices[indptr[b] + j / page_size]) * page_size + j % page_size) * slot;
      std::copy_n(p.k[b].begin() + j * slot, slot, kpool.begin() + at);
      std::copy_n(p.v[b].begin() + j * slot, slot, vpool.begin() + at);
    }
  }
  out.assign(p.q.size(), 0.0f);
  lse.assign(size_t(p.B) * p.Hq, 0.0f);
  std::vector<int32_t> lens(p.lens.begin(), p.lens.end());
  cpu::paged_attention_decode(out.data(), lse.data(), p.q.data(), kpool.data(), vpool.data(), indptr.data(),
                              indices.data(), lens.data(), p.B, p.Hq, p.Hkv, p.D, page_size);
}

TEST(PagedAttention, MatchesContiguousReferenceWithGqa) {
  const Problem p = make_problem({1, 17, 40, 5}, 4, 2, 8, 3);
  std::vector<double> ref_out, ref_lse;
  reference(p, ref_out, ref_lse);
  std::vector<float> out, lse;
  run_paged(p, 16, 9, out, lse);
  for (size_t i = 0; i < out.size(); i++) ASSERT_NEAR(out[i], ref_out[i], 1e-5) << "element " << i;
  for (size_t i = 0; i < lse.size(); i++) ASSERT_NEAR(lse[i], ref_lse[i], 1e-5) << "lse " << i;
}

TEST(PagedAttention, MultiQueryAndMultiHeadMatchReference) {
  for (const auto& [Hq, Hkv] : std::vector<std::pair<int, int>>{{6, 1}, {3, 3}}) {
    const Problem p = make_problem({33, 2, 9}, Hq, Hkv, 16, 5);
    std::vector<double> ref_out, ref_lse;
    reference(p, ref_out, ref_lse);
    std::vector<float> out, lse;
    run_paged(p, 8, 2, out, lse);
    for (size_t i = 0; i < out.size(); i++) ASSERT_NEAR(out[i], ref_out[i], 1e-5) << "Hq " << Hq << " Hkv " << Hkv;
  }
}

TEST(PagedAttention, ResultDoesNotDependOnPageSizeOrPlacement) {
  const Problem p = make_problem({23, 64, 7}, 4, 2, 8, 11);
  std::vector<float> base, lse;
  run_paged(p, 16, 1, base, lse);
  for (int page_size : {1, 3, 16, 64}) {
    std::vector<float> out;
    run_paged(p, page_size, uint64_t(page_size) * 7, out, lse);
    for (size_t i = 0; i < out.size(); i++) ASSERT_EQ(out[i], base[i]) << "page size " << page_size;
  }
}

}  // namespace
}  // namespace r1
