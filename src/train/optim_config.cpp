#include "train/optim_config.h"

namespace r1 {

void add_optim_keys(ConfigSchema& s, const OptimDefaults& d) {
  using T = ConfigType;
  s.add("optim.lr", T::Float, d.lr, "Peak learning rate").greater_than(0);
  s.add("optim.schedule", T::String, d.schedule, "Learning-rate schedule").one_of({"constant", "cosine", "linear"});
  s.add("optim.warmup_steps", T::Int, 0, "Warm-up optimizer steps").at_least(0);
  s.add("optim.weight_decay", T::Float, 0.0, "AdamW decoupled weight decay").at_least(0);
  s.add("optim.beta1", T::Float, 0.9, "AdamW beta1").range(0, 1);
  s.add("optim.beta2", T::Float, d.beta2, "AdamW beta2").range(0, 1);
  s.add("optim.clip_grad_norm", T::Float, 1.0, "Clip gradients to this global norm (0: off)").at_least(0);
}

AdamWConfig adamw_config(const Config& c) {
  AdamWConfig a;
  a.beta1 = float(c.get_float("optim.beta1"));
  a.beta2 = float(c.get_float("optim.beta2"));
  a.weight_decay = float(c.get_float("optim.weight_decay"));
  return a;
}

}  // namespace r1
