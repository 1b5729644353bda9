// The distillation job: run_rejection_sampling on the teacher, run_sft on the student, run_eval around them
// (see distill.h). The stage plumbing (sections, model links, evaluation, resume) is the pipeline's.
#include "rl/distill.h"

#include <chrono>
#include <filesystem>

#include "core/error.h"
#include "core/log.h"
#include "eval/runner.h"
#include "rl/rejection_sampling.h"
#include "train/run_dir.h"
#include "train/sft.h"

namespace r1::rl {

namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

StageResult row(std::string stage, std::string model_dir, std::string detail) {
  StageResult r;
  r.stage = std::move(stage);
  r.model_dir = std::move(model_dir);
  r.detail = std::move(detail);
  return r;
}

}  // namespace

const std::vector<std::string>& distill_stage_names() {
  static const std::vector<std::string> names = {"teacher", "student_base", "student_distilled"};
  return names;
}

const ConfigSchema& distill_config_schema() {
  static const ConfigSchema schema = [] {
    using T = ConfigType;
    ConfigSchema s;
    s.add("teacher_model", T::String, nullptr,
          "The model whose traces are distilled: a Hugging Face model directory or a training run directory "
          "(its latest complete checkpoint, e.g. runs/r1-zero-tiny)");
    s.add("student_model", T::String, nullptr,
          "The model fine-tuned on the traces (a smaller base, say): model directory or run directory");
    s.add("run_dir", T::String, "runs/distill", "Where the traces, the SFT run, the evaluations and the table go");
    add_job_device_key(s);
    s.add("evaluate_teacher", T::Bool, true, "Evaluate the teacher too (a row of the table: the student's ceiling)");
    ConfigSchema other;
    other.add("name", T::String, nullptr, "Row name (e.g. student_rl); its evaluation goes to <run>/eval/<name>");
    other.add("model", T::String, nullptr, "Model directory or training run directory");
    s.add("compare", T::ObjectList, nlohmann::json::array(),
          "Other models evaluated with the same eval section, as rows after student_base (e.g. the student "
          "trained by RL with the teacher's budget)")
        .items(other);
    mount_stage_schema(s, "traces", rejection_sampling_config_schema());
    mount_stage_schema(s, "sft", sft_config_schema());
    mount_stage_schema(s, "eval", eval::eval_config_schema());
    return s;
  }();
  return schema;
}

DistillResult run_distill(const Config& config, const DistillOptions& options) {
  DistillResult result;
  result.run_dir = options.run_dir.empty() ? config.get_string("run_dir") : options.run_dir;
  const fs::path run = result.run_dir;
  const std::string teacher = resolve_model_dir(config.get_string("teacher_model"), config.source(), "teacher_model");
  const std::string student = resolve_model_dir(config.get_string("student_model"), config.source(), "student_model");
  fs::create_directories(run);

  auto write_table = [&] {
    result.markdown = pipeline_markdown(result.stages);
    write_file_atomic(run / "stages.md", result.markdown);
    write_file_atomic(run / "stages.json", pipeline_json(result.stages).dump(2) + "\n");
  };
  // One row: evaluates `model` into <run>/eval/<stage> (unless done); `trained` says the stage's own work ran.
  auto add_row = [&](StageResult st, bool trained, std::chrono::steady_clock::time_point t0) {
    bool ran = false;
    st.metrics = evaluate_into(config, "eval", (run / "eval" / st.stage).string(), st.model_dir, &ran);
    st.skipped = !trained && !ran;
    st.seconds = st.skipped ? 0 : seconds_since(t0);
    log::info("distill: ", st.stage, st.skipped ? " (already done)" : "", " -> ", st.model_dir);
    result.stages.push_back(std::move(st));
    write_table();  // the table so far, so an interrupted job still shows what it reached
  };

  if (config.get_bool("evaluate_teacher"))
    add_row(row("teacher", teacher, "the teacher"), false, std::chrono::steady_clock::now());
  add_row(row("student_base", student, "the student before distillation"), false, std::chrono::steady_clock::now());
  for (const Config& other : config.get_objects("compare")) {
    const std::string name = other.get_string("name");
    for (const StageResult& done : result.stages)
      if (done.stage == name) fail_in_field(other.source(), "name", "'" + name + "' names another row already");
    if (name == "student_distilled" || name.empty() || name.find('/') != std::string::npos)
      fail_in_field(other.source(), "name", "'" + name + "' is not a free row name");
    add_row(row(name, resolve_model_dir(other.get_string("model"), other.source(), "model"), "compared"), false,
            std::chrono::steady_clock::now());
  }

  // 1. Traces: the teacher's correct, well-formed samples on TRAIN prompts.
  const auto t0 = std::chrono::steady_clock::now();
  bool trained = false;
  const fs::path traces_dir = run / "traces";
  const fs::path traces = traces_dir / "samples.jsonl", stats = traces_dir / "samples.stats.json";
  result.traces_path = traces.string();
  if (!fs::exists(stats)) {
    fs::create_directories(traces_dir);
    log::info("distill: sampling traces from the teacher ", teacher);
    run_rejection_sampling(linked_section(config, "traces", teacher,
                                          {{"output.path", traces.string()}, {"output.stats", stats.string()}}));
    trained = true;
  }
  const nlohmann::json st = nlohmann::json::parse(read_file(stats));
  result.traces_kept = st.at("kept").get<int64_t>();
  result.traces_sampled = st.at("samples").get<int64_t>();
  if (result.traces_kept == 0)
    fail_in_file(traces.string(), "the teacher's samples all failed the filters: nothing to distill (more "
                                  "traces.sampling.n or traces.problems.count, or a stronger teacher)");

  // 2. SFT of the student on the traces.
  const fs::path sft_dir = run / "sft";
  std::string detail = "kept " + std::to_string(result.traces_kept) + " of " + std::to_string(result.traces_sampled) +
                       " teacher samples";
  if (!fs::exists(sft_dir / "summary.json")) {
    log::info("distill: fine-tuning the student ", student, " on ", traces.string());
    SftRunOptions o;
    o.run_dir = sft_dir.string();
    o.resume = fs::exists(sft_dir) && !fs::is_empty(sft_dir);
    const SftSummary s =
        run_sft(linked_section(config, "sft", student, {{"data.source", "jsonl"}, {"data.path", traces.string()}}), o);
    detail += "; " + std::to_string(s.steps) + " SFT steps on " + std::to_string(s.train_examples) + " traces";
    trained = true;
  } else {
    const nlohmann::json sj = nlohmann::json::parse(read_file(sft_dir / "summary.json"));
    detail += "; " + std::to_string(sj.value("steps", int64_t(0))) + " SFT steps on " +
              std::to_string(sj.value("training conversations", int64_t(0))) + " traces";
  }
  add_row(row("student_distilled", final_model_of(sft_dir.string()), detail), trained, t0);
  return result;
}

}  // namespace r1::rl
