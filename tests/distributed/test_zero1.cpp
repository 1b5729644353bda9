// ZeRO-1 AdamW: 2 ranks, each with half of every batch and half of the moments, train the same weights as one
// rank with the whole batch; moments saved by 2 ranks resume on 1.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "dist_test_util.h"
#include "tiny_model.h"
#include "train/pretrain.h"

namespace r1 {
namespace {

double max_abs_diff(const float* a, const float* b, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; i++) m = std::max(m, std::abs(double(a[i]) - double(b[i])));
  return m;
}

PretrainOptions options() {
  PretrainOptions o;
  o.steps = 4;
  o.batch_tokens = 160;
  o.adamw.weight_decay = 0.1f;
  o.schedule = {LrSchedule::Kind::Constant, 3e-3f, 0, 4, 0.1f};
  o.clip_grad_norm = 0.5;  // small enough that clipping is active: the fused grad_scale path is exercised
  o.eval_every = 2;
  return o;
}

TEST(Zero1, TwoRankPretrainEqualsOneRank) {
  const auto docs = test::random_docs(64, 1), eval_docs = test::random_docs(8, 2);
  auto ref = test::tiny_model();
  std::vector<PretrainStep> ref_steps;
  pretrain(*ref, docs, eval_docs, options(), [&](const PretrainStep& s) { ref_steps.push_back(s); });

  std::vector<float> got(static_cast<size_t>(ref->num_params()));
  std::vector<PretrainStep> got_steps;
  test::run_threads(2, [&](dist::Session& s) {
    auto m = test::tiny_model();
    PretrainOptions o = options();
    o.comm = s.comm.get();
    std::vector<PretrainStep> steps;
    pretrain(*m, docs, eval_docs, o, [&](const PretrainStep& st) { steps.push_back(st); });
    if (s.comm->rank() == 0) {
      std::copy(m->params(), m->params() + m->num_params(), got.begin());
      got_steps = steps;
    }
  });
  ASSERT_EQ(got_steps.size(), ref_steps.size());
  for (size_t i = 0; i < ref_steps.size(); i++) {
    EXPECT_NEAR(got_steps[i].loss, ref_steps[i].loss, 1e-6) << "step " << i + 1;
    EXPECT_NEAR(got_steps[i].grad_norm, ref_steps[i].grad_norm, 1e-6 * ref_steps[i].grad_norm) << "step " << i + 1;
    if (!std::isnan(ref_steps[i].eval_loss)) {
      EXPECT_NEAR(got_steps[i].eval_loss, ref_steps[i].eval_loss, 1e-6);
    }
  }
  EXPECT_GT(ref_steps[0].grad_norm, options().clip_grad_norm);
  // The gradients of half batches add up in another order than the whole batch's (float sums), and AdamW's
  // m / sqrt(v) magnifies that noise on near-zero gradients to ~1e-3 of a step (lr 3e-3): bound it at 1e-5.
  // Exactness of the sharded update itself: StepOnIdenticalGradientsIsBitwiseTheOneRankStep.
  EXPECT_LE(max_abs_diff(got.data(), ref->params(), ref->num_params()), 1e-5);
  // The weights did move: equality is not trivially "nothing happened".
  auto init = test::tiny_model();
  EXPECT_GT(max_abs_diff(init->params(), ref->params(), ref->num_params()), 1e-3);
}

TEST(Zero1, EachRankHoldsMomentsOnlyForItsShard) {
  test::run_threads(2, [](dist::Session& s) {
    auto m = test::tiny_model();
    Optimizer opt(*m, AdamWConfig{}, s.comm.get());
    const int64_t n = m->num_params();
    EXPECT_NEAR(double(opt.shard().size()), n / 2.0, 64);
    std::vector<float> mm(static_cast<size_t>(n)), vv(static_cast<size_t>(n));
    EXPECT_THROW(m->read_optimizer_state(mm.data(), vv.data(), 0, n), Error);  // no full-size moments anywhere
    m->read_optimizer_state(mm.data(), vv.data(), opt.shard().begin, opt.shard().end);
    // The memory report counts this rank's moments (the larger shard of the two), not the whole model's.
    EXPECT_EQ(m->optimizer_state_bytes(), size_t(opt.shard().size()) * 2 * sizeof(float));
    const double largest = double(std::max(dist::shard_ranges(n, 2)[0].size(), dist::shard_ranges(n, 2)[1].size()));
    const auto report = opt.memory_metrics();
    EXPECT_DOUBLE_EQ(report.at("memory/optimizer_gib"), largest * 2 * sizeof(float) / double(1 << 30));
    EXPECT_FALSE(report.contains("memory/device_gib"));  // the CPU has no driver count
  });
}

// Trains `steps` steps with ZeRO-1 on `world` ranks (the batch's documents split by balanced_split, weights by
// target counts): the same arithmetic as pretrain(), but with explicit control of the optimizer.
void manual_steps(Transformer& m, Optimizer& opt, const std::vector<std::vector<int32_t>>& docs, int first, int steps) {
  dist::Communicator& c = opt.comm();
  for (int s = first; s < first + steps; s++) {
    std::vector<int64_t> lens;
    std::vector<size_t> idx;
    for (size_t k = 0; k < 6; k++) idx.push_back((size_t(s) * 6 + k) % docs.size()), lens.push_back(int64_t(docs[idx.back()].size()));
    const auto parts = dist::balanced_split(lens, c.world_size());
    PackedBatch b;
    for (size_t k = parts[size_t(c.rank())]; k < parts[size_t(c.rank()) + 1]; k++) b.add_sequence(docs[idx[k]]);
    double t[1] = {double(b.num_targets())};
    c.host_all_reduce_sum(t, 1);
    m.zero_grads();
    m.cross_entropy_step(b, true);
    opt.step(2e-3f, 1.0, c.world_size() == 1 ? 1.0 : double(b.num_targets()) / t[0]);
  }
}

TEST(Zero1, MomentsSavedByTwoRanksResumeOnOne) {
  const auto docs = test::random_docs(40, 5);
  const test::fs::path dir = test::scratch_dir("zero1_resume");
  // Uninterrupted: one rank, 5 steps.
  auto ref = test::tiny_model();
  Optimizer ref_opt(*ref, AdamWConfig{});
  manual_steps(*ref, ref_opt, docs, 0, 5);
  // Two ranks for 3 steps, then the moments and weights are saved...
  std::vector<float> params(static_cast<size_t>(ref->num_params()));
  test::run_threads(2, [&](dist::Session& s) {
    auto m = test::tiny_model();
    Optimizer opt(*m, AdamWConfig{}, s.comm.get());
    manual_steps(*m, opt, docs, 0, 3);
    opt.save_state((dir / "optimizer.safetensors").string());
    if (s.comm->rank() == 0) std::copy(m->params(), m->params() + m->num_params(), params.begin());
  });
  // ...and one rank continues for 2.
  auto m = test::tiny_model();
  std::copy(params.begin(), params.end(), m->params());
  Optimizer opt(*m, AdamWConfig{});
  opt.load_state((dir / "optimizer.safetensors").string());
  opt.set_steps_taken(3);
  manual_steps(*m, opt, docs, 3, 2);
  EXPECT_LE(max_abs_diff(m->params(), ref->params(), ref->num_params()), 1e-5);
  test::fs::remove_all(dir);
}

TEST(Zero1, StepOnIdenticalGradientsIsBitwiseTheOneRankStep) {
  // Both ranks hold the whole batch's gradient and weigh it by 1/2: the reduced gradient is exactly the
  // one-rank gradient, so (clipping off: the norm's sum order differs) the sharded update must match bit for bit.
  const auto docs = test::random_docs(6, 11);
  PackedBatch batch;
  for (const auto& d : docs) batch.add_sequence(d);
  auto ref = test::tiny_model();
  Optimizer ref_opt(*ref, AdamWConfig{0, 0.9f, 0.95f, 1e-8f, 0.1f});
  for (int s = 0; s < 3; s++) ref->zero_grads(), ref->cross_entropy_step(batch, true), ref_opt.step(1e-2f, 0);
  std::vector<float> got(static_cast<size_t>(ref->num_params()));
  test::run_threads(2, [&](dist::Session& s) {
    auto m = test::tiny_model();
    Optimizer opt(*m, AdamWConfig{0, 0.9f, 0.95f, 1e-8f, 0.1f}, s.comm.get());
    for (int k = 0; k < 3; k++) m->zero_grads(), m->cross_entropy_step(batch, true), opt.step(1e-2f, 0);
    if (s.comm->rank() == 1) std::copy(m->params(), m->params() + m->num_params(), got.begin());
  });
  EXPECT_EQ(max_abs_diff(got.data(), ref->params(), ref->num_params()), 0.0);
}

TEST(Zero1, OneRankStepIsPlainClippedAdamW) {
  // The single-process path must equal the reference kernels (clip the gradients, then AdamW) bit for bit.
  const auto docs = test::random_docs(6, 9);
  auto a = test::tiny_model(), b = test::tiny_model();
  PackedBatch batch;
  for (const auto& d : docs) batch.add_sequence(d);
  for (Transformer* m : {a.get(), b.get()}) m->zero_grads(), m->cross_entropy_step(batch, true);
  Optimizer opt(*a, AdamWConfig{0, 0.9f, 0.95f, 1e-8f, 0.1f});
  const double norm = opt.step(1e-2f, 0.1);
  const int64_t n = b->num_params();
  const double ref_norm = clip_grad_norm(b->grads(), n, 0.1);
  std::vector<float> mm(size_t(n), 0.0f), vv(size_t(n), 0.0f);
  for (const auto& p : b->layout().params())
    adamw_update(b->params() + p.offset, b->grads() + p.offset, mm.data() + p.offset, vv.data() + p.offset,
                 p.numel(), AdamWConfig{0, 0.9f, 0.95f, 1e-8f, 0.1f}, 1e-2f, 1, p.weight_decay);
  EXPECT_EQ(norm, ref_norm);
  EXPECT_EQ(max_abs_diff(a->params(), b->params(), n), 0.0);
}

}  // namespace
}  // namespace r1
