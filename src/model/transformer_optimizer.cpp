// The CPU Transformer's optimizer primitives (TrainableModel): AdamW moments live beside the flat buffers and
// cover one [begin, end) range (the whole model, or a ZeRO-1 shard); updates walk ParamLayout so weight decay
// applies exactly where the table says.
#include <algorithm>
#include <cmath>
#include <string>

#include "backend/cpu/optimizer.h"
#include "core/error.h"
#include "model/transformer.h"

namespace r1 {

namespace {

void check_range(int64_t begin, int64_t end, int64_t lo, int64_t hi, const char* what) {
  if (begin < lo || end > hi || begin > end)
    throw Error(std::string(what) + ": range [" + std::to_string(begin) + ", " + std::to_string(end) +
                ") outside [" + std::to_string(lo) + ", " + std::to_string(hi) + ")");
}

}  // namespace

double Transformer::grad_sum_squares(int64_t begin, int64_t end) {
  check_range(begin, end, 0, num_params(), "grad_sum_squares");
  const double norm = global_grad_norm(grads_.data() + begin, end - begin);
  return norm * norm;
}

void Transformer::init_optimizer_state(int64_t begin, int64_t end) {
  check_range(begin, end, 0, num_params(), "init_optimizer_state");
  adam_begin_ = begin;
  adam_m_.assign(size_t(end - begin), 0.0f);
  adam_v_.assign(size_t(end - begin), 0.0f);
}

void Transformer::adamw(const AdamWUpdate& u, int64_t begin, int64_t end) {
  check_range(begin, end, adam_begin_, adam_begin_ + int64_t(adam_m_.size()), "adamw (moments not initialised?)");
  const AdamWConfig c{u.lr, u.beta1, u.beta2, u.eps, u.weight_decay};
  for (const ParamInfo& p : layout_.params()) {
    const int64_t b = std::max(begin, p.offset), e = std::min(end, p.offset + p.numel());
    if (b >= e) continue;
    const int64_t m = b - adam_begin_;
    adamw_update(params_.data() + b, grads_.data() + b, adam_m_.data() + m, adam_v_.data() + m, e - b, c, u.lr, u.step,
                 p.weight_decay, u.grad_scale);
  }
}

void Transformer::read_optimizer_state(float* m, float* v, int64_t begin, int64_t end) const {
  check_range(begin, end, adam_begin_, adam_begin_ + int64_t(adam_m_.size()), "read_optimizer_state");
  std::copy(adam_m_.begin() + (begin - adam_begin_), adam_m_.begin() + (end - adam_begin_), m);
  std::copy(adam_v_.begin() + (begin - adam_begin_), adam_v_.begin() + (end - adam_begin_), v);
}

void Transformer::write_optimizer_state(const float* m, const float* v, int64_t begin, int64_t end) {
  check_range(begin, end, adam_begin_, adam_begin_ + int64_t(adam_m_.size()), "write_optimizer_state");
  std::copy(m, m + (end - begin), adam_m_.begin() + (begin - adam_begin_));
  std::copy(v, v + (end - begin), adam_v_.begin() + (begin - adam_begin_));
}

}  // namespace r1
