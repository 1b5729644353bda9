// `r1 eval --model DIR --benchmark gsm8k|math500|aime24|...|addition --samples k [--temperature 0.6 --top-p 0.95]
// [--limit N] [--config FILE] [--set key=value ...]`: pass@1 averaged over k samples, unbiased pass@k, cons@k
// with 95% intervals; Markdown + JSON tables and the worst/best examples in the output directory. See
// eval/runner.h.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/config.h"
#include "eval/runner.h"

namespace r1::cli {

namespace {

struct EvalArgs {
  std::string config, model, template_name, output;
  std::vector<std::string> benchmarks, overrides;
  std::vector<int> pass_k, cons_k;
  int samples = 0, limit = 0, max_new_tokens = 0;
  double temperature = -1, top_p = -1;
  bool describe = false;
};

std::string json_list(const auto& values) { return nlohmann::json(values).dump(); }

void run_eval_command(const EvalArgs& a) {
  const auto& schema = eval::eval_config_schema();
  if (a.describe) {
    std::printf("%s", schema.describe().c_str());
    return;
  }
  // Flags are shorthands for --set (given --set wins, being applied last); JSON is valid YAML.
  std::vector<std::string> o;
  if (!a.model.empty()) o.push_back("model.path=" + nlohmann::json(a.model).dump());
  if (!a.template_name.empty()) o.push_back("model.template=" + nlohmann::json(a.template_name).dump());
  if (!a.benchmarks.empty()) o.push_back("benchmarks=" + json_list(a.benchmarks));
  if (!a.output.empty()) o.push_back("output.dir=" + nlohmann::json(a.output).dump());
  if (a.samples > 0) o.push_back("sampling.samples=" + std::to_string(a.samples));
  if (a.limit > 0) o.push_back("limit=" + std::to_string(a.limit));
  if (a.max_new_tokens > 0) o.push_back("sampling.max_new_tokens=" + std::to_string(a.max_new_tokens));
  if (a.temperature >= 0) o.push_back("sampling.temperature=" + nlohmann::json(a.temperature).dump());
  if (a.top_p >= 0) o.push_back("sampling.top_p=" + nlohmann::json(a.top_p).dump());
  if (!a.pass_k.empty()) o.push_back("metrics.pass_k=" + json_list(a.pass_k));
  if (!a.cons_k.empty()) o.push_back("metrics.cons_k=" + json_list(a.cons_k));
  o.insert(o.end(), a.overrides.begin(), a.overrides.end());
  const Config config =
      a.config.empty() ? parse_config("{}", "(command line)", schema, o) : load_config(a.config, schema, o);
  const auto r = eval::run_eval(config);
  std::printf("\n%s\nresults in %s/ (results.md, results.json, examples.md, samples.jsonl)\n", r.markdown.c_str(),
              r.output_dir.c_str());
}

}  // namespace

void register_eval(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  auto* cmd = app.add_subcommand("eval", "Evaluate a model: pass@1 over k samples, pass@k, cons@k with 95% intervals");
  cmd->add_option("--config", a->config, "YAML config (optional: flags alone are enough)");
  cmd->add_option("--model", a->model, "Model directory (sets model.path)");
  cmd->add_option("--template", a->template_name, "Chat template name or pattern (sets model.template)");
  cmd->add_option("--benchmark", a->benchmarks,
                  "Benchmark (repeatable): addition, gsm8k, math500, aime24, aime25, aime, humaneval, mbpp, countdown, "
                  "arithmetic, linear_equation");
  cmd->add_option("--samples", a->samples, "k: samples per problem");
  cmd->add_option("--temperature", a->temperature, "Sampling temperature (default 0.6)");
  cmd->add_option("--top-p", a->top_p, "Nucleus sampling mass (default 0.95)");
  cmd->add_option("--max-new-tokens", a->max_new_tokens, "Completion length limit");
  cmd->add_option("--limit", a->limit, "Only the first N problems of each benchmark");
  cmd->add_option("--pass-k", a->pass_k, "k of pass@k (repeatable; default: the sample count)");
  cmd->add_option("--cons-k", a->cons_k, "k of cons@k (repeatable; default: the sample count)");
  cmd->add_option("--output", a->output, "Output directory (sets output.dir)");
  cmd->add_option("--set", a->overrides, "Override a config key: --set metrics.ci=bootstrap (repeatable)");
  cmd->add_flag("--describe-config", a->describe, "List every config key with its default and help");
  cmd->callback([a] { run_eval_command(*a); });
}

}  // namespace r1::cli
