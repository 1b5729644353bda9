#include "train/sft.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>

#include "backend/cpu/threads.h"
#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/rng.h"
#include "data/reasoning_corpus.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/hf_export.h"
#include "model/safetensors.h"
#include "tokenizer/tokenizer.h"
#include "train/metrics.h"
#include "train/optim_config.h"
#include "train/pretrain.h"
#include "train/report.h"
#include "train/run_dir.h"
#include "train/training_checkpoint.h"
#include "train/distributed/world.h"
#include "train/schedule.h"

namespace fs = std::filesystem;

namespace r1 {

// ---------------------------------------------------------------------------------------------------------------
// Data: conversations -> tokens + masks
// ---------------------------------------------------------------------------------------------------------------

namespace {

std::string string_field(const nlohmann::json& j, const std::string& key, const std::string& path, long line,
                         const std::string& where) {
  if (!j.contains(key)) fail_at_line(path, line, "missing field '" + where + key + "'");
  if (!j[key].is_string()) fail_at_line(path, line, "field '" + where + key + "' is not a string");
  return j[key].get<std::string>();
}

std::vector<ChatMessage> parse_messages(const nlohmann::json& j, const SftJsonlFields& f, const std::string& path,
                                        long line) {
  const nlohmann::json& ms = j[f.messages_field];
  if (!ms.is_array()) fail_at_line(path, line, "field '" + f.messages_field + "' is not a list");
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < ms.size(); i++) {
    const std::string where = f.messages_field + "[" + std::to_string(i) + "].";
    if (!ms[i].is_object()) fail_at_line(path, line, "field '" + f.messages_field + "[" + std::to_string(i) + "]' is not an object");
    ChatMessage m{string_field(ms[i], "role", path, line, where), string_field(ms[i], "content", path, line, where)};
    if (m.role != "system" && m.role != "user" && m.role != "assistant")
      fail_at_line(path, line, "field '" + where + "role': '" + m.role + "' is not system, user or assistant");
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace

std::vector<std::vector<ChatMessage>> read_sft_conversations(const std::string& path, const SftJsonlFields& f,
                                                             std::vector<std::string>* ids) {
  if (f.format != "auto" && f.format != "messages" && f.format != "prompt_response")
    throw Error("SFT data format '" + f.format + "' is not auto, messages or prompt_response");
  std::ifstream in(path);
  if (!in) fail_in_file(path, "cannot open");
  std::vector<std::vector<ChatMessage>> out;
  std::string text;
  for (long line = 1; std::getline(in, text); line++) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      fail_at_line(path, line, std::string("invalid JSON: ") + e.what());
    }
    if (!j.is_object()) fail_at_line(path, line, "not a JSON object");
    const bool has_messages = j.contains(f.messages_field);
    std::vector<ChatMessage> conv;
    if (f.format == "messages" || (f.format == "auto" && has_messages)) {
      if (!has_messages) fail_at_line(path, line, "missing field '" + f.messages_field + "'");
      conv = parse_messages(j, f, path, line);
    } else {
      if (f.format == "auto" && !j.contains(f.prompt_field))
        fail_at_line(path, line, "expected a '" + f.messages_field + "' list or '" + f.prompt_field + "' and '" +
                                     f.response_field + "' fields");
      if (j.contains("system") && j["system"].is_string()) conv.push_back({"system", j["system"].get<std::string>()});
      conv.push_back({"user", string_field(j, f.prompt_field, path, line, "")});
      conv.push_back({"assistant", string_field(j, f.response_field, path, line, "")});
    }
    if (!f.system.empty() && std::none_of(conv.begin(), conv.end(), [](const ChatMessage& m) { return m.role == "system"; }))
      conv.insert(conv.begin(), {"system", f.system});
    if (std::none_of(conv.begin(), conv.end(), [](const ChatMessage& m) { return m.role == "assistant"; }))
      fail_at_line(path, line, "the conversation has no assistant message: nothing to learn");
    out.push_back(std::move(conv));
    if (ids) ids->push_back(path + ":" + std::to_string(line));
  }
  if (out.empty()) fail_in_file(path, "no conversations");
  return out;
}

SftExample encode_sft_example(const Tokenizer& tokenizer, const ChatTemplate& tmpl,
                              const std::vector<ChatMessage>& conversation, std::string id) {
  EncodedChat e = encode_chat(tokenizer, tmpl, conversation, false);
  return {std::move(id), std::move(e.ids), std::move(e.assistant_mask)};
}

std::vector<uint8_t> sft_loss_mask(const SftExample& ex) {
  std::vector<uint8_t> mask(ex.tokens.size(), 0);
  for (size_t i = 0; i + 1 < ex.tokens.size(); i++) mask[i] = ex.assistant_mask[i + 1];
  return mask;
}

int64_t sft_target_count(const SftExample& ex) {
  int64_t n = 0;
  for (size_t i = 1; i < ex.assistant_mask.size(); i++) n += ex.assistant_mask[i] != 0;
  return n;
}

PackedBatch pack_sft_batch(const std::vector<SftExample>& examples, const std::vector<size_t>& indices) {
  PackedBatch b;
  for (size_t i : indices) b.add_sequence(examples[i].tokens, sft_loss_mask(examples[i]));
  return b;
}

std::vector<std::vector<size_t>> plan_sft_epoch(const std::vector<SftExample>& examples, int batch_tokens,
                                                uint64_t seed, int64_t epoch, bool shuffle) {
  std::vector<size_t> order(examples.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  if (shuffle) {
    Philox rng(seed, 0x5f70000 + uint64_t(epoch));
    for (size_t i = order.size(); i > 1; i--) std::swap(order[i - 1], order[size_t(rng.below(i))]);
  }
  std::vector<std::vector<size_t>> batches;
  std::vector<size_t> cur;
  int64_t used = 0;
  for (size_t i : order) {
    const int64_t len = int64_t(examples[i].tokens.size());
    if (len > batch_tokens)
      throw Error("SFT example '" + examples[i].id + "' has " + std::to_string(len) +
                  " tokens, more than the batch budget of " + std::to_string(batch_tokens));
    if (used + len > batch_tokens) batches.push_back(std::move(cur)), cur.clear(), used = 0;
    cur.push_back(i);
    used += len;
  }
  if (!cur.empty()) batches.push_back(std::move(cur));
  return batches;
}

double sft_eval_loss(TrainableModel& model, const std::vector<SftExample>& examples, int batch_tokens) {
  double sum = 0, count = 0;
  for (const auto& idx : plan_sft_epoch(examples, batch_tokens, 0, 0, false)) {
    const PackedBatch b = pack_sft_batch(examples, idx);
    const int64_t n = b.num_targets();
    if (n == 0) continue;
    sum += model.cross_entropy_step(b, false) * double(n);
    count += double(n);
  }
  return count > 0 ? sum / count : std::numeric_limits<double>::quiet_NaN();
}

// ---------------------------------------------------------------------------------------------------------------
// Config schema
// ---------------------------------------------------------------------------------------------------------------

const ConfigSchema& sft_config_schema() {
  static const ConfigSchema schema = [] {
    ConfigSchema s;
    using T = ConfigType;
    s.add("seed", T::Int, 0, "Seed of the data order");
    s.add("model.path", T::String, nullptr, "Hugging Face model directory to fine-tune");
    add_template_key(s, "the loss covers what it marks as the assistant's");
    s.add("data.source", T::String, "jsonl", "jsonl: conversations from data.path; addition: the built-in task's "
          "well-formed solutions (the tiny model's cold-start data)")
        .one_of({"jsonl", "addition"});
    s.add("data.path", T::String, "", "jsonl: training conversations");
    s.add("data.eval_path", T::String, "", "jsonl: held-out conversations (empty: the last data.eval_fraction of path)");
    s.add("data.eval_fraction", T::Float, 0.05, "jsonl without eval_path: fraction of the data held out (0: none)")
        .range(0, 0.5);
    s.add("data.format", T::String, "auto", "Records: {messages: [...]} or {prompt, response}; auto accepts both")
        .one_of({"auto", "messages", "prompt_response"});
    s.add("data.messages_field", T::String, "messages", "Field holding the message list");
    s.add("data.prompt_field", T::String, "prompt", "Field holding the prompt");
    s.add("data.response_field", T::String, "response", "Field holding the response");
    s.add("data.system", T::String, "", "System prompt for conversations without one (empty: none)");
    s.add("data.max_tokens", T::Int, nullptr, "Drop conversations longer than this (null: train.batch_tokens)")
        .allow_null()
        .at_least(2);
    s.add("data.count", T::Int, 2000, "addition: training examples").at_least(1);
    s.add("data.eval_count", T::Int, 64, "addition: held-out examples (problems never trained on)").at_least(0);
    s.add("data.min_digits", T::Int, 1, "addition: smallest operand size in digits").range(1, 9);
    s.add("data.max_digits", T::Int, 2, "addition: largest operand size in digits").range(1, 9);
    s.add("train.epochs", T::Int, 1, "Passes over the training data (when max_steps is null)").at_least(1);
    s.add("train.max_steps", T::Int, nullptr, "Optimizer steps (null: train.epochs full epochs)").allow_null().at_least(1);
    s.add("train.batch_tokens", T::Int, 4096, "Tokens per optimizer step: whole conversations packed up to this")
        .at_least(2);
    s.add("train.shuffle", T::Bool, true, "Shuffle the conversations every epoch");
    add_optim_keys(s, {1e-4, "cosine", 0.95});
    s.add("optim.min_lr_ratio", T::Float, 0.1, "Cosine/linear decay ends at this fraction of lr").range(0, 1);
    s.add("eval.every", T::Int, 50, "Held-out loss every N steps (and at start and end)").at_least(1);
    s.add("eval.batch_tokens", T::Int, nullptr, "Tokens per evaluation batch (null: train.batch_tokens)")
        .allow_null()
        .at_least(2);
    s.add("checkpoint.every", T::Int, 100, "Checkpoint every N steps (and at the end)").at_least(1);
    s.add("checkpoint.keep", T::Int, 2, "Checkpoints kept").at_least(1);
    add_device_keys(s, "Where the model trains");
    return s;
  }();
  return schema;
}

// ---------------------------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------------------------

namespace {

struct SftData {
  std::vector<SftExample> train, eval;
  int64_t dropped = 0;
};

SftData load_data(const Config& c, const Tokenizer& tok, const ChatTemplate& tmpl, int max_tokens) {
  std::vector<std::vector<ChatMessage>> train_convs, eval_convs;
  std::vector<std::string> train_ids, eval_ids;
  if (c.get_string("data.source") == "addition") {
    if (c.get_int("data.min_digits") > c.get_int("data.max_digits"))
      fail_in_field(c.source(), "data.min_digits", "is larger than data.max_digits");
    data::AdditionTaskOptions o{int(c.get_int("data.min_digits")), int(c.get_int("data.max_digits")),
                                uint64_t(c.get_int("seed"))};
    auto add = [&](data::Split split, int count, auto& convs, auto& ids) {
      if (split == data::Split::HeldOut) o.seed = 7;  // the held-out problems GRPO and `r1 eval` use
      for (const auto& p : data::addition_problems(o, split, count)) {
        convs.push_back({{"user", p.question()}, {"assistant", data::formatted_solution(p)}});
        ids.push_back("addition/" + std::to_string(p.a) + "+" + std::to_string(p.b));
      }
    };
    add(data::Split::Train, int(c.get_int("data.count")), train_convs, train_ids);
    add(data::Split::HeldOut, int(c.get_int("data.eval_count")), eval_convs, eval_ids);
  } else {
    SftJsonlFields f;
    f.format = c.get_string("data.format");
    f.messages_field = c.get_string("data.messages_field");
    f.prompt_field = c.get_string("data.prompt_field");
    f.response_field = c.get_string("data.response_field");
    f.system = c.get_string("data.system");
    const std::string path = c.get_string("data.path");
    if (path.empty()) fail_in_field(c.source(), "data.path", "is empty (data.source is jsonl)");
    train_convs = read_sft_conversations(path, f, &train_ids);
    const std::string eval_path = c.get_string("data.eval_path");
    if (!eval_path.empty()) {
      eval_convs = read_sft_conversations(eval_path, f, &eval_ids);
    } else if (const double frac = c.get_float("data.eval_fraction"); frac > 0 && train_convs.size() >= 2) {
      // The LAST records are held out: deterministic, and a file sorted by source keeps its tail unseen.
      const size_t n = std::clamp<size_t>(size_t(std::lround(frac * double(train_convs.size()))), 1, train_convs.size() - 1);
      eval_convs.assign(train_convs.end() - long(n), train_convs.end());
      eval_ids.assign(train_ids.end() - long(n), train_ids.end());
      train_convs.resize(train_convs.size() - n), train_ids.resize(train_ids.size() - n);
    }
  }
  SftData d;
  auto encode_all = [&](const auto& convs, const auto& ids, std::vector<SftExample>& out) {
    for (size_t i = 0; i < convs.size(); i++) {
      SftExample e = encode_sft_example(tok, tmpl, convs[i], ids[i]);
      if (int64_t(e.tokens.size()) > max_tokens || sft_target_count(e) == 0) {
        d.dropped++;
        continue;
      }
      out.push_back(std::move(e));
    }
  };
  encode_all(train_convs, train_ids, d.train);
  encode_all(eval_convs, eval_ids, d.eval);
  if (d.dropped > 0)
    log::warn("sft: dropped ", d.dropped, " conversations longer than ", max_tokens,
              " tokens or without assistant tokens to learn");
  if (d.train.empty()) throw Error(c.source() + ": no training conversations left (all longer than " +
                                   std::to_string(max_tokens) + " tokens?)");
  return d;
}

class SftRun {
 public:
  SftRun(const Config& config, const SftRunOptions& options) : config_(config), options_(options) {
    const std::string model_path = config.get_string("model.path");
    if (!is_model_dir(model_path))
      fail_in_field(config.source(), "model.path", "'" + model_path + "' is not a model directory (no config.json)");
    model_config_ = load_model_config(model_path + "/config.json");
    tokenizer_ = std::make_unique<Tokenizer>(Tokenizer::from_dir(model_path));
    const ChatTemplate tmpl = ChatTemplate::resolve(config.get_string("model.template"), *tokenizer_);
    batch_tokens_ = int(config.get_int("train.batch_tokens"));
    eval_tokens_ = config.is_null("eval.batch_tokens") ? batch_tokens_ : int(config.get_int("eval.batch_tokens"));
    const int max_tokens = config.is_null("data.max_tokens") ? batch_tokens_ : int(config.get_int("data.max_tokens"));
    if (max_tokens > batch_tokens_)
      fail_in_field(config.source(), "data.max_tokens", "is larger than train.batch_tokens: such a conversation fits no batch");
    data_ = load_data(config, *tokenizer_, tmpl, max_tokens);
    seed_ = uint64_t(config.get_int("seed"));
    shuffle_ = config.get_bool("train.shuffle");
    total_steps_ = config.is_null("train.max_steps") ? 0 : config.get_int("train.max_steps");
    if (total_steps_ == 0)
      for (int64_t e = 0; e < config.get_int("train.epochs"); e++) total_steps_ += int64_t(epoch_plan(e).size());

    const int threads = int(config.get_int("threads"));
    cpu::set_num_threads(cpu::auto_threads(model_config_.hidden_size, threads));
    const Device device = job_device(config);
    comm_ = &dist::world(device);  // before the model: a GPU job's communicator selects this rank's GPU
    model_ = make_model(model_config_, device);
    reload_weights(*model_, model_path);
    model_->reserve(std::max(batch_tokens_, eval_tokens_));
    optimizer_ = std::make_unique<Optimizer>(*model_, adamw_config(config), comm_);  // ZeRO-1 over the job's ranks
    schedule_ = {parse_schedule_kind(config.get_string("optim.schedule")), float(config.get_float("optim.lr")),
                 config.get_int("optim.warmup_steps"), total_steps_, float(config.get_float("optim.min_lr_ratio"))};
    clip_ = config.get_float("optim.clip_grad_norm");
  }

  SftSummary run();

 private:
  // Batches of epoch e (cached: the plan is recomputed identically on resume).
  const std::vector<std::vector<size_t>>& epoch_plan(int64_t e) {
    auto it = plans_.find(e);
    if (it == plans_.end()) it = plans_.emplace(e, plan_sft_epoch(data_.train, batch_tokens_, seed_, e, shuffle_)).first;
    return it->second;
  }
  // The examples of 1-based global step `step`: epochs follow each other, each in its own order.
  const std::vector<size_t>& batch_of_step(int64_t step) {
    int64_t k = step - 1;
    for (int64_t e = 0;; e++) {
      const auto& plan = epoch_plan(e);
      if (k < int64_t(plan.size())) {
        epoch_ = e;
        return plan[size_t(k)];
      }
      k -= int64_t(plan.size());
    }
  }
  double eval_loss() {
    if (data_.eval.empty()) return std::numeric_limits<double>::quiet_NaN();
    if (comm_->world_size() == 1) return sft_eval_loss(*model_, data_.eval, eval_tokens_);
    // Data parallel: the held-out batches are dealt round-robin to the ranks, the sums reduced.
    double acc[2] = {0, 0};
    const auto plan = plan_sft_epoch(data_.eval, eval_tokens_, 0, 0, false);
    for (size_t k = size_t(comm_->rank()); k < plan.size(); k += size_t(comm_->world_size())) {
      const PackedBatch b = pack_sft_batch(data_.eval, plan[k]);
      if (b.num_targets() == 0) continue;
      acc[0] += model_->cross_entropy_step(b, false) * double(b.num_targets());
      acc[1] += double(b.num_targets());
    }
    comm_->host_all_reduce_sum(acc, 2);
    return acc[1] > 0 ? acc[0] / acc[1] : std::numeric_limits<double>::quiet_NaN();
  }
  // Collective; only rank 0 holds the run directory (dir is null elsewhere) and writes.
  void save_checkpoint(int64_t step, RunDir* dir, double base_eval);
  int64_t restore_checkpoint(RunDir* dir, double* base_eval);

  const Config& config_;
  SftRunOptions options_;
  ModelConfig model_config_;
  std::unique_ptr<Tokenizer> tokenizer_;
  SftData data_;
  int batch_tokens_ = 0, eval_tokens_ = 0;
  uint64_t seed_ = 0;
  bool shuffle_ = true;
  int64_t total_steps_ = 0, epoch_ = 0;
  std::map<int64_t, std::vector<std::vector<size_t>>> plans_;
  std::unique_ptr<TrainableModel> model_;
  dist::Communicator* comm_ = nullptr;  // the job's ranks (a world of 1 without a launcher)
  std::unique_ptr<Optimizer> optimizer_;
  LrSchedule schedule_;
  double clip_ = 1.0;
};

void SftRun::save_checkpoint(int64_t step, RunDir* dir, double base_eval) {
  nlohmann::json state = {{"epoch", epoch_}};
  state["base_eval_loss"] = std::isfinite(base_eval) ? nlohmann::json(base_eval) : nlohmann::json(nullptr);
  save_training_checkpoint({*model_, *optimizer_, *comm_, config_.get_string("model.path")}, dir, step, state,
                           int(config_.get_int("checkpoint.keep")));
}

int64_t SftRun::restore_checkpoint(RunDir* dir, double* base_eval) {
  const nlohmann::json state =
      restore_training_checkpoint({*model_, *optimizer_, *comm_, config_.get_string("model.path")}, dir);
  if (state.is_null()) return 0;
  const auto it = state.find("base_eval_loss");
  *base_eval = it == state.end() || it->is_null() ? std::numeric_limits<double>::quiet_NaN() : it->get<double>();
  return state["step"].get<int64_t>();
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

SftSummary SftRun::run() {
  // Only rank 0 writes the run directory (config, metrics, checkpoints, report); the others train beside it.
  const bool root = comm_->is_root();
  std::optional<RunDir> run_dir;
  if (root) run_dir.emplace(options_.run_dir, options_.resume ? RunDir::Mode::Resume : RunDir::Mode::Create);
  RunDir* dir = run_dir ? &*run_dir : nullptr;
  double base_eval = std::numeric_limits<double>::quiet_NaN();
  const int64_t start = options_.resume ? restore_checkpoint(dir, &base_eval) : 0;
  if (dir) dir->write_file("config.yaml", config_to_yaml(config_, &sft_config_schema()));
  MetricsOptions mo;
  // Records after the checkpoint are redone; resumed without any checkpoint, the run starts over (step 0 too).
  if (options_.resume) mo.resume_from_step = start > 0 ? start : -1;
  std::optional<MetricsWriter> metrics;
  if (root) metrics.emplace(options_.run_dir, mo);

  SftSummary summary;
  summary.train_examples = int64_t(data_.train.size());
  summary.eval_examples = int64_t(data_.eval.size());
  summary.dropped_examples = data_.dropped;
  for (const auto& e : data_.train) summary.train_target_tokens += sft_target_count(e);
  log::info("sft: ", summary.train_examples, " training conversations (", summary.train_target_tokens,
            " assistant tokens), ", summary.eval_examples, " held out; ", total_steps_, " steps of <= ", batch_tokens_,
            " tokens");
  if (start == 0) {
    base_eval = eval_loss();
    if (metrics) metrics->log(0, {{"eval/loss", base_eval}});
  }
  double last_eval = start == 0 ? base_eval : std::numeric_limits<double>::quiet_NaN();
  summary.base_eval_loss = base_eval;
  summary.first_loss = std::numeric_limits<double>::quiet_NaN();
  if (start > 0 && metrics)  // the first step ran before the resume: its loss is in the metrics
    for (const auto& r : read_metrics(metrics->jsonl_path()))
      if (r.step == 1 && r.values.count("train/loss")) summary.first_loss = r.values.at("train/loss");

  ProgressOptions po;
  po.unit = "step";
  po.initial = start;
  std::optional<ProgressBar> bar;
  if (root) bar.emplace("sft", total_steps_, stderr, po);
  const int64_t eval_every = config_.get_int("eval.every"), ckpt_every = config_.get_int("checkpoint.every");
  const int64_t stop_at = options_.max_steps_this_run >= 0
                              ? std::min<int64_t>(total_steps_, start + options_.max_steps_this_run)
                              : total_steps_;
  int nonfinite_streak = 0;
  int64_t step = start + 1;
  for (; step <= stop_at; step++) {
    const auto t0 = std::chrono::steady_clock::now();
    // Every rank plans the same global batch and trains on its token-balanced, contiguous share of it.
    const std::vector<size_t>& global = batch_of_step(step);
    std::vector<int64_t> lengths;
    for (size_t i : global) lengths.push_back(int64_t(data_.train[i].tokens.size()));
    const std::vector<size_t> parts = dist::balanced_split(lengths, comm_->world_size());
    const size_t rank = size_t(comm_->rank());
    const PackedBatch batch = pack_sft_batch(
        data_.train, std::vector<size_t>(global.begin() + long(parts[rank]), global.begin() + long(parts[rank + 1])));
    int64_t targets = 0;
    for (int32_t t : batch.targets) targets += t >= 0;
    model_->zero_grads();
    const double local_loss = targets > 0 ? model_->cross_entropy_step(batch, true) : 0.0;
    // Global batch: loss x targets, targets, sequences, tokens summed over ranks (one rank: its own numbers).
    double g[4] = {local_loss * double(targets), double(targets), double(batch.num_sequences()),
                   double(batch.num_tokens())};
    comm_->host_all_reduce_sum(g, 4);
    const bool single = comm_->world_size() == 1;
    const double loss = single ? local_loss : g[0] / g[1];
    const float lr = schedule_.lr_at(optimizer_->steps_taken() + 1);
    // Each rank's loss is a mean over its own targets: weighing its gradient by targets / global targets makes
    // the sum the gradient of the global batch's mean. Non-finite loss: the same decision on every rank.
    const double norm = std::isfinite(loss) ? optimizer_->step(lr, clip_, single ? 1.0 : double(targets) / g[1]) : NAN;
    if (!std::isfinite(norm)) {
      // Skip the update so the weights (and the next checkpoint) stay clean; give up if it keeps happening.
      log::warn("sft step ", step, ": non-finite loss or gradient norm; update skipped");
      if (++nonfinite_streak >= 3)
        throw Error("training diverged: 3 steps in a row with non-finite losses (the last checkpoint is intact)");
    } else {
      nonfinite_streak = 0;
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::map<std::string, double> m = {{"train/loss", loss},
                                       {"train/grad_norm", norm},
                                       {"train/lr", lr},
                                       {"train/epoch", double(epoch_)},
                                       {"train/sequences", g[2]},
                                       {"train/target_tokens", g[1]},
                                       {"perf/tokens_per_s", g[3] / std::max(secs, 1e-9)}};
    m.merge(optimizer_->memory_metrics());
    if (step % eval_every == 0 || step == total_steps_) m["eval/loss"] = last_eval = eval_loss();
    if (metrics) metrics->log(step, m);
    if (std::isnan(summary.first_loss)) summary.first_loss = loss;
    summary.final_loss = loss;
    if (step % ckpt_every == 0 || step == total_steps_) save_checkpoint(step, dir, base_eval);
    if (bar) bar->update(step, {{"loss", fmt("%.3f", loss)}, {"eval", fmt("%.3f", last_eval)}, {"epoch", std::to_string(epoch_)}});
  }
  if (bar) bar->finish();
  // Resumed after the last step (nothing left to do): the final held-out loss is still reported.
  if (std::isnan(last_eval) && start == total_steps_) last_eval = eval_loss();
  summary.steps = step - 1;
  summary.final_eval_loss = last_eval;
  if (dir)
    if (const auto latest = dir->latest_complete_checkpoint()) summary.model_dir = (latest->dir / "model").string();
  summary.model_dir = comm_->host_broadcast(summary.model_dir, 0);  // a pipeline's next stage runs on every rank
  if (!root) return summary;

  const nlohmann::json sj = {{"held-out loss (base)", fmt("%.4f", base_eval)},
                             {"held-out loss (after SFT)", fmt("%.4f", last_eval)},
                             {"training conversations", summary.train_examples},
                             {"held-out conversations", summary.eval_examples},
                             {"dropped (too long)", summary.dropped_examples},
                             {"steps", summary.steps}};
  dir->write_file("summary.json", sj.dump(2) + "\n");
  ReportOptions ro;
  ro.title = "r1 sft " + fs::path(options_.run_dir).filename().string();
  ro.metrics = {"train/loss", "eval/loss", "train/grad_norm", "train/lr", "train/target_tokens", "perf/tokens_per_s"};
  write_report(options_.run_dir, ro);
  return summary;
}

}  // namespace

SftSummary run_sft(const Config& config, const SftRunOptions& options) {
  SftRun run(config, options);
  return run.run();
}

}  // namespace r1
