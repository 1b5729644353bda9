#include "train/pretrain.h"

#include <chrono>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/rng.h"

namespace r1 {

Optimizer::Optimizer(Transformer& model, AdamWConfig config)
    : model_(model), config_(config), m_(size_t(model.num_params()), 0.0f), v_(size_t(model.num_params()), 0.0f) {}

double Optimizer::step(float lr, double max_norm) {
  const int64_t n = model_.num_params();
  const double norm = max_norm > 0 ? clip_grad_norm(model_.grads(), n, max_norm) : global_grad_norm(model_.grads(), n);
  if (!std::isfinite(norm)) return std::numeric_limits<double>::quiet_NaN();
  step_++;
  for (const auto& p : model_.layout().params()) {
    const int64_t off = p.offset, len = p.shape.numel();
    adamw_update(model_.params() + off, model_.grads() + off, m_.data() + off, v_.data() + off, len, config_, lr, step_,
                 p.weight_decay);
  }
  return norm;
}

namespace {

// Consecutive documents from `order` starting at *cursor, up to `budget` tokens (at least one document).
PackedBatch next_batch(const std::vector<std::vector<int32_t>>& docs, const std::vector<size_t>& order, size_t* cursor,
                       int budget) {
  PackedBatch b;
  while (true) {
    const auto& d = docs[order[*cursor % order.size()]];
    if (b.num_tokens() > 0 && b.num_tokens() + int(d.size()) > budget) break;
    b.add_sequence(d);
    (*cursor)++;
    if (b.num_tokens() >= budget) break;
  }
  return b;
}

}  // namespace

double evaluate_loss(Transformer& model, const std::vector<std::vector<int32_t>>& docs, int batch_tokens) {
  std::vector<size_t> order(docs.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  size_t cursor = 0;
  double sum = 0, count = 0;
  while (cursor < docs.size()) {
    PackedBatch b = next_batch(docs, order, &cursor, batch_tokens);
    const int64_t n = b.num_targets();
    if (n == 0) continue;
    sum += model.cross_entropy_step(b, false) * double(n);
    count += double(n);
  }
  return count > 0 ? sum / count : std::numeric_limits<double>::quiet_NaN();
}

void pretrain(Transformer& model, const std::vector<std::vector<int32_t>>& docs,
              const std::vector<std::vector<int32_t>>& eval_docs, const PretrainOptions& o,
              const std::function<void(const PretrainStep&)>& on_step) {
  if (docs.empty()) throw Error("pretrain: the corpus is empty");
  // A fixed shuffled order of the documents, cycled through: deterministic in the seed.
  std::vector<size_t> order(docs.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  Philox rng(o.seed, 31);
  for (size_t i = order.size(); i > 1; i--) std::swap(order[i - 1], order[size_t(rng.below(i))]);
  Optimizer opt(model, o.adamw);
  size_t cursor = 0;
  for (int64_t step = 1; step <= o.steps; step++) {
    const auto t0 = std::chrono::steady_clock::now();
    PackedBatch batch = next_batch(docs, order, &cursor, o.batch_tokens);
    model.zero_grads();
    const double loss = model.cross_entropy_step(batch, true);
    const float lr = o.schedule.lr_at(step);
    const double norm = opt.step(lr, o.clip_grad_norm);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    PretrainStep s{step, loss, norm, lr, batch.num_tokens() / secs, std::numeric_limits<double>::quiet_NaN()};
    if (!eval_docs.empty() && o.eval_every > 0 && (step % o.eval_every == 0 || step == o.steps))
      s.eval_loss = evaluate_loss(model, eval_docs, o.batch_tokens);
    if (on_step) on_step(s);
  }
}

}  // namespace r1
