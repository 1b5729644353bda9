// Learning-rate schedules: linear warm-up from 0 over warmup_steps, then constant, cosine or linear decay to
// min_lr_ratio * lr at total_steps (and held there).
#pragma once
#include <cstdint>
#include <string>

namespace r1 {

struct LrSchedule {
  enum class Kind { Constant, Cosine, Linear };
  Kind kind = Kind::Constant;
  float lr = 1e-3f;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  float min_lr_ratio = 0.0f;

  // Learning rate of the 1-based optimizer step `step`.
  float lr_at(int64_t step) const;
};

LrSchedule::Kind parse_schedule_kind(const std::string& name);  // "constant" | "cosine" | "linear"

}  // namespace r1
