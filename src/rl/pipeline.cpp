// The R1 pipeline job: composes run_sft, run_grpo, run_rejection_sampling and run_eval (see pipeline.h).
#include "rl/pipeline.h"

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "core/log.h"
#include "eval/runner.h"
#include "rl/grpo_trainer.h"
#include "rl/rejection_sampling.h"
#include "train/run_dir.h"
#include "train/sft.h"

namespace r1::rl {

namespace fs = std::filesystem;

namespace {

using T = ConfigType;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

bool has_content(const fs::path& dir) { return fs::exists(dir) && !fs::is_empty(dir); }

}  // namespace

void mount_stage_schema(ConfigSchema& s, const std::string& section, const ConfigSchema& stage) {
  for (const ConfigKey& k : stage.keys()) {
    ConfigKey& r = s.add(section + "." + k.path, k.type, k.default_value, k.help);
    const std::string path = r.path;
    r = k;
    r.path = path;
    if (k.path == "model.path") {
      r.default_value = "";
      r.help = "Filled in by the job: the model this stage starts from (leave empty)";
    }
  }
}

void add_job_device_key(ConfigSchema& s) {
  s.add("device", T::String, nullptr,
        "Device of every stage (cpu, cuda), written into each section's own device key (null: each section's own)")
      .allow_null()
      .one_of({"cpu", "cuda"});
}

Config linked_section(const Config& job, const std::string& section, const std::string& model,
                      const SectionSets& sets) {
  nlohmann::ordered_json v = job.at(section);
  if (!model.empty()) v["model"]["path"] = model;
  // The job's device wins over the sections' own; a stage job without a device key runs on the CPU only, and
  // running it there silently would be wrong (hours for a model meant for the GPU), so that is an error.
  if (job.has("device") && !job.is_null("device")) {
    if (!job.has(section + ".device"))
      fail_in_field(job.source(), "device",
                    "is '" + job.get_string("device") + "' but the " + section + " stage's job has no device key");
    v["device"] = job.at("device");
  }
  for (const auto& [path, value] : sets) {
    nlohmann::ordered_json* node = &v;
    size_t start = 0;
    for (size_t dot; (dot = path.find('.', start)) != std::string::npos; start = dot + 1)
      node = &(*node)[path.substr(start, dot - start)];
    (*node)[path.substr(start)] = value;
  }
  return Config(std::move(v), job.source() + ": " + section);
}

std::string final_model_of(const std::string& run_dir) {
  const RunDir dir(run_dir, RunDir::Mode::Resume);
  const auto latest = dir.latest_complete_checkpoint();
  if (!latest) fail_in_file(run_dir, "training stage finished without a complete checkpoint");
  return (latest->dir / "model").string();
}

std::string resolve_model_dir(const std::string& path, const std::string& source, const std::string& field) {
  if (fs::exists(fs::path(path) / "config.json")) return path;
  if (fs::is_directory(fs::path(path) / "checkpoints")) {
    const RunDir dir(path, RunDir::Mode::Resume);
    if (const auto latest = dir.latest_complete_checkpoint()) return (latest->dir / "model").string();
    fail_in_field(source, field, "'" + path + "' is a run directory without a complete checkpoint");
  }
  fail_in_field(source, field, "'" + path + "' is neither a model directory (no config.json) nor a run directory");
}

nlohmann::json evaluate_into(const Config& job, const std::string& eval_section, const std::string& out,
                             const std::string& model, bool* ran) {
  const fs::path dir = out;
  *ran = false;
  if (!fs::exists(dir / "results.json")) {
    log::info("evaluating ", model, " -> ", out);
    eval::run_eval(linked_section(job, eval_section, model, {{"output.dir", out}}));
    *ran = true;
  }
  const nlohmann::json results = nlohmann::json::parse(read_file(dir / "results.json"));
  const auto& benches = results.at("benchmarks");
  if (!benches.is_array() || benches.empty())
    fail_in_file((dir / "results.json").string(), "no benchmark results");
  return benches.at(0).at("metrics");
}

const std::vector<std::string>& pipeline_stage_names() {
  static const std::vector<std::string> names = {"base", "cold_start", "reasoning_rl", "rejection_sft", "final_rl"};
  return names;
}

const ConfigSchema& pipeline_config_schema() {
  static const ConfigSchema schema = [] {
    ConfigSchema s;
    s.add("base_model", T::String, nullptr,
          "Model the pipeline starts from: a Hugging Face model directory (r1 pretrain's) or a training run "
          "directory (its latest complete checkpoint)");
    s.add("run_dir", T::String, "runs/r1-pipeline", "Where every stage's run directory and the table go");
    add_job_device_key(s);
    mount_stage_schema(s, "cold_start", sft_config_schema());
    mount_stage_schema(s, "reasoning_rl", grpo_config_schema());
    mount_stage_schema(s, "rejection", rejection_sampling_config_schema());
    mount_stage_schema(s, "rejection_sft", sft_config_schema());
    mount_stage_schema(s, "final_rl", grpo_config_schema());
    mount_stage_schema(s, "eval", eval::eval_config_schema());
    return s;
  }();
  return schema;
}

Config pipeline_section(const Config& pipeline, const std::string& section) {
  return Config(pipeline.at(section), pipeline.source() + ": " + section);
}

PipelineResult run_pipeline(const Config& config, const PipelineOptions& options) {
  PipelineResult result;
  result.run_dir = options.run_dir.empty() ? config.get_string("run_dir") : options.run_dir;
  const fs::path run = result.run_dir;
  fs::create_directories(run);
  const std::string base = resolve_model_dir(config.get_string("base_model"), config.source(), "base_model");

  auto finish_stage = [&](StageResult st, std::chrono::steady_clock::time_point t0) {
    bool ran = false;
    st.metrics = evaluate_into(config, "eval", (run / "eval" / st.stage).string(), st.model_dir, &ran);
    if (ran) st.skipped = false;
    st.seconds = st.skipped ? 0 : seconds_since(t0);
    result.stages.push_back(std::move(st));
    // The table so far, so an interrupted pipeline still shows what it reached.
    result.markdown = pipeline_markdown(result.stages);
    write_file_atomic(run / "stages.md", result.markdown);
    write_file_atomic(run / "stages.json", pipeline_json(result.stages).dump(2) + "\n");
    const StageResult& last = result.stages.back();
    log::info("pipeline: stage ", last.stage, last.skipped ? " (already done)" : "", " -> ", last.model_dir);
  };

  // A training stage: SFT or GRPO from `model` into <run>/<stage>; returns its final model.
  auto train_stage = [&](const std::string& stage, const std::string& model, bool sft, const SectionSets& sets) {
    const auto t0 = std::chrono::steady_clock::now();
    StageResult st;
    st.stage = stage;
    const fs::path dir = run / stage;
    if (fs::exists(dir / "summary.json")) {
      st.skipped = true;
      // What the earlier run did, from its summary (SFT summaries count conversations, GRPO's do not).
      const nlohmann::json sj = nlohmann::json::parse(read_file(dir / "summary.json"));
      st.detail = std::to_string(sj.value("steps", int64_t(0))) +
                  (sft ? " SFT steps on " + std::to_string(sj.value("training conversations", int64_t(0))) + " examples"
                       : " GRPO steps");
    } else {
      log::info("pipeline: stage ", stage, " from ", model);
      const Config c = linked_section(config, stage, model, sets);
      if (sft) {
        SftRunOptions o;
        o.run_dir = dir.string();
        o.resume = has_content(dir);
        const SftSummary s = run_sft(c, o);
        st.detail = std::to_string(s.steps) + " SFT steps on " + std::to_string(s.train_examples) + " examples";
      } else {
        GrpoRunOptions o;
        o.run_dir = dir.string();
        o.resume = has_content(dir);
        const GrpoSummary s = run_grpo(c, o);
        st.detail = std::to_string(s.steps) + " GRPO steps";
      }
    }
    st.model_dir = final_model_of(dir.string());
    finish_stage(std::move(st), t0);
    return result.stages.back().model_dir;
  };

  // base: evaluation only.
  {
    StageResult st;
    st.stage = "base";
    st.model_dir = base;
    st.skipped = true;  // nothing to train: "skipped" only while its evaluation is also done
    st.detail = "the pretrained model";
    finish_stage(std::move(st), std::chrono::steady_clock::now());
  }
  std::string model = train_stage("cold_start", base, true, {});
  model = train_stage("reasoning_rl", model, false, {});

  // Rejection sampling from the RL model, then SFT on what passed (from the RL model, as R1 §2.3.3 fine-tunes
  // the checkpoint it sampled from at our scale).
  const fs::path rs_dir = run / "rejection";
  const fs::path samples = rs_dir / "samples.jsonl", stats = rs_dir / "samples.stats.json";
  std::string rs_detail = "samples done earlier";
  const auto rs_t0 = std::chrono::steady_clock::now();
  if (!fs::exists(stats)) {
    fs::create_directories(rs_dir);
    log::info("pipeline: rejection sampling from ", model);
    const RejectionRunResult r = run_rejection_sampling(
        linked_section(config, "rejection", model, {{"output.path", samples.string()}, {"output.stats", stats.string()}}));
    rs_detail = "kept " + std::to_string(r.stats.kept) + " of " + std::to_string(r.stats.samples) + " samples";
    if (r.stats.kept == 0)
      fail_in_file(samples.string(), "rejection sampling kept no sample: nothing to fine-tune on (more samples, "
                                     "or a better reasoning_rl model)");
  }
  const double rs_seconds = seconds_since(rs_t0);
  model = train_stage("rejection_sft", model, true, {{"data.source", "jsonl"}, {"data.path", samples.string()}});
  result.stages.back().seconds += rs_seconds;
  std::string& detail = result.stages.back().detail;
  detail = rs_detail + (detail.empty() ? "" : "; " + detail);
  model = train_stage("final_rl", model, false, {});

  result.markdown = pipeline_markdown(result.stages);
  write_file_atomic(run / "stages.md", result.markdown);
  write_file_atomic(run / "stages.json", pipeline_json(result.stages).dump(2) + "\n");
  return result;
}

std::string pipeline_markdown(const std::vector<StageResult>& stages) {
  // pass@k columns before cons@k (JSON objects come back sorted by name, which would put cons@ first).
  std::vector<std::string> metrics;
  if (!stages.empty()) {
    for (const auto& [name, value] : stages.front().metrics.items())
      if (name.rfind("pass@", 0) == 0) metrics.push_back(name);
    for (const auto& [name, value] : stages.front().metrics.items())
      if (name.rfind("pass@", 0) != 0) metrics.push_back(name);
  }
  std::string md = "| stage |";
  for (const auto& m : metrics) md += " " + m + " |";
  md += " model | what ran | seconds |\n|---|";
  for (size_t i = 0; i < metrics.size(); i++) md += "---|";
  md += "---|---|---|\n";
  for (const StageResult& s : stages) {
    md += "| " + s.stage + " |";
    for (const auto& m : metrics) {
      char cell[96] = "–";
      if (s.metrics.contains(m)) {
        const auto& e = s.metrics.at(m);
        std::snprintf(cell, sizeof cell, "%.1f [%.1f, %.1f]", 100 * e.at("value").get<double>(),
                      100 * e.at("ci_low").get<double>(), 100 * e.at("ci_high").get<double>());
      }
      md += std::string(" ") + cell + " |";
    }
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.1f", s.seconds);
    std::string what = s.detail;
    if (s.skipped) what += what.empty() ? "skipped: done earlier" : " (skipped: done earlier)";
    md += " `" + s.model_dir + "` | " + what + " | " + secs + " |\n";
  }
  return md;
}

nlohmann::json pipeline_json(const std::vector<StageResult>& stages) {
  nlohmann::json rows = nlohmann::json::array();
  for (const StageResult& s : stages)
    rows.push_back({{"stage", s.stage}, {"model", s.model_dir}, {"skipped", s.skipped}, {"seconds", s.seconds},
                    {"detail", s.detail}, {"metrics", s.metrics}});
  return {{"stages", rows}};
}

}  // namespace r1::rl
