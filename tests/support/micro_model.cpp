#include "support/micro_model.h"

#include <unistd.h>

#include <vector>

#include "core/config.h"
#include "data/reasoning_corpus.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/tokenizer.h"
#include "train/metrics.h"
#include "train/sft.h"

namespace fs = std::filesystem;

namespace r1::test {

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("r1_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string make_micro_model(const fs::path& dir, uint64_t seed, int documents, int vocab_size) {
  data::CorpusOptions co;
  co.documents = documents;
  const auto docs = data::pretraining_corpus(co, "User: ", "Assistant:");
  BpeTrainerOptions to;
  to.vocab_size = vocab_size;
  to.special_tokens = {"<|endoftext|>"};
  write_trained_tokenizer(train_bpe(docs, to), to, dir.string());
  const Tokenizer tok = Tokenizer::from_dir(dir.string());
  ModelConfig c = builtin_model_config("tiny");
  c.vocab_size = tok.vocab_size();
  c.hidden_size = 32, c.intermediate_size = 64, c.num_attention_heads = 2, c.num_key_value_heads = 1, c.head_dim = 16;
  c.num_hidden_layers = 1;
  c.eos_token_ids = {tok.token_to_id("<|endoftext|>")};
  ParamLayout layout(c);
  std::vector<float> p(size_t(layout.total()));
  init_params(c, layout, p.data(), seed);
  save_hf_checkpoint(dir.string(), c, layout, p.data());
  return dir.string();
}

std::string make_sft_trained_model(const fs::path& dir, int steps) {
  const std::string base = make_micro_model(dir / "base");
  const std::string yaml = "model: {path: " + base +
                           "}\n"
                           "data: {source: addition, count: 2000, eval_count: 16, min_digits: 1, max_digits: 1}\n"
                           "train: {max_steps: " +
                           std::to_string(steps) +
                           ", batch_tokens: 1024}\n"
                           "optim: {lr: 0.01, warmup_steps: 5}\n"
                           "eval: {every: 1000}\n"
                           "checkpoint: {every: 1000}\n";
  SftRunOptions o;
  o.run_dir = (dir / "sft").string();
  return run_sft(parse_config(yaml, "fixture.yaml", sft_config_schema()), o).model_dir;
}

std::map<int64_t, std::map<std::string, double>> deterministic_metrics(const fs::path& run) {
  std::map<int64_t, std::map<std::string, double>> out;
  for (const auto& r : read_metrics(run / "metrics.jsonl"))
    for (const auto& [k, v] : r.values)
      if (k.rfind("time/", 0) != 0 && k.rfind("perf/", 0) != 0 && k.rfind("memory/", 0) != 0) out[r.step][k] = v;
  return out;
}

}  // namespace r1::test
