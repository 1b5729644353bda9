// The GRPO trainer (grpo_trainer.h). Data parallel over the ranks of dist::world(device): each rank rolls out and
// scores a contiguous share of every round's prompts (whole groups), computes their advantages, and the rollouts
// are all-gathered so every rank sees the step's batch in the order one process would have produced it; dynamic
// sampling therefore decides the same on every rank. Each minibatch is then split into contiguous,
// token-balanced shares, one per rank, whose micro-batch weights are shares of the GLOBAL minibatch's responses
// (or completion tokens), so the weighted gradients summed over ranks are the one-process gradient.
#include "rl/grpo_trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>

#include "backend/cpu/threads.h"
#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "data/reasoning_corpus.h"
#include "data/tasks.h"
#include "generate/engine.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/hf_export.h"
#include "model/safetensors.h"
#include "model/transformer.h"
#include "rewards/countdown_reward.h"
#include "rewards/format_reward.h"
#include "rewards/math_verifier.h"
#include "rewards/reward.h"
#include "rl/advantages.h"
#include "rl/grpo_loss.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "train/metrics.h"
#include "train/optim_config.h"
#include "backend/cpu/optimizer.h"
#include "train/pretrain.h"
#include "train/report.h"
#include "train/distributed/world.h"
#include "train/run_dir.h"
#include "train/training_checkpoint.h"
#include "train/schedule.h"

namespace fs = std::filesystem;

namespace r1::rl {

// ---------------------------------------------------------------------------------------------------------------
// Config schema
// ---------------------------------------------------------------------------------------------------------------

const ConfigSchema& grpo_config_schema() {
  static const ConfigSchema schema = [] {
    ConfigSchema s;
    using T = ConfigType;
    s.add("seed", T::Int, 0, "Seed of everything random in the run (problems, sampling, minibatch order)");
    s.add("model.path", T::String, nullptr, "Hugging Face model directory to start from (the base model)");
    add_template_key(s);
    s.add("task.name", T::String, "addition",
          "Problems: the tiny model's 'addition' task, a generated task (countdown, arithmetic, linear_equation) "
          "or 'jsonl' (a dataset file)")
        .one_of({"addition", "countdown", "arithmetic", "linear_equation", "jsonl"});
    s.add("task.min_digits", T::Int, 1, "addition: smallest operand size in digits").range(1, 9);
    s.add("task.max_digits", T::Int, 3, "addition: largest operand size in digits").range(1, 9);
    s.add("task.difficulty", T::Int, 1, "generated tasks: difficulty 1..5").range(1, 5);
    s.add("task.path", T::String, "", "jsonl: the problems file");
    s.add("task.held_out_path", T::String, "", "jsonl: held-out problems for evaluation (empty: the last 10% of path)");
    s.add("task.preset", T::String, "prompt",
          "jsonl: field layout (gsm8k, math500, aime, prompt: {prompt, answer}); see src/data/dataset.h");
    s.add("grpo.variant", T::String, "grpo", "Loss family; sets the defaults of the null keys below")
        .one_of({"grpo", "dr_grpo", "dapo"});
    s.add("grpo.steps", T::Int, 60, "Optimizer rollout steps").at_least(1);
    s.add("grpo.prompts_per_step", T::Int, 16, "Prompts per rollout batch").at_least(1);
    s.add("grpo.group_size", T::Int, 8, "Completions per prompt (G)").at_least(2);
    s.add("grpo.epochs", T::Int, 1, "Optimisation passes over each rollout batch (mu)").at_least(1);
    s.add("grpo.minibatches", T::Int, 1, "Optimizer steps per pass (the batch is split this many ways)").at_least(1);
    s.add("grpo.micro_batch_tokens", T::Int, 0,
          "Tokens per forward/backward pass (gradient accumulation within a minibatch; 0: the whole minibatch)")
        .at_least(0);
    s.add("grpo.beta", T::Float, 0.0, "KL coefficient against the frozen base model (k3); 0 skips the reference")
        .at_least(0);
    s.add("grpo.eps_low", T::Float, 0.2, "Lower clip range of the ratio").greater_than(0);
    s.add("grpo.eps_high", T::Float, nullptr, "Upper clip range (null: 0.28 for dapo, else eps_low)").allow_null();
    s.add("grpo.aggregation", T::String, nullptr,
          "Loss aggregation (null: seq_mean_token_mean for grpo, seq_mean_token_sum_norm for dr_grpo, token_mean "
          "for dapo)")
        .allow_null()
        .one_of({"seq_mean_token_mean", "token_mean", "seq_mean_token_sum", "seq_mean_token_sum_norm"});
    s.add("grpo.divide_by_std", T::Bool, nullptr, "Divide advantages by the group's std (null: false for dr_grpo)")
        .allow_null();
    s.add("grpo.dynamic_sampling", T::Bool, nullptr,
          "Drop groups whose rewards are all equal and refill the batch (null: true for dapo)")
        .allow_null();
    s.add("grpo.max_sampling_rounds", T::Int, 3, "Dynamic sampling: rollout rounds at most per step").at_least(1);
    s.add("grpo.overlong_cache", T::Int, 0, "DAPO overlong shaping: penalty ramp length in tokens (0: off)").at_least(0);
    s.add("grpo.entropy_coef", T::Float, 0.0, "Entropy bonus coefficient").at_least(0);
    s.add("rollout.max_new_tokens", T::Int, 64, "Completion length limit").at_least(1);
    s.add("rollout.max_slots", T::Int, 256, "Sequences the rollout engine decodes together").at_least(1);
    s.add("rollout.temperature", T::Float, 1.0, "Sampling temperature of the rollouts").greater_than(0);
    s.add("rollout.top_p", T::Float, 1.0, "Nucleus sampling of the rollouts").range(0, 1);
    s.add("rollout.stop", T::StringList, nlohmann::json::array({"</answer>"}), "Stop strings (kept in the completion)");
    add_optim_keys(s, {1e-3, "constant", 0.99});
    ConfigSchema reward_item;
    reward_item.add("name", T::String, nullptr, "Reward name (accuracy, format, language, countdown, code)");
    reward_item.add("weight", T::Float, 1.0, "Weight in the total reward");
    reward_item.add("mode", T::String, nullptr, "format: strict or soft").allow_null();
    s.add("rewards", T::ObjectList,
          nlohmann::json::array({{{"name", "accuracy"}, {"weight", 1.0}}, {{"name", "format"}, {"weight", 0.2}}}),
          "Rewards and their weights")
        .items(reward_item);
    s.add("eval.every", T::Int, 20, "Evaluate on held-out problems every N steps (and at start and end)").at_least(1);
    s.add("eval.problems", T::Int, 128, "Held-out problems per evaluation").at_least(1);
    s.add("eval.samples", T::Int, 2, "Samples per held-out problem (pass@1 averaged over them)").at_least(1);
    s.add("eval.temperature", T::Float, 0.6, "Evaluation sampling temperature (0: greedy)").at_least(0);
    s.add("checkpoint.every", T::Int, 20, "Checkpoint every N steps (and at the end)").at_least(1);
    s.add("checkpoint.keep", T::Int, 2, "Checkpoints kept").at_least(1);
    s.add("log.samples_per_step", T::Int, 2, "Full rollouts written to samples.jsonl each step").at_least(0);
    add_device_keys(s, "Where the policy, the reference model and the rollouts run");
    return s;
  }();
  return schema;
}

namespace {

// ---------------------------------------------------------------------------------------------------------------
// Problems
// ---------------------------------------------------------------------------------------------------------------

class ProblemSource {
 public:
  virtual ~ProblemSource() = default;
  // `count` training problems for (step, round): deterministic, so resume and seeds behave.
  virtual std::vector<data::Problem> train_batch(uint64_t seed, int64_t step, int round, int count) = 0;
  virtual std::vector<data::Problem> held_out(int count) = 0;
};

// The tiny model's addition task: the same generator and split as its pretraining corpus, so held-out problems
// were never seen in pretraining.
class AdditionSource : public ProblemSource {
 public:
  AdditionSource(int min_digits, int max_digits) : options_{min_digits, max_digits, 0} {}
  std::vector<data::Problem> train_batch(uint64_t seed, int64_t step, int round, int count) override {
    data::AdditionTaskOptions o = options_;
    o.seed = seed * 1000003ull + uint64_t(step) * 131ull + uint64_t(round);
    return convert(data::addition_problems(o, data::Split::Train, count));
  }
  std::vector<data::Problem> held_out(int count) override {
    data::AdditionTaskOptions o = options_;
    o.seed = 7;  // the held-out set is fixed whatever the run's seed, so runs compare
    return convert(data::addition_problems(o, data::Split::HeldOut, count));
  }

 private:
  static std::vector<data::Problem> convert(const std::vector<data::AdditionProblem>& ps) {
    std::vector<data::Problem> out;
    for (const auto& p : ps)
      out.push_back({"addition/" + std::to_string(p.a) + "+" + std::to_string(p.b), p.question(),
                     std::to_string(p.answer()), "addition", nlohmann::json::object()});
    return out;
  }
  data::AdditionTaskOptions options_;
};

// Generated tasks of src/data (countdown, arithmetic, linear_equation), whose splits never overlap.
class GeneratedSource : public ProblemSource {
 public:
  GeneratedSource(std::string task, int difficulty) : task_(std::move(task)), difficulty_(difficulty) {}
  std::vector<data::Problem> train_batch(uint64_t seed, int64_t step, int round, int count) override {
    data::TaskOptions o;
    o.count = count;
    o.seed = seed * 1000003ull + uint64_t(step) * 131ull + uint64_t(round);
    o.difficulty = difficulty_;
    return data::generate_task(task_, o);
  }
  std::vector<data::Problem> held_out(int count) override {
    data::TaskOptions o;
    o.count = count;
    o.seed = 7;
    o.split = data::TaskSplit::HeldOut;
    o.difficulty = difficulty_;
    return data::generate_task(task_, o);
  }

 private:
  std::string task_;
  int difficulty_;
};

// A dataset file (GSM8K, MATH-500, any {prompt, answer} JSONL), sampled with replacement per step.
class DatasetSource : public ProblemSource {
 public:
  DatasetSource(const std::string& path, const std::string& held_out_path, const std::string& preset) {
    train_ = data::load_dataset(path, preset);
    if (!held_out_path.empty()) {
      held_ = data::load_dataset(held_out_path, preset);
    } else {
      const size_t n = std::max<size_t>(1, train_.size() / 10);
      if (train_.size() <= n) fail_in_file(path, "too few problems to hold 10% out");
      held_.assign(train_.end() - long(n), train_.end());
      train_.resize(train_.size() - n);
    }
  }
  std::vector<data::Problem> train_batch(uint64_t seed, int64_t step, int round, int count) override {
    Philox rng(seed, 0x7000 + uint64_t(step) * 16 + uint64_t(round));
    std::vector<data::Problem> out;
    for (int i = 0; i < count; i++) out.push_back(train_[size_t(rng.below(train_.size()))]);
    return out;
  }
  std::vector<data::Problem> held_out(int count) override {
    return {held_.begin(), held_.begin() + std::min<long>(count, long(held_.size()))};
  }

 private:
  std::vector<data::Problem> train_, held_;
};

// Is the completion's answer right? The same judgement for every reward configuration, so runs compare.
bool is_correct(const data::Problem& p, const std::string& completion) {
  if (p.task == "countdown") {
    std::vector<int64_t> nums;
    for (const auto& n : p.metadata.at("nums")) nums.push_back(n.get<int64_t>());
    return rewards::check_countdown(completion, nums, p.metadata.at("target").get<int64_t>()).status ==
           rewards::CountdownCheck::Status::Correct;
  }
  return rewards::verify_math(completion, p.answer).correct;
}

// ---------------------------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------------------------

struct Settings {
  uint64_t seed;
  int steps, prompts, group, epochs, minibatches, micro_tokens, max_rounds, overlong_cache, max_new, eval_every, eval_problems,
      eval_samples, ckpt_every, ckpt_keep, samples_per_step;
  double beta, eps_low, eps_high, entropy_coef, temperature, top_p, eval_temperature, clip;
  bool divide_by_std, dynamic_sampling;
  Aggregation aggregation;
  std::vector<std::string> stop;
};

Settings read_settings(const Config& c) {
  Settings s{};
  const std::string variant = c.get_string("grpo.variant");
  s.seed = uint64_t(c.get_int("seed"));
  s.steps = int(c.get_int("grpo.steps"));
  s.prompts = int(c.get_int("grpo.prompts_per_step"));
  s.group = int(c.get_int("grpo.group_size"));
  s.epochs = int(c.get_int("grpo.epochs"));
  s.minibatches = int(c.get_int("grpo.minibatches"));
  s.micro_tokens = int(c.get_int("grpo.micro_batch_tokens"));
  s.max_rounds = int(c.get_int("grpo.max_sampling_rounds"));
  s.overlong_cache = int(c.get_int("grpo.overlong_cache"));
  s.max_new = int(c.get_int("rollout.max_new_tokens"));
  s.beta = c.get_float("grpo.beta");
  s.eps_low = c.get_float("grpo.eps_low");
  s.eps_high = c.is_null("grpo.eps_high") ? (variant == "dapo" ? 0.28 : s.eps_low) : c.get_float("grpo.eps_high");
  s.entropy_coef = c.get_float("grpo.entropy_coef");
  s.aggregation = parse_aggregation(c.is_null("grpo.aggregation")
                                        ? (variant == "dapo"      ? "token_mean"
                                           : variant == "dr_grpo" ? "seq_mean_token_sum_norm"
                                                                  : "seq_mean_token_mean")
                                        : c.get_string("grpo.aggregation"));
  s.divide_by_std = c.is_null("grpo.divide_by_std") ? variant != "dr_grpo" : c.get_bool("grpo.divide_by_std");
  s.dynamic_sampling = c.is_null("grpo.dynamic_sampling") ? variant == "dapo" : c.get_bool("grpo.dynamic_sampling");
  s.temperature = c.get_float("rollout.temperature");
  s.top_p = c.get_float("rollout.top_p");
  s.stop = c.get_strings("rollout.stop");
  s.clip = c.get_float("optim.clip_grad_norm");
  s.eval_every = int(c.get_int("eval.every"));
  s.eval_problems = int(c.get_int("eval.problems"));
  s.eval_samples = int(c.get_int("eval.samples"));
  s.eval_temperature = c.get_float("eval.temperature");
  s.ckpt_every = int(c.get_int("checkpoint.every"));
  s.ckpt_keep = int(c.get_int("checkpoint.keep"));
  s.samples_per_step = int(c.get_int("log.samples_per_step"));
  if (c.get_int("task.min_digits") > c.get_int("task.max_digits"))
    fail_in_field(c.source(), "task.min_digits", "is larger than task.max_digits");
  return s;
}

rewards::CompositeReward make_rewards(const Config& c) {
  nlohmann::json spec = nlohmann::json::array();
  for (const Config& item : c.get_objects("rewards")) {
    nlohmann::json e = {{"name", item.get_string("name")}, {"weight", item.get_float("weight")}};
    if (!item.is_null("mode")) e["params"] = {{"mode", item.get_string("mode")}};
    spec.push_back(e);
  }
  return rewards::CompositeReward::from_json(spec, c.source() + ": rewards");
}

// One sampled completion with everything the update and the metrics need.
struct Rollout {
  int group = 0;
  std::vector<int32_t> prompt, tokens;
  std::vector<float> logp_old;
  std::string text, finish_reason;
  double reward = 0, advantage = 0;
  std::vector<double> parts;
  bool correct = false, formatted = false;
};

class GrpoRun {
 public:
  GrpoRun(const Config& config, const GrpoRunOptions& options)
      : config_(config), options_(options), s_(read_settings(config)), rewards_(make_rewards(config)) {
    const std::string model_path = config.get_string("model.path");
    if (!is_model_dir(model_path))
      fail_in_field(config.source(), "model.path", "'" + model_path + "' is not a model directory (no config.json)");
    model_config_ = load_model_config(model_path + "/config.json");
    tokenizer_ = std::make_unique<Tokenizer>(Tokenizer::from_dir(model_path));
    template_ = ChatTemplate::resolve(config.get_string("model.template"), *tokenizer_);
    const int threads = int(config.get_int("threads"));
    cpu::set_num_threads(cpu::auto_threads(model_config_.hidden_size, threads));
    const Device device = job_device(config);
    comm_ = &dist::world(device);  // before the models: a GPU job's communicator selects this rank's GPU
    policy_ = make_model(model_config_, device);
    reload_weights(*policy_, model_path);
    if (s_.beta > 0) {
      reference_ = make_model(model_config_, device);
      reload_weights(*reference_, model_path);
    }
    optimizer_ = std::make_unique<Optimizer>(*policy_, adamw_config(config), comm_);  // ZeRO-1 over the job's ranks
    const int64_t total_updates = int64_t(s_.steps) * s_.epochs * s_.minibatches;
    schedule_ = {parse_schedule_kind(config.get_string("optim.schedule")), float(config.get_float("optim.lr")),
                 config.get_int("optim.warmup_steps"), total_updates, 0.1f};
    const std::string task = config.get_string("task.name");
    if (task == "addition")
      problems_ = std::make_unique<AdditionSource>(int(config.get_int("task.min_digits")),
                                                   int(config.get_int("task.max_digits")));
    else if (task == "jsonl")
      problems_ = std::make_unique<DatasetSource>(config.get_string("task.path"), config.get_string("task.held_out_path"),
                                                  config.get_string("task.preset"));
    else
      problems_ = std::make_unique<GeneratedSource>(task, int(config.get_int("task.difficulty")));
    held_out_ = problems_->held_out(s_.eval_problems);
    gen::EngineOptions eo;
    eo.max_slots = int(config.get_int("rollout.max_slots"));
    eo.eos_token_ids = tokenizer_->eos_ids();
    if (eo.eos_token_ids.empty()) eo.eos_token_ids = model_config_.eos_token_ids;
    engine_ = gen::make_engine(*policy_, eo);
  }

  GrpoSummary run();

 private:
  std::vector<int32_t> encode_prompt(const data::Problem& p) const {
    return encode_chat(*tokenizer_, template_, {{"user", p.prompt}}, true).ids;
  }
  std::string decode(const std::vector<int32_t>& ids) const { return tokenizer_->decode(ids, true); }
  std::vector<Rollout> rollout(const std::vector<data::Problem>& problems, int n, double temperature, double top_p,
                               uint64_t seed, int group_offset);
  void score(std::vector<Rollout>& rs, const std::vector<data::Problem>& problems, int group_offset);
  std::map<std::string, double> update(std::vector<Rollout>& batch, int64_t step);
  std::map<std::string, double> evaluate();
  // Collective; only rank 0 holds the run directory (dir is null elsewhere) and writes.
  void save_checkpoint(int64_t step, RunDir* dir);
  int64_t restore_checkpoint(RunDir* dir);
  TrainingCheckpoint checkpoint_parts();
  // This rank's contiguous share [first, second) of n items: rank r of W takes [r*n/W, (r+1)*n/W).
  std::pair<size_t, size_t> share(size_t n) const {
    const size_t r = size_t(comm_->rank()), w = size_t(comm_->world_size());
    return {r * n / w, (r + 1) * n / w};
  }
  // Every rank's rollouts, in rank order (one rank: its own).
  std::vector<Rollout> gather_rollouts(std::vector<Rollout> mine);

  const Config& config_;
  GrpoRunOptions options_;
  Settings s_;
  rewards::CompositeReward rewards_;
  ModelConfig model_config_;
  std::unique_ptr<Tokenizer> tokenizer_;
  ChatTemplate template_;
  dist::Communicator* comm_ = nullptr;  // the job's ranks (a world of 1 without a launcher)
  std::unique_ptr<TrainableModel> policy_, reference_;
  std::unique_ptr<Optimizer> optimizer_;
  LrSchedule schedule_;
  std::unique_ptr<ProblemSource> problems_;
  std::vector<data::Problem> held_out_;
  std::unique_ptr<gen::RolloutEngine> engine_;
  int nonfinite_streak_ = 0;
};

std::vector<Rollout> GrpoRun::rollout(const std::vector<data::Problem>& problems, int n, double temperature, double top_p,
                                      uint64_t seed, int group_offset) {
  std::vector<gen::GenerationRequest> reqs;
  for (const auto& p : problems) {
    gen::GenerationRequest r;
    r.prompt = encode_prompt(p);
    r.n = n;
    r.params.temperature = float(temperature);
    r.params.top_p = float(top_p);
    r.params.max_new_tokens = s_.max_new;
    r.params.stop = s_.stop;
    r.seed = seed;
    reqs.push_back(std::move(r));
  }
  gen::EngineCallbacks cb;
  cb.detokenize = [this](const std::vector<int32_t>& ids) { return decode(ids); };
  const auto completions = engine_->generate(reqs, cb);
  std::vector<Rollout> out;
  for (const auto& c : completions) {
    Rollout r;
    r.group = group_offset + c.request_index;
    r.prompt = reqs[size_t(c.request_index)].prompt;
    r.tokens = c.tokens;
    r.logp_old = c.logprobs;
    r.finish_reason = c.finish_reason;
    r.text = decode(c.tokens);
    out.push_back(std::move(r));
  }
  return out;
}

void GrpoRun::score(std::vector<Rollout>& rs, const std::vector<data::Problem>& problems, int group_offset) {
  std::vector<rewards::RewardInput> inputs;
  for (const auto& r : rs) {
    const data::Problem& p = problems[size_t(r.group - group_offset)];
    inputs.push_back({p.prompt, r.text, p.answer, p.metadata});
  }
  const auto scored = rewards_.score_batch(inputs, 1);
  for (size_t i = 0; i < rs.size(); i++) {
    Rollout& r = rs[i];
    r.reward = scored[i].total;
    for (const auto& part : scored[i].parts) r.parts.push_back(part.score);
    if (s_.overlong_cache > 0) r.reward += overlong_penalty(int(r.tokens.size()), s_.max_new, s_.overlong_cache);
    r.correct = is_correct(problems[size_t(r.group - group_offset)], r.text);
    r.formatted = rewards::has_strict_format(r.text, false);
  }
}

std::vector<Rollout> GrpoRun::gather_rollouts(std::vector<Rollout> mine) {
  if (comm_->world_size() == 1) return mine;
  // CBOR keeps the floats exact; the text is not sent but decoded again from the tokens (the same function made
  // it), so completions that end inside a UTF-8 sequence travel too.
  nlohmann::json j = nlohmann::json::array();
  for (const Rollout& r : mine)
    j.push_back({{"group", r.group}, {"prompt", r.prompt}, {"tokens", r.tokens}, {"logp", r.logp_old},
                 {"finish", r.finish_reason}, {"reward", r.reward}, {"advantage", r.advantage}, {"parts", r.parts},
                 {"correct", r.correct}, {"formatted", r.formatted}});
  const std::vector<uint8_t> bytes = nlohmann::json::to_cbor(j);
  std::vector<Rollout> out;
  for (const std::string& part : comm_->host_all_gather(std::string(bytes.begin(), bytes.end())))
    for (const auto& e : nlohmann::json::from_cbor(part)) {
      Rollout r;
      r.group = e.at("group").get<int>();
      r.prompt = e.at("prompt").get<std::vector<int32_t>>();
      r.tokens = e.at("tokens").get<std::vector<int32_t>>();
      r.logp_old = e.at("logp").get<std::vector<float>>();
      r.finish_reason = e.at("finish").get<std::string>();
      r.text = decode(r.tokens);
      r.reward = e.at("reward").get<double>();
      r.advantage = e.at("advantage").get<double>();
      r.parts = e.at("parts").get<std::vector<double>>();
      r.correct = e.at("correct").get<bool>();
      r.formatted = e.at("formatted").get<bool>();
      out.push_back(std::move(r));
    }
  return out;
}

// μ passes over minibatches of the rollout batch: the clipped-ratio update.
std::map<std::string, double> GrpoRun::update(std::vector<Rollout>& batch, int64_t step) {
  PolicyLossConfig lc;
  lc.eps_low = s_.eps_low, lc.eps_high = s_.eps_high, lc.beta = s_.beta, lc.entropy_coef = s_.entropy_coef;
  lc.aggregation = s_.aggregation, lc.max_len = s_.max_new;
  const float inv_temp = float(1.0 / s_.temperature);
  // The rollout engine's log-probs are the old policy's exactly when it sampled from the unmodified policy on the
  // CPU (same float32 kernels as training). The GPU engine's bf16 decode kernels round differently from the
  // training forward, so there the old log-probs are recomputed (as verl does) to keep the first ratio at 1.
  const bool exact_old = s_.temperature == 1.0 && s_.top_p >= 1.0 && policy_->device() == Device::CPU;
  const auto t_fixed = std::chrono::steady_clock::now();
  // Minibatch order: a fixed shuffle per step.
  std::vector<size_t> order(batch.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  Philox rng(s_.seed, 0x9000 + uint64_t(step));
  for (size_t i = order.size(); i > 1; i--) std::swap(order[i - 1], order[size_t(rng.below(i))]);
  const size_t per = (batch.size() + size_t(s_.minibatches) - 1) / size_t(s_.minibatches);

  auto pack = [&](size_t b, size_t e) {
    PackedBatch pb;
    for (size_t k = b; k < e; k++) {
      const Rollout& r = batch[order[k]];
      std::vector<int32_t> seq = r.prompt;
      seq.insert(seq.end(), r.tokens.begin(), r.tokens.end());
      std::vector<uint8_t> mask(seq.size(), 0);
      for (size_t i = r.prompt.size() - 1; i + 1 < seq.size(); i++) mask[i] = 1;
      pb.add_sequence(seq, mask);
    }
    return pb;
  };
  // Per-token log-probs of the completions, in minibatch order, under `model`.
  auto completion_logprobs = [&](TrainableModel& model, const PackedBatch& pb, std::vector<float>* entropy) {
    model.forward(pb);
    std::vector<float> lp(size_t(pb.num_tokens())), ent(size_t(pb.num_tokens()));
    model.head_forward(pb, lp.data(), ent.data(), inv_temp);
    std::vector<float> out;
    if (entropy) entropy->clear();
    for (int t = 0; t < pb.num_tokens(); t++)
      if (pb.targets[size_t(t)] >= 0) {
        out.push_back(lp[size_t(t)]);
        if (entropy) entropy->push_back(ent[size_t(t)]);
      }
    return out;
  };

  // Each minibatch [b, e) is split into contiguous, token-balanced shares, one per rank (every rank holds the
  // whole batch); a rank processes its share in micro-batches of whole responses (at most micro_batch_tokens
  // tokens, at least one response): forward, loss, backward per micro-batch, gradients accumulated, one optimizer
  // step per minibatch. The aggregations are sums over responses or tokens divided by the minibatch's count, so a
  // micro-batch's loss and gradient, computed with its own count, are weighted by its share of the WHOLE
  // minibatch's count (over all ranks): the weights sum to 1 over the ranks, the optimizer sums the ranks'
  // weighted gradients (grad_weight 1), and the result equals the one-process, unsplit minibatch's exactly.
  struct Micro {
    size_t b, e;
    double weight;
  };
  std::vector<std::vector<Micro>> micros;  // per minibatch: this rank's micro-batches (possibly none)
  for (size_t b = 0; b < batch.size(); b += per) {
    const size_t e = std::min(batch.size(), b + per);
    int64_t mb_tokens = 0;
    std::vector<int64_t> lengths;
    for (size_t k = b; k < e; k++) {
      mb_tokens += int64_t(batch[order[k]].tokens.size());
      lengths.push_back(int64_t(batch[order[k]].prompt.size() + batch[order[k]].tokens.size()));
    }
    const std::vector<size_t> parts = dist::balanced_split(lengths, comm_->world_size());
    const size_t rank = size_t(comm_->rank());
    std::vector<Micro> list;
    for (size_t mb = b + parts[rank]; mb < b + parts[rank + 1];) {
      size_t me = mb;
      int64_t tokens = 0, completion = 0;
      while (me < b + parts[rank + 1]) {
        const Rollout& r = batch[order[me]];
        const int64_t n = int64_t(r.prompt.size() + r.tokens.size());
        if (me > mb && s_.micro_tokens > 0 && tokens + n > s_.micro_tokens) break;
        tokens += n, completion += int64_t(r.tokens.size());
        me++;
      }
      const double weight = s_.aggregation == Aggregation::TokenMean
                                ? double(completion) / double(std::max<int64_t>(mb_tokens, 1))
                                : double(me - mb) / double(e - b);
      list.push_back({mb, me, weight});
      mb = me;
    }
    micros.push_back(std::move(list));
  }

  // Old (sampling-policy) and reference log-probs are fixed for the whole update: compute them first. Until the
  // first update the policy is the one that sampled, so the first minibatch of the first epoch takes its old
  // log-probs from its own training forward in the update below (the same deterministic forward a separate pass
  // would run; TRL does the same for a single iteration): with one minibatch, no extra policy pass at all.
  std::vector<std::vector<std::vector<float>>> old_lp(micros.size()), ref_lp(micros.size());
  for (size_t mb = 0; mb < micros.size(); mb++)
    for (const Micro& m : micros[mb]) {
      const PackedBatch pb = pack(m.b, m.e);
      if (exact_old) {
        std::vector<float> v;
        for (size_t k = m.b; k < m.e; k++)
          v.insert(v.end(), batch[order[k]].logp_old.begin(), batch[order[k]].logp_old.end());
        old_lp[mb].push_back(std::move(v));
      } else {
        old_lp[mb].push_back(mb == 0 ? std::vector<float>{} : completion_logprobs(*policy_, pb, nullptr));
      }
      if (reference_) ref_lp[mb].push_back(completion_logprobs(*reference_, pb, nullptr));
    }

  std::map<std::string, double> m;
  m["time/old_ref_logprobs_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_fixed).count();
  double loss_sum = 0, clip_sum = 0, kl_sum = 0, ent_sum = 0, norm_sum = 0, lr = 0;
  int updates = 0, skipped = 0;
  for (int epoch = 0; epoch < s_.epochs; epoch++)
    for (size_t mb = 0; mb < micros.size(); mb++) {
      double loss = 0, clip = 0, kl = 0, ent = 0;
      policy_->zero_grads();
      for (size_t mi = 0; mi < micros[mb].size(); mi++) {
        const Micro& mc = micros[mb][mi];
        const PackedBatch pb = pack(mc.b, mc.e);
        PolicyLossInput in;
        in.logp = completion_logprobs(*policy_, pb, &in.entropy);
        if (!exact_old && epoch == 0 && mb == 0) old_lp[mb][mi] = in.logp;  // kept for the later epochs
        in.logp_old = old_lp[mb][mi];
        if (reference_) in.logp_ref = ref_lp[mb][mi];
        in.num_seqs = int(mc.e - mc.b);
        for (size_t k = mc.b; k < mc.e; k++) {
          const Rollout& r = batch[order[k]];
          in.seq.insert(in.seq.end(), r.tokens.size(), int32_t(k - mc.b));
          in.advantage.insert(in.advantage.end(), r.tokens.size(), float(r.advantage));
        }
        if (in.logp.size() != in.logp_old.size())
          throw Error("internal: completion token counts differ between rollout and training");
        const PolicyLossOutput out = policy_loss(in, lc);
        loss += mc.weight * out.loss, clip += mc.weight * out.clip_fraction, kl += mc.weight * out.kl_mean;
        ent += mc.weight * out.entropy_mean;
        // Scatter per-completion-token gradients back to the packed positions, weighted by the micro-batch's share.
        const float w = float(mc.weight);
        std::vector<float> dlp(size_t(pb.num_tokens()), 0.0f), dent;
        if (s_.entropy_coef > 0) dent.assign(size_t(pb.num_tokens()), 0.0f);
        for (int t = 0, k = 0; t < pb.num_tokens(); t++)
          if (pb.targets[size_t(t)] >= 0) {
            dlp[size_t(t)] = w * out.dlogp[size_t(k)];
            if (!dent.empty()) dent[size_t(t)] = w * out.dentropy[size_t(k)];
            k++;
          }
        policy_->backward(pb, dlp.data(), dent.empty() ? nullptr : dent.data(), inv_temp);
      }
      // The minibatch's numbers: sums of the ranks' weighted shares (a non-finite loss anywhere is seen by all,
      // so every rank makes the same decision about the collective step).
      double sums[4] = {loss, clip, kl, ent};
      if (comm_->world_size() > 1) comm_->host_all_reduce_sum(sums, 4);
      loss = sums[0], clip = sums[1], kl = sums[2], ent = sums[3];
      lr = schedule_.lr_at(optimizer_->steps_taken() + 1);
      // The micro-batch weights are already shares of the global minibatch: the ranks' gradients just add up.
      double norm = std::isfinite(loss) ? optimizer_->step(float(lr), s_.clip, 1.0) : NAN;
      if (!std::isfinite(norm)) {
        // A non-finite loss or gradient: skip the update, so the weights (and the next checkpoint) stay clean.
        log::warn("step ", step, ": non-finite loss or gradient norm; update skipped");
        skipped++;
        continue;
      }
      loss_sum += loss, clip_sum += clip, kl_sum += kl, ent_sum += ent;
      norm_sum += norm;
      updates++;
    }
  const double u = std::max(updates, 1);
  m["train/loss"] = loss_sum / u;
  m["train/clip_fraction"] = clip_sum / u;
  m["train/kl"] = kl_sum / u;
  m["train/entropy"] = ent_sum / u;
  m["train/grad_norm"] = norm_sum / u;
  m["train/lr"] = lr;
  m["train/skipped_updates"] = skipped;
  if (skipped > 0 && updates == 0) nonfinite_streak_++;
  else nonfinite_streak_ = 0;
  if (nonfinite_streak_ >= 3)
    throw Error("training diverged: 3 steps in a row with non-finite losses (the last checkpoint is intact)");
  return m;
}

std::map<std::string, double> GrpoRun::evaluate() {
  const bool greedy = s_.eval_temperature <= 0;
  const int n = greedy ? 1 : s_.eval_samples;
  // Each rank samples its contiguous share of the held-out problems (a sample's RNG stream depends on the seed
  // and its index within its prompt only, so the split does not change it); the counts are summed.
  const auto [b, e] = share(held_out_.size());
  std::vector<Rollout> rs;
  if (e > b)
    rs = rollout({held_out_.begin() + long(b), held_out_.begin() + long(e)}, n, greedy ? 0.0 : s_.eval_temperature,
                 1.0, s_.seed + 0xe7a1, int(b));
  double sums[4] = {0, 0, 0, double(rs.size())};  // correct, formatted, length, samples
  for (auto& r : rs) {
    r.correct = is_correct(held_out_[size_t(r.group)], r.text);
    r.formatted = rewards::has_strict_format(r.text, false);
    sums[0] += r.correct, sums[1] += r.formatted, sums[2] += double(r.tokens.size());
  }
  if (comm_->world_size() > 1) comm_->host_all_reduce_sum(sums, 4);
  const double k = std::max(sums[3], 1.0);
  return {{"eval/accuracy", sums[0] / k}, {"eval/format_rate", sums[1] / k}, {"eval/response_length", sums[2] / k}};
}

TrainingCheckpoint GrpoRun::checkpoint_parts() {
  return {*policy_, *optimizer_, *comm_, config_.get_string("model.path")};
}

void GrpoRun::save_checkpoint(int64_t step, RunDir* dir) {
  save_training_checkpoint(checkpoint_parts(), dir, step, nlohmann::json::object(), s_.ckpt_keep);
}

int64_t GrpoRun::restore_checkpoint(RunDir* dir) {
  const nlohmann::json state = restore_training_checkpoint(checkpoint_parts(), dir);
  return state.is_null() ? 0 : state["step"].get<int64_t>();
}

GrpoSummary GrpoRun::run() {
  // Only rank 0 writes the run directory (config, metrics, samples, checkpoints, report); the others train beside
  // it and take part in every collective (evaluation, checkpoint saves).
  const bool root = comm_->is_root();
  std::optional<RunDir> run_dir;
  if (root) run_dir.emplace(options_.run_dir, options_.resume ? RunDir::Mode::Resume : RunDir::Mode::Create);
  RunDir* dir = run_dir ? &*run_dir : nullptr;
  const int64_t start = options_.resume ? restore_checkpoint(dir) : 0;
  if (dir) dir->write_file("config.yaml", config_to_yaml(config_, &grpo_config_schema()));
  MetricsOptions mo;
  if (options_.resume) mo.resume_from_step = start;
  std::optional<MetricsWriter> metrics;
  std::ofstream samples;
  if (root) {
    metrics.emplace(options_.run_dir, mo);
    samples.open(fs::path(options_.run_dir) / "samples.jsonl", std::ios::app);
  }

  GrpoSummary summary;
  // The base model's held-out numbers: step 0 of the run (recomputed on resume: it is deterministic).
  const auto base = evaluate();
  summary.base_accuracy = base.at("eval/accuracy");
  summary.base_format_rate = base.at("eval/format_rate");
  if (start == 0 && metrics) metrics->log(0, base);
  log::info("base model: held-out accuracy ", summary.base_accuracy * 100, "%, format rate ",
            summary.base_format_rate * 100, "%");
  auto last_eval = base;

  ProgressOptions po;
  po.unit = "step";
  po.initial = start;
  std::optional<ProgressBar> bar;
  if (root) bar.emplace("grpo", s_.steps, stderr, po);
  int64_t step = start;
  const int64_t stop_at = options_.max_steps_this_run >= 0 ? std::min<int64_t>(s_.steps, start + options_.max_steps_this_run)
                                                           : s_.steps;
  for (step = start + 1; step <= stop_at; step++) {
    const auto t0 = std::chrono::steady_clock::now();
    double t_rollout = 0, t_reward = 0;
    // Rollouts (DAPO: keep only groups with a learning signal, refilling up to max_sampling_rounds).
    std::vector<Rollout> batch;
    std::vector<data::Problem> problems;
    int groups_seen = 0, groups_kept = 0;
    std::vector<Rollout> all;  // every rollout of the step, for metrics
    for (int round = 0; round < (s_.dynamic_sampling ? s_.max_rounds : 1); round++) {
      const int need = s_.prompts - groups_kept;
      if (need <= 0) break;
      // Every rank draws the same problems and rolls out, scores and computes advantages for its contiguous
      // share of them (whole groups); the gathered rollouts are the one-process round's, in the same order.
      const auto ps = problems_->train_batch(s_.seed, step, round, need);
      const int offset = int(problems.size());
      problems.insert(problems.end(), ps.begin(), ps.end());
      const auto [pb, pe] = share(ps.size());
      const auto ta = std::chrono::steady_clock::now();
      std::vector<Rollout> rs;
      if (pe > pb)
        rs = rollout({ps.begin() + long(pb), ps.begin() + long(pe)}, s_.group, s_.temperature, s_.top_p,
                     s_.seed * 0x9e3779b97f4a7c15ull + uint64_t(step) * 1000 + uint64_t(round), offset + int(pb));
      const auto tb = std::chrono::steady_clock::now();
      score(rs, problems, 0);
      const auto tc = std::chrono::steady_clock::now();
      t_rollout += std::chrono::duration<double>(tb - ta).count();
      t_reward += std::chrono::duration<double>(tc - tb).count();
      // Group advantages (of this rank's groups).
      AdvantageConfig ac;
      ac.divide_by_std = s_.divide_by_std;
      auto groups_of = [](const std::vector<Rollout>& v) {
        std::map<int, std::vector<size_t>> members;
        for (size_t i = 0; i < v.size(); i++) members[v[i].group].push_back(i);
        return members;
      };
      for (auto& [g, idx] : groups_of(rs)) {
        std::vector<double> rewards;
        for (size_t i : idx) rewards.push_back(rs[i].reward);
        const auto adv = group_advantages({rewards}, ac)[0];
        for (size_t j = 0; j < idx.size(); j++) rs[idx[j]].advantage = adv[j];
      }
      rs = gather_rollouts(std::move(rs));
      // Dynamic sampling: every rank holds the same rollouts, so every rank keeps the same groups.
      for (auto& [g, idx] : groups_of(rs)) {
        std::vector<double> rewards;
        for (size_t i : idx) rewards.push_back(rs[i].reward);
        groups_seen++;
        if (s_.dynamic_sampling && group_is_degenerate(rewards)) continue;
        if (groups_kept >= s_.prompts) continue;
        groups_kept++;
        for (size_t i : idx) batch.push_back(rs[i]);
      }
      all.insert(all.end(), rs.begin(), rs.end());
    }
    // The slowest rank's times (one rank: its own).
    double times[2] = {t_rollout, t_reward};
    if (comm_->world_size() > 1) comm_->host_all_reduce_max(times, 2);
    t_rollout = times[0], t_reward = times[1];
    // Metrics of the rollouts (the same on every rank: they hold the gathered rollouts).
    std::map<std::string, double> m;
    double rsum = 0, rsq = 0, acc = 0, fmt = 0, len = 0, lmax = 0, ntok = 0;
    std::vector<double> part_sum(rewards_.parts().size(), 0.0);
    for (const auto& r : all) {
      rsum += r.reward, rsq += r.reward * r.reward, acc += r.correct, fmt += r.formatted;
      len += double(r.tokens.size()), lmax = std::max(lmax, double(r.tokens.size())), ntok += double(r.tokens.size());
      for (size_t k = 0; k < r.parts.size(); k++) part_sum[k] += r.parts[k];
    }
    const double n = std::max<size_t>(all.size(), 1);
    m["reward/mean"] = rsum / n;
    m["reward/std"] = std::sqrt(std::max(0.0, rsq / n - (rsum / n) * (rsum / n)));
    for (size_t k = 0; k < part_sum.size(); k++) m["reward/" + rewards_.labels()[k]] = part_sum[k] / n;
    m["rollout/accuracy"] = acc / n;
    m["rollout/format_rate"] = fmt / n;
    m["rollout/response_length"] = len / n;
    m["rollout/response_length_max"] = lmax;
    m["rollout/groups_kept"] = groups_kept;
    m["rollout/groups_seen"] = groups_seen;
    // The update.
    const auto td = std::chrono::steady_clock::now();
    if (!batch.empty()) {
      const auto um = update(batch, step);
      m.insert(um.begin(), um.end());
    }
    const auto te = std::chrono::steady_clock::now();
    const double t_train = std::chrono::duration<double>(te - td).count();
    const double total = std::chrono::duration<double>(te - t0).count();
    m["time/rollout_s"] = t_rollout;
    m["time/reward_s"] = t_reward;
    m["time/train_s"] = t_train;
    m["perf/generated_tokens_per_s"] = ntok / std::max(t_rollout, 1e-9);
    m["perf/step_s"] = total;
    m.merge(optimizer_->memory_metrics());
    if (step % s_.eval_every == 0 || step == s_.steps) {
      last_eval = evaluate();
      m.insert(last_eval.begin(), last_eval.end());
    }
    if (root) {
      metrics->log(step, m);
      for (int k = 0; k < s_.samples_per_step && k < int(all.size()); k++) {
        const Rollout& r = all[size_t(k) * all.size() / size_t(std::max(1, s_.samples_per_step))];
        const data::Problem& p = problems[size_t(r.group)];
        samples << nlohmann::json({{"step", step}, {"prompt", p.prompt}, {"completion", r.text}, {"gold", p.answer},
                                   {"reward", r.reward}, {"correct", r.correct}, {"finish_reason", r.finish_reason}})
                       .dump()
                << "\n";
      }
      samples.flush();
    }
    if (step % s_.ckpt_every == 0 || step == s_.steps) save_checkpoint(step, dir);
    if (!bar) continue;
    char rw[32], ac[32], ev[32];
    std::snprintf(rw, sizeof rw, "%.3f", m["reward/mean"]);
    std::snprintf(ac, sizeof ac, "%.0f%%", 100 * m["rollout/accuracy"]);
    std::snprintf(ev, sizeof ev, "%.0f%%", 100 * last_eval.at("eval/accuracy"));
    bar->update(step, {{"reward", rw}, {"acc", ac}, {"held-out", ev}});
  }
  if (bar) bar->finish();
  summary.steps = step - 1;
  summary.final_accuracy = last_eval.at("eval/accuracy");
  summary.final_format_rate = last_eval.at("eval/format_rate");
  if (!root) return summary;
  char b[64], f[64], bf[64], ff[64];
  std::snprintf(b, sizeof b, "%.1f%%", 100 * summary.base_accuracy);
  std::snprintf(f, sizeof f, "%.1f%%", 100 * summary.final_accuracy);
  std::snprintf(bf, sizeof bf, "%.1f%%", 100 * summary.base_format_rate);
  std::snprintf(ff, sizeof ff, "%.1f%%", 100 * summary.final_format_rate);
  const nlohmann::json sj = {{"held-out accuracy (base)", b}, {"held-out accuracy (after RL)", f},
                             {"format rate (base)", bf}, {"format rate (after RL)", ff}, {"steps", summary.steps}};
  dir->write_file("summary.json", sj.dump(2) + "\n");
  ReportOptions ro;
  ro.metrics = {"eval/accuracy", "eval/format_rate", "reward/mean", "rollout/accuracy", "rollout/response_length",
                "train/kl", "train/entropy", "train/clip_fraction", "train/loss", "train/grad_norm"};
  write_report(options_.run_dir, ro);
  return summary;
}

}  // namespace

GrpoSummary run_grpo(const Config& config, const GrpoRunOptions& options) {
  GrpoRun run(config, options);
  return run.run();
}

}  // namespace r1::rl
