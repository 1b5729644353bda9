// Pretraining: the loop that turns a corpus into a base model — data -> tokens -> packed batches -> forward ->
// cross-entropy -> backward -> clip -> AdamW -> checkpoint. `r1 pretrain` uses it to make the tiny base model
// of the main job from the built-in reasoning corpus (imperfect solutions in mixed formats), so that R1-Zero
// RL has some ability to elicit, as the paper's R1-Zero starts from a pretrained base.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/transformer.h"
#include "train/optimizer.h"
#include "train/schedule.h"

namespace r1 {

struct PretrainOptions {
  int steps = 300;
  int batch_tokens = 2048;  // tokens per optimizer step (whole documents packed up to this budget)
  AdamWConfig adamw;
  LrSchedule schedule;
  double clip_grad_norm = 1.0;
  uint64_t seed = 0;
  int eval_every = 50;       // held-out loss every N steps (0: never)
  int log_every = 10;
};

struct PretrainStep {
  int64_t step;
  double loss, grad_norm, lr, tokens_per_second;
  double eval_loss;  // NaN when not evaluated this step
};

// Trains `model` in place on tokenized documents. `eval_docs` give a held-out loss. on_step is called after
// every optimizer step (metrics, progress bar).
void pretrain(Transformer& model, const std::vector<std::vector<int32_t>>& docs,
              const std::vector<std::vector<int32_t>>& eval_docs, const PretrainOptions& options,
              const std::function<void(const PretrainStep&)>& on_step);

// Mean next-token loss over documents (no gradient), in batches of batch_tokens.
double evaluate_loss(Transformer& model, const std::vector<std::vector<int32_t>>& docs, int batch_tokens);

// Applies one AdamW step to the model from its accumulated gradients with per-tensor decay from ParamLayout.
class Optimizer {
 public:
  Optimizer(Transformer& model, AdamWConfig config);
  // Clips to max_norm (if > 0) and steps; returns the pre-clip gradient norm. Non-finite norm: no step, NaN.
  double step(float lr, double max_norm);
  int64_t steps_taken() const { return step_; }
  std::vector<float>& m() { return m_; }
  std::vector<float>& v() { return v_; }
  void set_steps_taken(int64_t s) { step_ = s; }

 private:
  Transformer& model_;
  AdamWConfig config_;
  std::vector<float> m_, v_;
  int64_t step_ = 0;
};

}  // namespace r1
