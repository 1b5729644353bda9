#include "rl/rejection_sampling.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "backend/cpu/threads.h"
#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "data/dataset.h"
#include "data/reasoning_corpus.h"
#include "data/tasks.h"
#include "generate/engine.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/transformer.h"
#include "rewards/reward.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "train/run_dir.h"

namespace fs = std::filesystem;

namespace r1::rl {

// ---------------------------------------------------------------------------------------------------------------
// Selection
// ---------------------------------------------------------------------------------------------------------------

const char* rejection_name(Rejection r) {
  switch (r) {
    case Rejection::Kept: return "kept";
    case Rejection::Truncated: return "truncated";
    case Rejection::TooShort: return "too_short";
    case Rejection::TooLong: return "too_long";
    case Rejection::FailedReward: return "failed_reward";
    case Rejection::Duplicate: return "duplicate";
    case Rejection::OverCap: return "over_cap";
  }
  return "?";
}

std::string dedupe_key(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::vector<Rejection> select_samples(const std::vector<Candidate>& cands, int num_prompts, const RejectionFilter& f,
                                      RejectionStats* stats) {
  R1_CHECK(stats != nullptr, "select_samples needs a stats object");
  RejectionStats& s = *stats;
  s = RejectionStats{};
  s.prompts = num_prompts;
  s.samples = int64_t(cands.size());
  s.reward_labels = f.reward_labels;
  s.reward_passes.assign(f.min_scores.size(), 0);
  s.kept_per_prompt.assign(size_t(std::max(num_prompts, 0)), 0);

  std::vector<Rejection> fate(cands.size(), Rejection::Kept);
  std::vector<std::vector<size_t>> passing(s.kept_per_prompt.size());  // per prompt, in sample order
  std::vector<std::set<std::string>> seen(s.kept_per_prompt.size());
  for (size_t i = 0; i < cands.size(); i++) {
    const Candidate& c = cands[i];
    if (c.prompt < 0 || c.prompt >= num_prompts)
      throw Error("candidate " + std::to_string(i) + ": prompt index " + std::to_string(c.prompt) + " out of range");
    if (c.scores.size() != f.min_scores.size())
      throw Error("candidate " + std::to_string(i) + ": " + std::to_string(c.scores.size()) + " reward scores for " +
                  std::to_string(f.min_scores.size()) + " rewards");
    bool all = true;
    for (size_t r = 0; r < f.min_scores.size(); r++) {
      const bool pass = c.scores[r] >= f.min_scores[r];
      s.reward_passes[r] += pass;
      all = all && pass;
    }
    s.all_rewards_passed += all;
    if (f.drop_truncated && c.finish_reason == "length") fate[i] = Rejection::Truncated;
    else if (c.tokens < f.min_tokens) fate[i] = Rejection::TooShort;
    else if (f.max_tokens > 0 && c.tokens > f.max_tokens) fate[i] = Rejection::TooLong;
    else if (!all) fate[i] = Rejection::FailedReward;
    else if (f.dedupe && !seen[size_t(c.prompt)].insert(dedupe_key(c.text)).second) fate[i] = Rejection::Duplicate;
    if (fate[i] == Rejection::Kept) passing[size_t(c.prompt)].push_back(i);
  }
  // The cap, per prompt: the first sampled, or the shortest (stable, so ties keep sample order).
  double kept_tokens = 0;
  for (size_t p = 0; p < passing.size(); p++) {
    std::vector<size_t>& idx = passing[p];
    if (f.prefer_shortest)
      std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return cands[a].tokens < cands[b].tokens; });
    for (size_t k = 0; k < idx.size(); k++) {
      if (f.max_per_prompt > 0 && int(k) >= f.max_per_prompt) {
        fate[idx[k]] = Rejection::OverCap;
        continue;
      }
      s.kept_per_prompt[p]++;
      kept_tokens += cands[idx[k]].tokens;
    }
  }
  for (Rejection r : fate) switch (r) {
      case Rejection::Kept: s.kept++; break;
      case Rejection::Truncated: s.truncated++; break;
      case Rejection::TooShort: s.too_short++; break;
      case Rejection::TooLong: s.too_long++; break;
      case Rejection::FailedReward: s.failed_reward++; break;
      case Rejection::Duplicate: s.duplicates++; break;
      case Rejection::OverCap: s.over_cap++; break;
    }
  for (int k : s.kept_per_prompt) s.prompts_with_kept += k > 0;
  s.kept_tokens_mean = s.kept > 0 ? kept_tokens / double(s.kept) : 0.0;
  return fate;
}

nlohmann::json RejectionStats::to_json() const {
  const double n = std::max<int64_t>(samples, 1);
  nlohmann::json rates = nlohmann::json::object();
  for (size_t r = 0; r < reward_labels.size() && r < reward_passes.size(); r++)
    rates[reward_labels[r]] = double(reward_passes[r]) / n;
  rates["all"] = double(all_rewards_passed) / n;
  std::map<int, int64_t> hist;
  for (int k : kept_per_prompt) hist[k]++;
  nlohmann::json h = nlohmann::json::object();
  for (const auto& [k, count] : hist) h[std::to_string(k)] = count;
  return {{"prompts", prompts},
          {"samples", samples},
          {"kept", kept},
          {"kept_rate", double(kept) / n},
          {"prompts_with_kept", prompts_with_kept},
          {"prompt_coverage", prompts > 0 ? double(prompts_with_kept) / double(prompts) : 0.0},
          {"pass_rates", rates},
          {"removed",
           {{"truncated", truncated},
            {"too_short", too_short},
            {"too_long", too_long},
            {"failed_reward", failed_reward},
            {"duplicate", duplicates},
            {"over_cap", over_cap}}},
          {"kept_per_prompt",
           {{"mean", prompts > 0 ? double(kept) / double(prompts) : 0.0}, {"histogram", h}}},
          {"kept_tokens_mean", kept_tokens_mean}};
}

nlohmann::json sft_record(const data::Problem& problem, const std::string& response, const std::string& format,
                          const nlohmann::json& extra) {
  nlohmann::json j;
  if (!problem.id.empty()) j["id"] = problem.id;
  if (format == "messages")
    j["messages"] = nlohmann::json::array(
        {{{"role", "user"}, {"content", problem.prompt}}, {{"role", "assistant"}, {"content", response}}});
  else if (format == "prompt_response")
    j["prompt"] = problem.prompt, j["response"] = response;
  else
    throw Error("SFT record format '" + format + "' is not prompt_response or messages");
  if (!extra.is_null())
    for (const auto& [k, v] : extra.items()) j[k] = v;
  return j;
}

// ---------------------------------------------------------------------------------------------------------------
// The job
// ---------------------------------------------------------------------------------------------------------------

const ConfigSchema& rejection_sampling_config_schema() {
  static const ConfigSchema schema = [] {
    ConfigSchema s;
    using T = ConfigType;
    s.add("seed", T::Int, 0, "Seed of the problems and the sampling");
    s.add("model.path", T::String, nullptr, "Hugging Face model directory to sample from (the teacher)");
    add_template_key(s);
    s.add("problems.source", T::String, "addition",
          "addition: the built-in task; task: a generator of data/tasks.h; file: a dataset file")
        .one_of({"addition", "task", "file"});
    s.add("problems.path", T::String, "", "file: the dataset (JSONL, or a JSON array)");
    s.add("problems.preset", T::String, "prompt", "file: dataset preset (gsm8k, math500, aime, prompt, ...)");
    s.add("problems.task", T::String, "countdown", "task: generator name (countdown, arithmetic, linear_equation)");
    s.add("problems.difficulty", T::Int, 1, "task: difficulty 1..5").range(1, 5);
    s.add("problems.split", T::String, "train", "addition/task: split to draw from").one_of({"train", "heldout"});
    s.add("problems.count", T::Int, nullptr, "Problems (null: 256 generated, or every problem of the file)")
        .allow_null()
        .at_least(1);
    s.add("problems.min_digits", T::Int, 1, "addition: smallest operand size in digits").range(1, 9);
    s.add("problems.max_digits", T::Int, 2, "addition: largest operand size in digits").range(1, 9);
    s.add("sampling.n", T::Int, 8, "Samples per prompt").at_least(1);
    s.add("sampling.temperature", T::Float, 1.0, "Sampling temperature").greater_than(0);
    s.add("sampling.top_p", T::Float, 1.0, "Nucleus sampling mass").greater_than(0).at_most(1);
    s.add("sampling.max_new_tokens", T::Int, 256, "Completion length limit").at_least(1);
    s.add("sampling.stop", T::StringList, nlohmann::json::array({"</answer>"}), "Stop strings (kept in the completion)");
    s.add("sampling.batch_prompts", T::Int, 64, "Prompts generated together (bounds the KV cache)").at_least(1);
    s.add("sampling.max_slots", T::Int, 256, "Sequences decoded together").at_least(1);
    ConfigSchema reward_item;
    reward_item.add("name", T::String, nullptr, "Reward name (accuracy, format, language, countdown, code)");
    reward_item.add("min", T::Float, 1.0, "A sample passes when the reward's score is at least this");
    reward_item.add("mode", T::String, nullptr, "format: strict or soft").allow_null();
    reward_item.add("language", T::String, nullptr, "language: the target language (en, zh, ...)").allow_null();
    s.add("rewards", T::ObjectList,
          nlohmann::json::array({{{"name", "accuracy"}, {"min", 1.0}}, {{"name", "format"}, {"min", 1.0}}}),
          "Rewards a sample must pass, each with its threshold")
        .items(reward_item);
    s.add("filter.min_tokens", T::Int, 1, "Drop completions shorter than this").at_least(0);
    s.add("filter.max_tokens", T::Int, 0, "Drop completions longer than this (0: no limit)").at_least(0);
    s.add("filter.drop_truncated", T::Bool, true, "Drop completions cut off by sampling.max_new_tokens");
    s.add("filter.dedupe", T::Bool, true, "Drop repeated completions of a prompt (whitespace-insensitive)");
    s.add("filter.max_per_prompt", T::Int, 4, "Keep at most this many samples per prompt (0: all)").at_least(0);
    s.add("filter.prefer", T::String, "first", "Which to keep under the cap").one_of({"first", "shortest"});
    s.add("output.path", T::String, "runs/rejection-sampled.jsonl", "The SFT-ready JSONL written");
    s.add("output.format", T::String, "prompt_response", "Record form").one_of({"prompt_response", "messages"});
    s.add("output.stats", T::String, "", "Statistics JSON (empty: next to output.path, .stats.json)");
    s.add("output.scores", T::Bool, true, "Add each kept sample's reward scores and length to its record");
    add_device_keys(s, "Where the model generates");
    return s;
  }();
  return schema;
}

namespace {

std::vector<data::Problem> load_problems(const Config& c) {
  const std::string source = c.get_string("problems.source");
  const bool has_count = !c.is_null("problems.count");
  const int count = has_count ? int(c.get_int("problems.count")) : 256;
  const uint64_t seed = uint64_t(c.get_int("seed"));
  const bool train = c.get_string("problems.split") == "train";
  std::vector<data::Problem> out;
  if (source == "addition") {
    if (c.get_int("problems.min_digits") > c.get_int("problems.max_digits"))
      fail_in_field(c.source(), "problems.min_digits", "is larger than problems.max_digits");
    // Held-out problems use seed 7, as GRPO's and `r1 eval`'s held-out sets do.
    data::AdditionTaskOptions o{int(c.get_int("problems.min_digits")), int(c.get_int("problems.max_digits")),
                                train ? seed : 7};
    for (const auto& p : data::addition_problems(o, train ? data::Split::Train : data::Split::HeldOut, count))
      out.push_back({"addition/" + std::to_string(p.a) + "+" + std::to_string(p.b), p.question(),
                     std::to_string(p.answer()), "addition", nlohmann::json::object()});
  } else if (source == "task") {
    data::TaskOptions o;
    o.count = count;
    o.seed = seed;
    o.split = train ? data::TaskSplit::Train : data::TaskSplit::HeldOut;
    o.difficulty = int(c.get_int("problems.difficulty"));
    out = data::generate_task(c.get_string("problems.task"), o);
  } else {
    const std::string path = c.get_string("problems.path");
    if (path.empty()) fail_in_field(c.source(), "problems.path", "is empty (problems.source is file)");
    out = data::load_dataset(path, c.get_string("problems.preset"));
    if (has_count && int(out.size()) > count) out.resize(size_t(count));
  }
  if (out.empty()) throw Error(c.source() + ": no problems to sample for");
  return out;
}

rewards::CompositeReward make_rewards(const Config& c, std::vector<double>* mins) {
  nlohmann::json spec = nlohmann::json::array();
  for (const Config& item : c.get_objects("rewards")) {
    nlohmann::json e = {{"name", item.get_string("name")}, {"weight", 1.0}};
    nlohmann::json params = nlohmann::json::object();
    if (!item.is_null("mode")) params["mode"] = item.get_string("mode");
    if (!item.is_null("language")) params["language"] = item.get_string("language");
    if (!params.empty()) e["params"] = params;
    spec.push_back(e);
    mins->push_back(item.get_float("min"));
  }
  if (spec.empty()) fail_in_field(c.source(), "rewards", "is empty: every sample would be kept unchecked");
  return rewards::CompositeReward::from_json(spec, c.source() + ": rewards");
}

std::string default_stats_path(const std::string& output) {
  std::string base = output;
  if (base.ends_with(".jsonl")) base.resize(base.size() - 6);
  return base + ".stats.json";
}

}  // namespace

RejectionRunResult run_rejection_sampling(const Config& c) {
  const std::string model_path = c.get_string("model.path");
  if (!is_model_dir(model_path))
    fail_in_field(c.source(), "model.path", "'" + model_path + "' is not a model directory (no config.json)");
  const ModelConfig mc = load_model_config(model_path + "/config.json");
  const Tokenizer tok = Tokenizer::from_dir(model_path);
  const ChatTemplate tmpl = ChatTemplate::resolve(c.get_string("model.template"), tok);
  const int threads = int(c.get_int("threads"));
  cpu::set_num_threads(cpu::auto_threads(mc.hidden_size, threads));
  const auto model = make_model(mc, job_device(c));
  reload_weights(*model, model_path);

  RejectionFilter filter;
  const rewards::CompositeReward rewards = make_rewards(c, &filter.min_scores);
  filter.reward_labels = rewards.labels();
  filter.min_tokens = int(c.get_int("filter.min_tokens"));
  filter.max_tokens = int(c.get_int("filter.max_tokens"));
  filter.drop_truncated = c.get_bool("filter.drop_truncated");
  filter.dedupe = c.get_bool("filter.dedupe");
  filter.max_per_prompt = int(c.get_int("filter.max_per_prompt"));
  filter.prefer_shortest = c.get_string("filter.prefer") == "shortest";

  const std::vector<data::Problem> problems = load_problems(c);
  const int n = int(c.get_int("sampling.n"));
  const uint64_t seed = uint64_t(c.get_int("seed"));
  gen::EngineOptions eo;
  eo.max_slots = int(c.get_int("sampling.max_slots"));
  eo.eos_token_ids = tok.eos_ids();
  if (eo.eos_token_ids.empty()) eo.eos_token_ids = mc.eos_token_ids;
  const auto engine_ptr = gen::make_engine(*model, eo);
  gen::RolloutEngine& engine = *engine_ptr;
  gen::EngineCallbacks cb;
  cb.detokenize = [&tok](const std::vector<int32_t>& ids) { return tok.decode(ids, true); };

  ProgressOptions po;
  po.unit = "prompt";
  ProgressBar bar("rejection-sample", int64_t(problems.size()), stderr, po);
  std::vector<Candidate> cands;
  const size_t chunk = size_t(c.get_int("sampling.batch_prompts"));
  int64_t generated = 0;
  for (size_t b = 0; b < problems.size(); b += chunk) {
    const size_t e = std::min(problems.size(), b + chunk);
    std::vector<gen::GenerationRequest> reqs;
    for (size_t i = b; i < e; i++) {
      gen::GenerationRequest r;
      r.prompt = encode_chat(tok, tmpl, {{"user", problems[i].prompt}}, true).ids;
      r.n = n;
      r.params.temperature = float(c.get_float("sampling.temperature"));
      r.params.top_p = float(c.get_float("sampling.top_p"));
      r.params.max_new_tokens = int(c.get_int("sampling.max_new_tokens"));
      r.params.stop = c.get_strings("sampling.stop");
      // Each prompt its own Philox key: samples of different prompts draw independent numbers.
      r.seed = seed * 0x9e3779b97f4a7c15ull + uint64_t(i);
      reqs.push_back(std::move(r));
    }
    const auto completions = engine.generate(reqs, cb);
    std::vector<rewards::RewardInput> inputs;
    const size_t first = cands.size();
    for (const auto& comp : completions) {
      const data::Problem& p = problems[b + size_t(comp.request_index)];
      Candidate cand;
      cand.prompt = int(b) + comp.request_index;
      cand.text = tok.decode(comp.tokens, true);
      cand.tokens = int(comp.tokens.size());
      cand.finish_reason = comp.finish_reason;
      inputs.push_back({p.prompt, cand.text, p.answer, p.metadata});
      cands.push_back(std::move(cand));
      generated += int64_t(comp.tokens.size());
    }
    const auto scored = rewards.score_batch(inputs, 0);
    for (size_t k = 0; k < scored.size(); k++)
      for (const auto& part : scored[k].parts) cands[first + k].scores.push_back(part.score);
    bar.update(int64_t(e), {{"samples", std::to_string(cands.size())}, {"tokens", std::to_string(generated)}});
  }
  bar.finish();

  RejectionRunResult result;
  const auto fate = select_samples(cands, int(problems.size()), filter, &result.stats);
  const std::string format = c.get_string("output.format");
  const bool with_scores = c.get_bool("output.scores");
  std::string jsonl;
  for (size_t i = 0; i < cands.size(); i++) {
    if (fate[i] != Rejection::Kept) continue;
    const Candidate& cand = cands[i];
    nlohmann::json extra;
    if (with_scores) {
      nlohmann::json scores = nlohmann::json::object();
      for (size_t r = 0; r < cand.scores.size(); r++) scores[filter.reward_labels[r]] = cand.scores[r];
      extra = {{"scores", scores}, {"tokens", cand.tokens}};
    }
    jsonl += sft_record(problems[size_t(cand.prompt)], cand.text, format, extra).dump() + "\n";
  }
  result.output_path = c.get_string("output.path");
  result.stats_path = c.get_string("output.stats").empty() ? default_stats_path(result.output_path)
                                                           : c.get_string("output.stats");
  for (const std::string& p : {result.output_path, result.stats_path})
    if (const fs::path parent = fs::path(p).parent_path(); !parent.empty()) fs::create_directories(parent);
  write_file_atomic(result.output_path, jsonl);
  nlohmann::json stats = result.stats.to_json();
  stats["model"] = model_path;
  stats["samples_per_prompt"] = n;
  stats["output"] = result.output_path;
  write_file_atomic(result.stats_path, stats.dump(2) + "\n");
  log::info("rejection sampling: kept ", result.stats.kept, " of ", result.stats.samples, " samples (",
            result.stats.prompts_with_kept, "/", result.stats.prompts, " prompts) -> ", result.output_path);
  return result;
}

}  // namespace r1::rl
