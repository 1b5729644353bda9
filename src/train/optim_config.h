// The `optim.*` keys every training job shares (AdamW + learning-rate schedule + clipping), declared and read in
// one place; each job chooses only its defaults.
#pragma once
#include "backend/cpu/optimizer.h"
#include "core/config.h"

namespace r1 {

struct OptimDefaults {
  double lr = 1e-3;
  const char* schedule = "constant";
  double beta2 = 0.99;
};

// optim.lr, optim.schedule, optim.warmup_steps, optim.weight_decay, optim.beta1, optim.beta2, optim.clip_grad_norm.
void add_optim_keys(ConfigSchema& schema, const OptimDefaults& defaults);
// AdamW's betas and weight decay from those keys (the learning rate comes from the schedule).
AdamWConfig adamw_config(const Config& config);

}  // namespace r1
