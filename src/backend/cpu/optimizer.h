// AdamW (Loshchilov & Hutter) over ranges of the flat parameter buffer, and gradient clipping by global norm.
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
//   p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)  +  lr * wd * p   (decay decoupled, only where `decay`)
#pragma once
#include <cstdint>

namespace r1 {

struct AdamWConfig {
  float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f, weight_decay = 0.0f;
};

// One update of n parameters; step is 1-based (bias correction).
// The gradients are multiplied by grad_scale first (clipping fused into the update).
void adamw_update(float* params, const float* grads, float* m, float* v, int64_t n, const AdamWConfig& config,
                  float lr, int64_t step, bool decay, float grad_scale = 1.0f);

// sqrt(sum g^2), accumulated in double.
double global_grad_norm(const float* grads, int64_t n);
// Scales the gradients in place when their norm exceeds max_norm; returns the norm before clipping.
double clip_grad_norm(float* grads, int64_t n, double max_norm);

}  // namespace r1
