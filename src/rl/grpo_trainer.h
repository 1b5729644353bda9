// The GRPO trainer: R1-Zero-style reinforcement learning with rule-based rewards and no critic.
//
// One step:   prompts ──engine──▶ G completions each (log-probs recorded) ──rewards──▶ scores
//             ──group advantages──▶ (DAPO: drop groups whose rewards are all equal, refill) ──▶ μ passes over
//             minibatches of packed prompt+completion sequences: policy log-probs, clipped-ratio loss (+ k3 KL to a
//             frozen reference when β > 0), backward, clip, AdamW ──▶ the engine reads the new weights in place.
// Everything random in a step derives from (seed, step), and checkpoints hold weights, AdamW moments and the
// step, so a resumed run reproduces the metrics of an uninterrupted one.
//
// Data parallel (launched by torchrun / r1 launch / mpirun / srun, docs/distributed.md): each rank rolls out a
// contiguous share of every step's prompts and trains on a share of every minibatch, with loss weights that are
// shares of the GLOBAL minibatch, so N ranks reproduce one process's metrics; rank 0 writes the run directory,
// and a checkpoint resumes with any number of ranks.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"

namespace r1::rl {

// All keys of a GRPO run's YAML config, with defaults, limits and help text.
const ConfigSchema& grpo_config_schema();

struct GrpoRunOptions {
  std::string run_dir;  // runs/NAME
  bool resume = false;  // continue from the latest complete checkpoint
  int max_steps_this_run = -1;  // stop early after this many steps (tests simulate a killed run); -1: no limit
};

struct GrpoSummary {
  double base_accuracy = 0, final_accuracy = 0, base_format_rate = 0, final_format_rate = 0;
  int64_t steps = 0;
};

// Runs (or resumes) a GRPO job described by `config`; writes everything into options.run_dir.
GrpoSummary run_grpo(const Config& config, const GrpoRunOptions& options);

}  // namespace r1::rl
