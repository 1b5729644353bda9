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

// Mounts every key of a stage's schema under "section.", keeping types, limits and help. Keys the pipeline
// fills in (model.path, the SFT data path) get an empty default so that a section need not name them.
void mount(ConfigSchema& s, const std::string& section, const ConfigSchema& stage) {
  for (const ConfigKey& k : stage.keys()) {
    ConfigKey& r = s.add(section + "." + k.path, k.type, k.default_value, k.help);
    const std::string path = r.path;
    r = k;
    r.path = path;
    if (k.path == "model.path") {
      r.default_value = "";
      r.help = "Filled in by the pipeline: the previous stage's model (leave empty)";
    }
  }
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The final model of a finished training run: its latest complete checkpoint's model directory.
std::string final_model_of(const fs::path& run) {
  const RunDir dir(run, RunDir::Mode::Resume);
  const auto latest = dir.latest_complete_checkpoint();
  if (!latest) fail_in_file(run.string(), "training stage finished without a complete checkpoint");
  return (latest->dir / "model").string();
}

bool has_content(const fs::path& dir) { return fs::exists(dir) && !fs::is_empty(dir); }

// The stage's section with the links to the rest of the pipeline filled in.
Config linked_section(const Config& pipeline, const std::string& section, const std::string& model,
                      const std::vector<std::pair<std::string, nlohmann::ordered_json>>& sets = {}) {
  nlohmann::ordered_json v = pipeline.at(section);
  v["model"]["path"] = model;
  for (const auto& [path, value] : sets) {
    nlohmann::ordered_json* node = &v;
    size_t start = 0;
    for (size_t dot; (dot = path.find('.', start)) != std::string::npos; start = dot + 1)
      node = &(*node)[path.substr(start, dot - start)];
    (*node)[path.substr(start)] = value;
  }
  return Config(std::move(v), pipeline.source() + ": " + section);
}

// Evaluates `model` with the eval section into <run>/eval/<stage> (unless already there) and returns the first
// benchmark's metrics from results.json.
nlohmann::json evaluate_stage(const Config& pipeline, const fs::path& run, const std::string& stage,
                              const std::string& model, bool* ran) {
  const fs::path out = run / "eval" / stage;
  *ran = false;
  if (!fs::exists(out / "results.json")) {
    log::info("pipeline: evaluating ", stage, " (", model, ")");
    eval::run_eval(linked_section(pipeline, "eval", model, {{"output.dir", out.string()}}));
    *ran = true;
  }
  const nlohmann::json results = nlohmann::json::parse(read_file(out / "results.json"));
  const auto& benches = results.at("benchmarks");
  if (!benches.is_array() || benches.empty())
    fail_in_file((out / "results.json").string(), "no benchmark results");
  return benches.at(0).at("metrics");
}

}  // namespace

const std::vector<std::string>& pipeline_stage_names() {
  static const std::vector<std::string> names = {"base", "cold_start", "reasoning_rl", "rejection_sft", "final_rl"};
  return names;
}

const ConfigSchema& pipeline_config_schema() {
  static const ConfigSchema schema = [] {
    ConfigSchema s;
    s.add("base_model", T::String, nullptr, "Hugging Face model directory the pipeline starts from (r1 pretrain's)");
    s.add("run_dir", T::String, "runs/r1-pipeline", "Where every stage's run directory and the table go");
    mount(s, "cold_start", sft_config_schema());
    mount(s, "reasoning_rl", grpo_config_schema());
    mount(s, "rejection", rejection_sampling_config_schema());
    mount(s, "rejection_sft", sft_config_schema());
    mount(s, "final_rl", grpo_config_schema());
    mount(s, "eval", eval::eval_config_schema());
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
  const std::string base = config.get_string("base_model");
  if (!fs::exists(fs::path(base) / "config.json"))
    fail_in_field(config.source(), "base_model", "'" + base + "' is not a model directory (no config.json)");

  auto finish_stage = [&](StageResult st, std::chrono::steady_clock::time_point t0) {
    bool ran = false;
    st.metrics = evaluate_stage(config, run, st.stage, st.model_dir, &ran);
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
  auto train_stage = [&](const std::string& stage, const std::string& model, bool sft,
                         const std::vector<std::pair<std::string, nlohmann::ordered_json>>& sets) {
    const auto t0 = std::chrono::steady_clock::now();
    StageResult st;
    st.stage = stage;
    const fs::path dir = run / stage;
    if (fs::exists(dir / "summary.json")) {
      st.skipped = true;
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
    st.model_dir = final_model_of(dir);
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
