#include "train/schedule.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace r1 {

float LrSchedule::lr_at(int64_t step) const {
  if (warmup_steps > 0 && step <= warmup_steps) return lr * float(step) / float(warmup_steps);
  if (kind == Kind::Constant) return lr;
  const double span = double(std::max<int64_t>(1, total_steps - warmup_steps));
  const double progress = std::clamp(double(step - warmup_steps) / span, 0.0, 1.0);
  const double floor = double(min_lr_ratio) * lr;
  const double shape = kind == Kind::Cosine ? 0.5 * (1.0 + std::cos(M_PI * progress)) : 1.0 - progress;
  return float(floor + (double(lr) - floor) * shape);
}

LrSchedule::Kind parse_schedule_kind(const std::string& name) {
  if (name == "constant") return LrSchedule::Kind::Constant;
  if (name == "cosine") return LrSchedule::Kind::Cosine;
  if (name == "linear") return LrSchedule::Kind::Linear;
  throw Error("unknown learning-rate schedule '" + name + "' (expected constant, cosine or linear)");
}

}  // namespace r1
