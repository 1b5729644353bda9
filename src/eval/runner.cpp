#include "eval/runner.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "backend/cpu/threads.h"
#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "data/reasoning_corpus.h"
#include "eval/judge.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "rewards/reward.h"
#include "tokenizer/tokenizer.h"
#include <fstream>

namespace fs = std::filesystem;

namespace r1::eval {

std::vector<data::Problem> load_eval_problems(const std::string& name, const std::string& data_dir,
                                              const SyntheticBenchmark& synthetic, const AdditionBenchmark& addition,
                                              int limit) {
  std::vector<data::Problem> out;
  if (name == "addition") {
    if (addition.min_digits > addition.max_digits)
      throw Error("addition benchmark: min_digits " + std::to_string(addition.min_digits) + " > max_digits " +
                  std::to_string(addition.max_digits));
    // Seed 7: the held-out set GRPO evaluates on, whatever the run's seed, so numbers compare across stages.
    const data::AdditionTaskOptions o{addition.min_digits, addition.max_digits, 7};
    for (const auto& p : data::addition_problems(o, data::Split::HeldOut, addition.count))
      out.push_back({"addition/" + std::to_string(p.a) + "+" + std::to_string(p.b), p.question(),
                     std::to_string(p.answer()), "addition", nlohmann::json::object()});
  } else {
    out = load_benchmark(name, data_dir, synthetic);
  }
  if (limit > 0 && int(out.size()) > limit) out.resize(size_t(limit));
  if (out.empty()) throw Error("benchmark '" + name + "' has no problems");
  return out;
}

int SampledProblem::correct() const {
  return int(std::count(judged.correct.begin(), judged.correct.end(), true));
}

BenchmarkRun evaluate_benchmark(TrainableModel& model, const Tokenizer& tok, const ChatTemplate& tmpl,
                                const std::string& name, const std::vector<data::Problem>& problems,
                                const EvalSampling& s, EvalOptions metrics) {
  const auto t0 = std::chrono::steady_clock::now();
  const bool code = !problems.empty() && is_code_task(problems[0].task);
  std::unique_ptr<rewards::Reward> code_reward;
  if (code) {
    // pass@k counts a program as correct only when every test passes.
    code_reward = rewards::create_reward("code", {{"scoring", "all"}}, "eval " + name, "code");
    metrics.cons_ks.clear();  // programs have no final answer to vote on
  } else {
    metrics.equivalent = equivalence_for(problems.empty() ? "" : problems[0].task);
  }
  gen::EngineOptions eo;
  eo.max_slots = s.max_slots;
  eo.eos_token_ids = tok.eos_ids();
  if (eo.eos_token_ids.empty()) eo.eos_token_ids = model.config().eos_token_ids;
  const auto engine_ptr = gen::make_engine(model, eo);
  gen::RolloutEngine& engine = *engine_ptr;
  gen::EngineCallbacks cb;
  cb.detokenize = [&tok](const std::vector<int32_t>& ids) { return tok.decode(ids, true); };

  BenchmarkRun run;
  ProgressOptions po;
  po.unit = "problem";
  ProgressBar bar("eval " + name, int64_t(problems.size()), stderr, po);
  const size_t chunk = size_t(std::max(1, s.batch_prompts));
  for (size_t b = 0; b < problems.size(); b += chunk) {
    const size_t e = std::min(problems.size(), b + chunk);
    std::vector<gen::GenerationRequest> reqs;
    for (size_t i = b; i < e; i++) {
      gen::GenerationRequest r;
      r.prompt = encode_chat(tok, tmpl, {{"user", problems[i].prompt}}, true).ids;
      const int context = model.config().max_position_embeddings;
      if (context > 0 && int(r.prompt.size()) >= context)
        throw Error("benchmark '" + name + "': problem '" + problems[i].id + "': the prompt has " +
                    std::to_string(r.prompt.size()) + " tokens, the model's context is " + std::to_string(context));
      r.n = s.samples;
      r.params.temperature = s.temperature;
      r.params.top_p = s.top_p;
      r.params.max_new_tokens = s.max_new_tokens;
      r.params.stop = s.stop;
      // A key per problem: its samples do not depend on which other problems share the batch.
      r.seed = s.seed * 0x9e3779b97f4a7c15ull + uint64_t(i);
      reqs.push_back(std::move(r));
    }
    for (size_t i = b; i < e; i++) run.problems.push_back({problems[i], {}, {}, {}, {}});
    for (const auto& c : engine.generate(reqs, cb)) {
      SampledProblem& p = run.problems[b + size_t(c.request_index)];
      p.completions.push_back(tok.decode(c.tokens, true));
      p.tokens.push_back(int(c.tokens.size()));
      p.finish_reasons.push_back(c.finish_reason);
      run.generated_tokens += int64_t(c.tokens.size());
    }
    for (size_t i = b; i < e; i++) {
      SampledProblem& p = run.problems[i];
      if (code) {
        p.judged.id = p.problem.id;
        for (const auto& completion : p.completions) {
          const auto r = code_reward->score({p.problem.prompt, completion, p.problem.answer, p.problem.metadata});
          p.judged.answers.emplace_back();
          p.judged.correct.push_back(r.score >= 1.0);
        }
      } else {
        p.judged = judge_samples(p.problem, p.completions);
      }
    }
    int64_t correct = 0, total = 0;
    for (const auto& p : run.problems) correct += p.correct(), total += int64_t(p.completions.size());
    char acc[32];
    std::snprintf(acc, sizeof acc, "%.1f%%", total > 0 ? 100.0 * double(correct) / double(total) : 0.0);
    bar.update(int64_t(e), {{"pass@1", acc}, {"tokens", std::to_string(run.generated_tokens)}});
  }
  bar.finish();
  std::vector<ProblemSamples> table;
  for (const auto& p : run.problems) table.push_back(p.judged);
  run.result = evaluate_samples(name, table, metrics);
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return run;
}

namespace {

std::vector<size_t> ranked(const BenchmarkRun& run, size_t count, bool best) {
  std::vector<size_t> idx(run.problems.size());
  for (size_t i = 0; i < idx.size(); i++) idx[i] = i;
  auto rate = [&](size_t i) {
    const auto& p = run.problems[i];
    return p.completions.empty() ? 0.0 : double(p.correct()) / double(p.completions.size());
  };
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return best ? rate(a) > rate(b) : rate(a) < rate(b); });
  idx.resize(std::min(count, idx.size()));
  return idx;
}

}  // namespace

std::vector<size_t> worst_problems(const BenchmarkRun& run, size_t count) { return ranked(run, count, false); }
std::vector<size_t> best_problems(const BenchmarkRun& run, size_t count) { return ranked(run, count, true); }

nlohmann::json example_record(const std::string& benchmark, const SampledProblem& p, bool best) {
  // The first completion whose verdict matches the kind; any completion when none does.
  size_t pick = 0;
  for (size_t i = 0; i < p.judged.correct.size(); i++)
    if (p.judged.correct[i] == best) {
      pick = i;
      break;
    }
  nlohmann::json j = {{"benchmark", benchmark},
                      {"kind", best ? "best" : "worst"},
                      {"id", p.problem.id},
                      {"prompt", p.problem.prompt},
                      {"gold", p.problem.answer},
                      {"correct", p.correct()},
                      {"samples", p.completions.size()}};
  if (pick < p.completions.size()) {
    j["completion"] = p.completions[pick];
    j["answer"] = p.judged.answers[pick];
    j["completion_correct"] = bool(p.judged.correct[pick]);
  }
  return j;
}

// ---------------------------------------------------------------------------------------------------------------
// The `r1 eval` job
// ---------------------------------------------------------------------------------------------------------------

const ConfigSchema& eval_config_schema() {
  static const ConfigSchema schema = [] {
    ConfigSchema s;
    using T = ConfigType;
    s.add("seed", T::Int, 0, "Sampling seed");
    s.add("model.path", T::String, nullptr, "Hugging Face model directory to evaluate");
    add_template_key(s);
    s.add("benchmarks", T::StringList, nlohmann::json::array({"addition"}),
          "Benchmarks: addition, gsm8k, math500, aime24, aime25, aime, humaneval, mbpp, mbpp-sanitized, countdown, "
          "arithmetic, linear_equation");
    s.add("limit", T::Int, nullptr, "Evaluate only the first N problems of each benchmark (null: all)")
        .allow_null()
        .at_least(1);
    s.add("sampling.samples", T::Int, 4, "k: samples per problem (pass@1 is averaged over them)").at_least(1);
    s.add("sampling.temperature", T::Float, 0.6, "Sampling temperature (0: greedy)").at_least(0);
    s.add("sampling.top_p", T::Float, 0.95, "Nucleus sampling mass").greater_than(0).at_most(1);
    s.add("sampling.max_new_tokens", T::Int, 1024, "Completion length limit").at_least(1);
    s.add("sampling.stop", T::StringList, nlohmann::json::array(), "Stop strings (kept in the completion)");
    s.add("sampling.batch_prompts", T::Int, 64, "Problems generated together").at_least(1);
    s.add("sampling.max_slots", T::Int, 256, "Sequences decoded together").at_least(1);
    s.add("metrics.pass_k", T::IntList, nullptr, "k of the unbiased pass@k besides pass@1 (null: the sample count)")
        .allow_null()
        .at_least(1);
    s.add("metrics.cons_k", T::IntList, nullptr, "k of cons@k, majority vote (null: the sample count when > 1)")
        .allow_null()
        .at_least(1);
    s.add("metrics.ci", T::String, "normal", "95% interval over problems").one_of({"normal", "bootstrap"});
    s.add("metrics.bootstrap_resamples", T::Int, 2000, "bootstrap: resamples").at_least(10);
    s.add("data_dir", T::String, "", "Shared data folder (empty: $R1_DATA_DIR, else ../shared/data)");
    s.add("synthetic.count", T::Int, 500, "countdown/arithmetic/linear_equation: held-out problems").at_least(1);
    s.add("synthetic.difficulty", T::Int, 3, "countdown/arithmetic/linear_equation: difficulty 1..5").range(1, 5);
    s.add("synthetic.seed", T::Int, 0, "countdown/arithmetic/linear_equation: problem seed");
    s.add("addition.count", T::Int, 500, "addition: held-out problems").at_least(1);
    s.add("addition.min_digits", T::Int, 1, "addition: smallest operand size in digits").range(1, 9);
    s.add("addition.max_digits", T::Int, 2, "addition: largest operand size in digits").range(1, 9);
    s.add("output.dir", T::String, "runs/eval", "Where results.md, results.json, samples.jsonl and examples go");
    s.add("output.examples", T::Int, 5, "Worst and best problems saved per benchmark").at_least(0);
    s.add("output.samples", T::Bool, true, "Write every completion to samples.jsonl");
    add_device_keys(s, "Where the model generates");
    return s;
  }();
  return schema;
}

namespace {

// Writes to a temporary file beside `path`, then renames it over: a reader never sees half a results file.
void write_file_atomic(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) fail_in_file(tmp.string(), "cannot write");
    f << text;
    if (!f.flush()) fail_in_file(tmp.string(), "write failed (disk full?)");
  }
  fs::rename(tmp, path);
}

std::vector<int> ks_or(const Config& c, const std::string& key, int samples, bool want_one) {
  std::vector<int> out;
  if (c.is_null(key)) {
    if (samples > 1 || want_one) out.push_back(samples);
  } else {
    for (int64_t k : c.get_ints(key)) {
      if (k > samples)
        fail_in_field(c.source(), key, std::to_string(k) + " exceeds sampling.samples (" + std::to_string(samples) + ")");
      out.push_back(int(k));
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string pct(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", 100 * v);
  return b;
}

std::string examples_markdown(const std::vector<nlohmann::json>& examples) {
  std::string md = "# Worst and best problems\n";
  std::string last;
  for (const auto& e : examples) {
    const std::string heading = e["benchmark"].get<std::string>() + ": " + e["kind"].get<std::string>();
    if (heading != last) md += "\n## " + heading + "\n", last = heading;
    md += "\n### " + e["id"].get<std::string>() + " (" + std::to_string(e["correct"].get<int>()) + "/" +
          std::to_string(e["samples"].get<size_t>()) + " correct, gold `" + e["gold"].get<std::string>() + "`)\n\n";
    md += "Prompt:\n\n```\n" + e["prompt"].get<std::string>() + "\n```\n\n";
    if (e.contains("completion"))
      md += std::string(e["completion_correct"].get<bool>() ? "A correct" : "A wrong") + " completion (answer `" +
            e["answer"].get<std::string>() + "`):\n\n```\n" + e["completion"].get<std::string>() + "\n```\n";
  }
  return md;
}

}  // namespace

EvalRunResult run_eval(const Config& c) {
  const std::string model_path = c.get_string("model.path");
  if (!is_model_dir(model_path))
    fail_in_field(c.source(), "model.path", "'" + model_path + "' is not a model directory (no config.json)");
  const ModelConfig mc = load_model_config(model_path + "/config.json");
  const Tokenizer tok = Tokenizer::from_dir(model_path);
  const ChatTemplate tmpl = ChatTemplate::resolve(c.get_string("model.template"), tok);
  const int threads = int(c.get_int("threads"));
  cpu::set_num_threads(cpu::auto_threads(mc.hidden_size, threads));
  const auto model_ptr = make_model(mc, job_device(c));
  TrainableModel& model = *model_ptr;
  reload_weights(model, model_path);

  EvalSampling s;
  s.samples = int(c.get_int("sampling.samples"));
  s.temperature = float(c.get_float("sampling.temperature"));
  s.top_p = float(c.get_float("sampling.top_p"));
  s.max_new_tokens = int(c.get_int("sampling.max_new_tokens"));
  s.stop = c.get_strings("sampling.stop");
  s.seed = uint64_t(c.get_int("seed"));
  s.batch_prompts = int(c.get_int("sampling.batch_prompts"));
  s.max_slots = int(c.get_int("sampling.max_slots"));
  EvalOptions metrics;
  metrics.pass_ks = ks_or(c, "metrics.pass_k", s.samples, false);
  metrics.pass_ks.insert(metrics.pass_ks.begin(), 1);
  metrics.pass_ks.erase(std::unique(metrics.pass_ks.begin(), metrics.pass_ks.end()), metrics.pass_ks.end());
  metrics.cons_ks = ks_or(c, "metrics.cons_k", s.samples, false);
  metrics.ci = c.get_string("metrics.ci") == "bootstrap" ? CiMethod::Bootstrap : CiMethod::Normal;
  metrics.bootstrap_resamples = int(c.get_int("metrics.bootstrap_resamples"));
  metrics.bootstrap_seed = s.seed;

  std::string data_dir = c.get_string("data_dir");
  if (data_dir.empty()) data_dir = std::getenv("R1_DATA_DIR") ? std::getenv("R1_DATA_DIR") : "../shared/data";
  SyntheticBenchmark synthetic{int(c.get_int("synthetic.count")), uint64_t(c.get_int("synthetic.seed")),
                               int(c.get_int("synthetic.difficulty"))};
  AdditionBenchmark addition{int(c.get_int("addition.count")), int(c.get_int("addition.min_digits")),
                             int(c.get_int("addition.max_digits"))};
  const int limit = c.is_null("limit") ? 0 : int(c.get_int("limit"));
  const std::vector<std::string> names = c.get_strings("benchmarks");
  if (names.empty()) fail_in_field(c.source(), "benchmarks", "is empty");

  EvalRunResult out;
  out.output_dir = c.get_string("output.dir");
  fs::create_directories(out.output_dir);
  const fs::path dir(out.output_dir);
  const size_t n_examples = size_t(c.get_int("output.examples"));
  nlohmann::json per_benchmark = nlohmann::json::array();
  std::vector<nlohmann::json> examples;
  std::string samples_jsonl, timing;
  for (const std::string& name : names) {
    const auto problems = load_eval_problems(name, data_dir, synthetic, addition, limit);
    BenchmarkRun run = evaluate_benchmark(model, tok, tmpl, name, problems, s, metrics);
    log::info("eval ", name, ": ", run.problems.size(), " problems x ", s.samples, " samples, pass@1 ",
              pct(run.result.metrics.empty() ? 0 : run.result.metrics[0].value), "% in ", run.seconds, " s");
    nlohmann::json j = to_json(run.result, true);
    j["generated_tokens"] = run.generated_tokens;
    j["seconds"] = run.seconds;
    per_benchmark.push_back(j);
    for (size_t i : worst_problems(run, n_examples)) examples.push_back(example_record(name, run.problems[i], false));
    for (size_t i : best_problems(run, n_examples)) examples.push_back(example_record(name, run.problems[i], true));
    if (c.get_bool("output.samples"))
      for (const auto& p : run.problems)
        for (size_t k = 0; k < p.completions.size(); k++)
          samples_jsonl += nlohmann::json({{"benchmark", name},
                                           {"id", p.problem.id},
                                           {"sample", k},
                                           {"completion", p.completions[k]},
                                           {"tokens", p.tokens[k]},
                                           {"finish_reason", p.finish_reasons[k]},
                                           {"answer", p.judged.answers[k]},
                                           {"correct", bool(p.judged.correct[k])},
                                           {"gold", p.problem.answer}})
                               .dump() +
                           "\n";
    char line[256];
    std::snprintf(line, sizeof line, "| %s | %zu | %.1f | %.1f |\n", name.c_str(), run.problems.size(),
                  double(run.generated_tokens) / std::max<double>(1, double(run.problems.size()) * s.samples),
                  run.seconds);
    timing += line;
    out.results.push_back(std::move(run.result));
  }

  char settings[512];
  std::snprintf(settings, sizeof settings,
                "Model `%s`, %d samples per problem, temperature %g, top-p %g, at most %d new tokens, seed %llu. "
                "Scores in percent with 95%% confidence intervals (%s) over problems.\n",
                model_path.c_str(), s.samples, double(s.temperature), double(s.top_p), s.max_new_tokens,
                (unsigned long long)s.seed, c.get_string("metrics.ci").c_str());
  out.markdown = "# Evaluation\n\n" + std::string(settings) + "\n" + to_markdown(out.results) +
                 "\n| benchmark | problems | mean tokens per sample | seconds |\n|---|---|---|---|\n" + timing;
  write_file_atomic(dir / "results.md", out.markdown);
  const nlohmann::json results = {{"model", model_path},
                                  {"samples", s.samples},
                                  {"temperature", s.temperature},
                                  {"top_p", s.top_p},
                                  {"max_new_tokens", s.max_new_tokens},
                                  {"seed", s.seed},
                                  {"benchmarks", per_benchmark}};
  write_file_atomic(dir / "results.json", results.dump(2) + "\n");
  std::string ex;
  for (const auto& e : examples) ex += e.dump() + "\n";
  write_file_atomic(dir / "examples.jsonl", ex);
  write_file_atomic(dir / "examples.md", examples_markdown(examples));
  if (c.get_bool("output.samples")) write_file_atomic(dir / "samples.jsonl", samples_jsonl);
  return out;
}

}  // namespace r1::eval
