// Pretraining: the loop that turns a corpus into a base model — data -> tokens -> packed batches -> forward ->
// cross-entropy -> backward -> clip -> AdamW -> checkpoint. `r1 pretrain` uses it to make the tiny base model
// of the main job from the built-in reasoning corpus (imperfect solutions in mixed formats), so that R1-Zero
// RL has some ability to elicit, as the paper's R1-Zero starts from a pretrained base.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backend/cpu/optimizer.h"
#include "model/trainable_model.h"
#include "model/transformer.h"  // for the callers that build the CPU model through this header
#include "train/distributed/communicator.h"
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
  // Data parallel: each rank trains on a token-balanced share of every batch's documents (null: one process).
  dist::Communicator* comm = nullptr;
};

struct PretrainStep {
  int64_t step;
  double loss, grad_norm, lr, tokens_per_second;
  double eval_loss;  // NaN when not evaluated this step
};

// Trains `model` in place on tokenized documents (every rank passes the same documents and options).
// `eval_docs` give a held-out loss. on_step is called after every optimizer step (metrics, progress bar) with
// the global batch's loss and token count, the same on every rank.
void pretrain(TrainableModel& model, const std::vector<std::vector<int32_t>>& docs,
              const std::vector<std::vector<int32_t>>& eval_docs, const PretrainOptions& options,
              const std::function<void(const PretrainStep&)>& on_step);

// Mean next-token loss over documents (no gradient), in batches of batch_tokens.
// With comm, the batches are dealt round-robin to the ranks and the result is the same on every rank.
double evaluate_loss(TrainableModel& model, const std::vector<std::vector<int32_t>>& docs, int batch_tokens,
                     dist::Communicator* comm = nullptr);

// AdamW over a TrainableModel with ZeRO-1 sharding across the ranks of `comm` (a world of 1 when null):
//   grads --reduce-scatter (each rank's weighted)--> this rank's shard --sum of squares, all-reduced--> global norm
//   --AdamW on the shard, clipping fused as grad_scale--> updated shard --all-gather--> every rank's parameters.
// The AdamW moments exist only for this rank's shard (shard_ranges: deterministic in (num_params, world)), so
// optimizer memory per rank is 1/world. Checkpoints hold the full moments (save_state gathers them to rank 0,
// load_state takes each rank's shard of them), so a run resumes with a different world size. With one rank no
// collective runs and the update is bitwise the one of a plain AdamW with clipping.
class Optimizer {
 public:
  Optimizer(TrainableModel& model, AdamWConfig config, dist::Communicator* comm = nullptr);
  // Collective. Sums over ranks grad_weight * (this rank's gradients), clips to max_norm (if > 0) by the global
  // norm and steps; returns the pre-clip global norm. grad_weight 0 means 1/world (each rank's loss is a mean over
  // an equal share of the batch); a rank whose loss is a mean over n_local of n_global items passes
  // n_local / n_global, so the result is the gradient of the mean over the global batch. Non-finite norm: no step
  // on any rank, NaN.
  double step(float lr, double max_norm, double grad_weight = 0);
  int64_t steps_taken() const { return step_; }
  void set_steps_taken(int64_t s) { step_ = s; }
  const dist::Shard& shard() const { return shard_; }
  // Collective: the largest over the ranks of their AdamW moments and of their device memory in use, in GiB, as
  // metrics "memory/optimizer_gib" and "memory/device_gib" (the latter absent on the CPU). ZeRO-1 shows as the
  // first shrinking to 1/world and the second by as much.
  std::map<std::string, double> memory_metrics();
  dist::Communicator& comm() { return *comm_; }

  // Collective: writes {"adamw.m", "adamw.v"} (full [num_params] float32) to `path` from rank 0.
  void save_state(const std::string& path);
  // Collective: every rank reads its shard of the moments from `path` (written by any world size).
  void load_state(const std::string& path);

 private:
  TrainableModel& model_;
  AdamWConfig config_;
  std::unique_ptr<dist::Communicator> own_comm_;  // the world of 1 when none was given
  dist::Communicator* comm_;
  std::vector<dist::Shard> shards_;
  dist::Shard shard_;
  int64_t step_ = 0;
};

}  // namespace r1
