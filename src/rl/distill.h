// Distillation (DeepSeek-R1 §2.4 and §4.1) as one job: a TEACHER model's reasoning traces fine-tune a STUDENT.
//
//   teacher ──rejection sampling (N samples per TRAIN prompt; keep correct, well-formatted ones)──▶ traces.jsonl
//   student ──SFT on the traces (loss on the teacher's response tokens only)──▶ distilled student
//
// and the teacher (optional), the student before and the student after are evaluated on the same held-out
// benchmark, so the table shows what distillation changed and how far the student is from its teacher.
//
// The config holds teacher_model, student_model, run_dir and one section per stage, each a complete config of
// that stage's own job: traces (`r1 rejection-sample`, model.path = the teacher), sft (`r1 sft`, model.path =
// the student, data = the traces) and eval (`r1 eval`). The job fills in the links (model paths, trace and
// output paths). Model paths may name a model directory or a training run directory (its final checkpoint).
//
// Run directory:  <run>/traces/samples.jsonl + samples.stats.json, <run>/sft/ (the SFT run),
//                 <run>/eval/{teacher,student_base,student_distilled}/ (r1 eval's outputs),
//                 <run>/stages.md and stages.json (the table, rewritten after every stage).
// Resumable: traces with their statistics file, an SFT run with summary.json and an evaluation with
// results.json are not redone; an interrupted SFT resumes from its latest complete checkpoint.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "rl/pipeline.h"

namespace r1::rl {

// The rows of the table, in order ("teacher" only when evaluate_teacher is set; the `compare` models come
// after student_base).
const std::vector<std::string>& distill_stage_names();

// teacher_model, student_model, run_dir, evaluate_teacher, compare (other models evaluated alongside: name +
// model) and the sections traces, sft, eval.
const ConfigSchema& distill_config_schema();

struct DistillOptions {
  std::string run_dir;  // overrides the config's run_dir when not empty
};

struct DistillResult {
  std::vector<StageResult> stages;  // teacher (optional), student_base, the compared models, student_distilled
  std::string markdown;             // stages.md
  std::string run_dir;
  std::string traces_path;          // the SFT data: <run>/traces/samples.jsonl
  int64_t traces_kept = 0, traces_sampled = 0;  // from the traces' statistics
};

// Runs (or resumes) the distillation; writes everything under the run directory.
DistillResult run_distill(const Config& config, const DistillOptions& options = {});

}  // namespace r1::rl
