// `r1 pretrain`: make a base model. With the built-in corpus it trains a byte-level BPE tokenizer and the tiny
// model on mixed-format, partly wrong addition solutions — the imperfect base that R1-Zero RL starts from.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "backend/cpu/threads.h"
#include "core/error.h"
#include "core/progress.h"
#include "data/reasoning_corpus.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/hf_export.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/tokenizer.h"
#include "train/distributed/world.h"
#include "train/metrics.h"
#include "train/pretrain.h"
#include "train/run_dir.h"

namespace fs = std::filesystem;

namespace r1::cli {

namespace {

struct PretrainArgs {
  std::string model = "tiny", corpus = "builtin", output = "runs/base-tiny", device = "cpu";
  int steps = 800, batch_tokens = 2048, vocab_size = 512, documents = 20000, warmup = 40, min_digits = 1,
      max_digits = 2;
  // Overrides of the built-in shape (0: the shape's own), e.g. a smaller student for distillation experiments.
  int hidden_size = 0, intermediate_size = 0, layers = 0, heads = 0, kv_heads = 0;
  float lr = 3e-3f, weight_decay = 0.01f;
  uint64_t seed = 0;
  bool overwrite = false;
};

std::vector<std::string> read_text_documents(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail_in_file(path, "cannot open the corpus");
  // Documents are separated by blank lines.
  std::vector<std::string> docs;
  std::string line, cur;
  while (std::getline(f, line)) {
    if (line.empty()) {
      if (!cur.empty()) docs.push_back(cur), cur.clear();
      continue;
    }
    cur += (cur.empty() ? "" : "\n") + line;
  }
  if (!cur.empty()) docs.push_back(cur);
  if (docs.empty()) fail_in_file(path, "the corpus has no text");
  return docs;
}

void run_pretrain(const PretrainArgs& a) {
  const Device device = parse_device(a.device, "pretrain --device");  // before any work: a typo fails at once
  // Under torchrun / mpirun / r1 launch every rank runs this command: each trains on its share of every batch
  // (ZeRO-1), rank 0 alone writes the output directory and reports.
  dist::Communicator& comm = dist::world(device);
  const bool root = comm.is_root();
  const fs::path out(a.output);
  if (root) {
    if (fs::exists(out) && !fs::is_empty(out)) {
      if (!a.overwrite) fail_in_file(a.output, "exists and is not empty (use --overwrite to replace it)");
      fs::remove_all(out);
    }
    fs::create_directories(out);
  }
  const std::string eos = "<|endoftext|>";
  // 1. Corpus.
  std::vector<std::string> docs;
  if (a.corpus == "builtin") {
    data::CorpusOptions co;
    co.task.min_digits = a.min_digits;
    co.task.max_digits = a.max_digits;
    co.task.seed = a.seed;
    co.documents = a.documents;
    docs = data::pretraining_corpus(co, "User: ", "Assistant:");
  } else {
    docs = read_text_documents(a.corpus);
  }
  if (root) std::fprintf(stderr, "corpus: %zu documents\n", docs.size());
  // 2. Tokenizer, trained on the corpus.
  BpeTrainerOptions to;
  to.vocab_size = a.vocab_size;
  to.special_tokens = {eos};
  const auto trained = train_bpe(docs, to);
  const fs::path model_dir = out / "model";
  // Every rank trains the same (deterministic) tokenizer; rank 0 writes it and the others read it back after it.
  if (root) write_trained_tokenizer(trained, to, model_dir.string());
  comm.barrier();
  const Tokenizer tok = Tokenizer::from_dir(model_dir.string());
  if (root) std::fprintf(stderr, "tokenizer: %d tokens (%d merges)\n", trained.vocab_size, trained.merges);
  // 3. Tokenize; hold out 2% of documents for an evaluation loss.
  std::vector<std::vector<int32_t>> train_docs, eval_docs;
  const int32_t eos_id = tok.token_to_id(eos);
  int64_t total_tokens = 0;
  for (size_t i = 0; i < docs.size(); i++) {
    auto ids = tok.encode(docs[i]);
    ids.push_back(eos_id);
    total_tokens += int64_t(ids.size());
    (i % 50 == 49 ? eval_docs : train_docs).push_back(std::move(ids));
  }
  if (root)
    std::fprintf(stderr, "tokens: %lld (%.1f per document)\n", (long long)total_tokens, double(total_tokens) / docs.size());
  // 4. Model.
  ModelConfig cfg = builtin_model_config(a.model);
  cfg.vocab_size = tok.vocab_size();
  cfg.eos_token_ids = {eos_id};
  if (a.hidden_size > 0) cfg.hidden_size = a.hidden_size;
  if (a.intermediate_size > 0) cfg.intermediate_size = a.intermediate_size;
  if (a.layers > 0) cfg.num_hidden_layers = a.layers;
  if (a.heads > 0) cfg.num_attention_heads = a.heads;
  if (a.kv_heads > 0) cfg.num_key_value_heads = a.kv_heads;
  if (cfg.hidden_size % cfg.num_attention_heads != 0)
    throw Error("pretrain: --hidden-size " + std::to_string(cfg.hidden_size) + " is not a multiple of the " +
                std::to_string(cfg.num_attention_heads) + " attention heads (--heads)");
  cfg.head_dim = cfg.hidden_size / cfg.num_attention_heads;
  validate_model_config(cfg, "pretrain --model " + a.model + " with the size options");
  cpu::set_num_threads(cpu::auto_threads(cfg.hidden_size));
  const std::unique_ptr<TrainableModel> model_ptr = make_model(cfg, device);
  TrainableModel& model = *model_ptr;
  // Initialised on the host, then uploaded (a no-op on the CPU, whose host buffer is the live one).
  init_params(cfg, model.layout(), model.host_params(), a.seed);
  model.push_params();
  if (root)
    std::fprintf(stderr, "model: %s-shaped, %lld parameters, on %s, %d CPU threads, %d rank(s)\n", a.model.c_str(),
                 (long long)model.num_params(), a.device.c_str(), cpu::num_threads(), comm.world_size());
  // 5. Train.
  PretrainOptions po;
  po.steps = a.steps;
  po.batch_tokens = a.batch_tokens;
  po.adamw.weight_decay = a.weight_decay;
  po.schedule = {LrSchedule::Kind::Cosine, a.lr, a.warmup, a.steps, 0.1f};
  po.seed = a.seed;
  po.eval_every = std::max(1, a.steps / 8);
  po.comm = &comm;
  std::optional<MetricsWriter> metrics;
  std::optional<ProgressBar> bar;
  ProgressOptions popts;
  popts.unit = "step";
  if (root) metrics.emplace(out), bar.emplace("pretrain", a.steps, stderr, popts);
  double first_loss = NAN, last_loss = NAN, last_eval = NAN;
  pretrain(model, train_docs, eval_docs, po, [&](const PretrainStep& s) {
    if (std::isnan(first_loss)) first_loss = s.loss;
    last_loss = s.loss;
    std::map<std::string, double> m = {{"train/loss", s.loss}, {"train/grad_norm", s.grad_norm}, {"train/lr", s.lr},
                                       {"perf/tokens_per_s", s.tokens_per_second}};
    if (!std::isnan(s.eval_loss)) m["eval/loss"] = last_eval = s.eval_loss;
    if (!root) return;
    metrics->log(s.step, m);
    char l[32], e[32];
    std::snprintf(l, sizeof l, "%.3f", s.loss);
    std::snprintf(e, sizeof e, "%.3f", last_eval);
    bar->update(s.step, {{"loss", l}, {"eval", e}, {"tok/s", std::to_string(int(s.tokens_per_second))}});
  });
  if (!root) return;
  bar->finish();
  // 6. Save a complete HF model directory.
  HfExportOptions hf;
  hf.source_dir = model_dir.string();  // the tokenizer trained above; eos comes from cfg
  hf.generation_overrides = {{"do_sample", true}, {"temperature", 1.0}};
  model.pull_params();  // the trained weights back on the host (a no-op on the CPU)
  save_hf_model_dir(model_dir.string(), cfg, model.layout(), model.host_params(), hf);
  std::printf("pretrain: loss %.3f -> %.3f (held-out %.3f); model written to %s\n", first_loss, last_loss, last_eval,
              model_dir.c_str());
}

}  // namespace

void register_pretrain(CLI::App& app) {
  auto a = std::make_shared<PretrainArgs>();
  auto* cmd = app.add_subcommand("pretrain", "Train a base model (and its tokenizer) on a corpus");
  cmd->add_option("--model", a->model, "Built-in model shape: tiny, small")->capture_default_str();
  cmd->add_option("--hidden-size", a->hidden_size, "Override the shape's hidden size (0: keep)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--intermediate-size", a->intermediate_size, "Override the shape's MLP size (0: keep)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--layers", a->layers, "Override the shape's layer count (0: keep)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--heads", a->heads, "Override the shape's attention heads (0: keep)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--kv-heads", a->kv_heads, "Override the shape's key/value heads (0: keep)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--corpus", a->corpus, "'builtin' (synthetic reasoning corpus) or a text file (blank-line separated)")
      ->capture_default_str();
  cmd->add_option("--output", a->output, "Run directory (model/ inside is a Hugging Face model)")->capture_default_str();
  cmd->add_option("--steps", a->steps, "Optimizer steps")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--batch-tokens", a->batch_tokens, "Tokens per step")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--vocab-size", a->vocab_size, "Tokenizer vocabulary size")->capture_default_str();
  cmd->add_option("--documents", a->documents, "Built-in corpus size")->capture_default_str();
  cmd->add_option("--min-digits", a->min_digits, "Built-in task: smallest operand size")->capture_default_str();
  cmd->add_option("--max-digits", a->max_digits, "Built-in task: largest operand size")->capture_default_str();
  cmd->add_option("--lr", a->lr, "Peak learning rate (cosine schedule)")->capture_default_str();
  cmd->add_option("--warmup", a->warmup, "Warm-up steps")->capture_default_str();
  cmd->add_option("--weight-decay", a->weight_decay, "AdamW weight decay")->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed")->capture_default_str();
  cmd->add_option("--device", a->device, "Where the model trains: cpu or cuda (a CUDA build)")->capture_default_str();
  cmd->add_flag("--overwrite", a->overwrite, "Replace an existing output directory");
  cmd->callback([a] { run_pretrain(*a); });
}

}  // namespace r1::cli
