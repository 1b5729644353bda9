// The DeepSeek-R1 pipeline (R1 §2.3) as one job: a base model goes through
//   cold-start SFT ──▶ reasoning RL (GRPO) ──▶ rejection sampling + SFT ──▶ final RL
// with each stage's final checkpoint feeding the next, and every model (the base included) evaluated on the
// same held-out benchmark afterwards, so the per-stage table shows what each stage changed.
//
// The pipeline config holds one section per stage, each a complete config of that stage's own job
// (cold_start and rejection_sft: `r1 sft`; reasoning_rl and final_rl: `r1 grpo`; rejection:
// `r1 rejection-sample`; eval: `r1 eval`) with every key and default of that job. The pipeline fills in what
// links the stages: model.path (the previous stage's model), the rejection samples' path, the output paths.
//
// Run directory:  <run>/cold_start, reasoning_rl, rejection (samples.jsonl + stats), rejection_sft, final_rl
//                 <run>/eval/<stage>/ (r1 eval's outputs), <run>/stages.md and stages.json (the table).
// Resumable: a training stage whose directory holds summary.json, a rejection stage with its statistics file,
// and an evaluation with results.json are not run again; an interrupted training stage resumes from its latest
// complete checkpoint.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config.h"

namespace r1::rl {

// The stages, in order ("base" is evaluated only).
const std::vector<std::string>& pipeline_stage_names();

// base_model, run_dir and one section per stage (see above).
const ConfigSchema& pipeline_config_schema();

// A stage's own config: the section `section` of the pipeline config (its model.path left as given, "" when
// the pipeline is to fill it in).
Config pipeline_section(const Config& pipeline, const std::string& section);

struct PipelineOptions {
  std::string run_dir;  // overrides the config's run_dir when not empty
};

struct StageResult {
  std::string stage;      // "base", "cold_start", ...
  std::string model_dir;  // the model this stage produced (base: the base model)
  bool skipped = false;   // already finished by an earlier run
  double seconds = 0;     // wall time of the stage's training and evaluation in this run
  std::string detail;     // what the stage did ("216 steps", "kept 812 of 2048 samples")
  nlohmann::json metrics;  // the first benchmark's metrics: {"pass@1": {"value", "ci_low", "ci_high"}, ...}
};

struct PipelineResult {
  std::vector<StageResult> stages;
  std::string markdown;  // stages.md
  std::string run_dir;
};

// Runs (or resumes) the pipeline; writes everything under the run directory.
PipelineResult run_pipeline(const Config& config, const PipelineOptions& options = {});

// ---- building blocks of multi-stage jobs (r1 pipeline, r1 distill) ----

// Values a job sets in a stage's section before running it: dotted key path -> value.
using SectionSets = std::vector<std::pair<std::string, nlohmann::ordered_json>>;

// Mounts every key of a stage job's schema under "section.", keeping types, limits and help. model.path gets an
// empty default: the multi-stage job fills it in.
void mount_stage_schema(ConfigSchema& schema, const std::string& section, const ConfigSchema& stage);

// The job-level `device` key (null, cpu or cuda) that linked_section copies into every section.
void add_job_device_key(ConfigSchema& schema);

// The section `section` of `job` as a config of its own, with model.path = `model` (unless empty), the job's
// device (when the job has a non-null `device` key; an error when the section's job has no device key) and
// `sets` applied; its source names the job's file and the section, so errors point at the right place.
Config linked_section(const Config& job, const std::string& section, const std::string& model,
                      const SectionSets& sets = {});

// The final model of a finished training run directory: its latest complete checkpoint's model/ directory.
std::string final_model_of(const std::string& run_dir);

// A model directory (with config.json) as is, or a training run directory's final model (the main job's
// runs/r1-zero-tiny, say). Anything else is an r1::Error naming `field` of `source`.
std::string resolve_model_dir(const std::string& path, const std::string& source, const std::string& field);

// Evaluates `model` with the job's section `eval_section` (an `r1 eval` config) into `out` unless out holds
// results.json already (then *ran = false), and returns the first benchmark's metrics from results.json.
nlohmann::json evaluate_into(const Config& job, const std::string& eval_section, const std::string& out,
                             const std::string& model, bool* ran);

// The per-stage table: one row per stage, one column per metric of the first stage, in percent.
std::string pipeline_markdown(const std::vector<StageResult>& stages);
nlohmann::json pipeline_json(const std::vector<StageResult>& stages);

}  // namespace r1::rl
