// Checkpoints of a training job (SFT, GRPO): the model as a complete Hugging Face directory, the full AdamW
// moments and the trainer's own state, written into a run directory's staging folder and committed atomically;
// and the way back. Collective under data parallelism: only rank 0 holds the run directory (dir is null on the
// other ranks) and writes, every rank takes part in gathering the optimizer's sharded moments, and on resume rank
// 0 picks the checkpoint and every rank reads it (the run directory is on a filesystem all ranks share).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "model/trainable_model.h"
#include "train/distributed/communicator.h"
#include "train/pretrain.h"
#include "train/run_dir.h"

namespace r1 {

struct TrainingCheckpoint {
  TrainableModel& model;
  Optimizer& optimizer;
  dist::Communicator& comm;
  std::string source_model_dir;  // its tokenizer files and generation config go into every checkpoint
};

// Writes step's checkpoint: model/, optimizer.safetensors, trainer_state.json ({"step", "optimizer_steps"} plus
// `state`), then commits it and keeps the newest `keep`.
void save_training_checkpoint(const TrainingCheckpoint& c, RunDir* dir, int64_t step, nlohmann::json state, int keep);

// Restores the latest complete checkpoint (weights, moments, optimizer step count); returns its trainer state
// (null when there is none: a fresh run). A malformed trainer_state.json is an error naming the file.
nlohmann::json restore_training_checkpoint(const TrainingCheckpoint& c, RunDir* dir);

}  // namespace r1
