#include "train/training_checkpoint.h"

#include <filesystem>

#include "core/error.h"
#include "core/log.h"
#include "model/hf_export.h"

namespace r1 {

namespace fs = std::filesystem;

void save_training_checkpoint(const TrainingCheckpoint& c, RunDir* dir, int64_t step, nlohmann::json state, int keep) {
  const fs::path staging = dir ? dir->begin_checkpoint(step) : fs::path();
  if (dir) {
    HfExportOptions hf;
    hf.source_dir = c.source_model_dir;
    c.model.pull_params();
    save_hf_model_dir((staging / "model").string(), c.model.config(), c.model.layout(), c.model.host_params(), hf);
  }
  // Every rank takes part (the moments are gathered to rank 0); full moments resume with any world size.
  c.optimizer.save_state(dir ? (staging / "optimizer.safetensors").string() : std::string());
  if (!dir) return;
  state["step"] = step;
  state["optimizer_steps"] = c.optimizer.steps_taken();
  write_file_atomic(staging / "trainer_state.json", std::string_view(state.dump(2) + "\n"));
  dir->commit_checkpoint(step);
  dir->prune_checkpoints(keep);
}

nlohmann::json restore_training_checkpoint(const TrainingCheckpoint& c, RunDir* dir) {
  std::string found;
  if (dir)
    if (const auto latest = dir->latest_complete_checkpoint()) found = latest->dir.string();
  found = c.comm.host_broadcast(found, 0);
  if (found.empty()) return nullptr;
  const fs::path ckpt(found);
  reload_weights(c.model, (ckpt / "model").string());
  c.optimizer.load_state((ckpt / "optimizer.safetensors").string());
  const fs::path state_path = ckpt / "trainer_state.json";
  nlohmann::json state;
  try {
    state = nlohmann::json::parse(read_file(state_path));
    state.at("step").get<int64_t>();
    c.optimizer.set_steps_taken(state.at("optimizer_steps").get<int64_t>());
  } catch (const nlohmann::json::exception& e) {
    fail_in_file(state_path.string(), std::string("unreadable trainer state: ") + e.what());
  }
  log::info("resumed from ", found, " (step ", state["step"].get<int64_t>(), ")");
  return state;
}

}  // namespace r1
