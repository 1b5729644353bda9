// `r1 debug-forward`: runs token sequences through the float32 CPU engine as ONE packed batch and prints (and
// optionally writes as JSON) what a parity check needs: per-token log p(next token), entropy, the greedy next
// token, the first logits of each position, and the mean next-token cross-entropy. Compare its JSON with
// transformers' numbers on the same directory (bench/hf_compat/check_roundtrip.py does).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "backend/cpu/ops.h"
#include "backend/cpu/threads.h"
#include "cli/commands.h"
#include "core/error.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/safetensors.h"
#include "model/transformer.h"

namespace r1::cli {

namespace {

struct DebugForwardArgs {
  std::string model, tokens, output;
  uint64_t seed = 1234;
  float temperature = 1.0f;
  int logits = 8;
  bool quiet = false;
};

// "1 2 3; 4,5" -> {{1,2,3},{4,5}}: sequences separated by ';', ids by spaces or commas. Errors name the
// --tokens field, the sequence and the token.
std::vector<std::vector<int32_t>> parse_token_lists(const std::string& text, int vocab) {
  std::vector<std::vector<int32_t>> seqs;
  std::stringstream all(text);
  std::string part;
  while (std::getline(all, part, ';')) {
    std::replace(part.begin(), part.end(), ',', ' ');
    std::stringstream ss(part);
    std::vector<int32_t> seq;
    std::string word;
    while (ss >> word) {
      const std::string where = "sequence " + std::to_string(seqs.size()) + ", token " + std::to_string(seq.size());
      size_t used = 0;
      long long id = -1;
      try {
        id = std::stoll(word, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != word.size()) fail_in_field("--tokens", where, "'" + word + "' is not a token id");
      if (id < 0 || id >= vocab)
        fail_in_field("--tokens", where,
                      "id " + word + " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
      seq.push_back(int32_t(id));
    }
    if (seq.empty()) fail_in_field("--tokens", "sequence " + std::to_string(seqs.size()), "is empty");
    seqs.push_back(std::move(seq));
  }
  if (seqs.empty()) fail_in_field("--tokens", "tokens", "no sequences given");
  return seqs;
}

void run_debug_forward(const DebugForwardArgs& a) {
  if (!(a.temperature > 0)) throw Error("--temperature must be positive");
  const bool from_dir = is_model_dir(a.model);
  const ModelConfig config = from_dir ? load_model_config(a.model + "/config.json") : builtin_model_config(a.model);
  cpu::set_num_threads(cpu::auto_threads(config.hidden_size));
  Transformer model(config);
  if (from_dir)
    load_hf_weights(a.model, model.layout(), model.params());
  else
    init_params(config, model.layout(), model.params(), a.seed);

  const auto seqs = parse_token_lists(a.tokens, config.vocab_size);
  PackedBatch batch;
  for (const auto& s : seqs) {
    if (int(s.size()) > config.max_position_embeddings)
      fail_in_field("--tokens", "sequence " + std::to_string(batch.num_sequences()),
                    std::to_string(s.size()) + " tokens exceed max_position_embeddings " +
                        std::to_string(config.max_position_embeddings));
    batch.add_sequence(s);
  }
  const int T = batch.num_tokens(), H = config.hidden_size, V = config.vocab_size;
  model.reserve(T);
  model.forward(batch);
  std::vector<float> lp1(static_cast<size_t>(T)), lp(static_cast<size_t>(T)), ent(static_cast<size_t>(T));
  model.head_forward(batch, lp1.data(), nullptr, 1.0f);  // the loss is always at temperature 1
  model.head_forward(batch, lp.data(), ent.data(), 1.0f / a.temperature);
  double loss = 0;
  int n_targets = 0;
  for (int t = 0; t < T; t++)
    if (batch.targets[t] >= 0) loss -= lp1[t], n_targets++;
  loss = n_targets ? loss / n_targets : 0.0;

  // Logits one position at a time: never a [T x vocab] buffer, whatever the model.
  const int keep = std::clamp(a.logits, 0, V);
  std::vector<float> row(static_cast<size_t>(V));
  nlohmann::json jseqs = nlohmann::json::array();
  if (!a.quiet)
    std::printf("%4s %4s %8s %8s %12s %10s %8s\n", "seq", "pos", "token", "target", "logprob", "entropy", "greedy");
  for (int s = 0; s < batch.num_sequences(); s++) {
    nlohmann::json js = {{"tokens", seqs[size_t(s)]}};
    nlohmann::json jlp = nlohmann::json::array(), jent = nlohmann::json::array(), jgreedy = nlohmann::json::array(),
                   jlogits = nlohmann::json::array();
    for (int t = batch.cu_seqlens[s]; t < batch.cu_seqlens[s + 1]; t++) {
      cpu::lm_head_logits(row.data(), model.hidden() + size_t(t) * H, model.params() + model.layout().lm_head, 1, H, V);
      const int greedy = int(std::max_element(row.begin(), row.end()) - row.begin());
      const bool has = batch.targets[t] >= 0;
      jlp.push_back(has ? nlohmann::json(lp[t]) : nlohmann::json(nullptr));
      jent.push_back(has ? nlohmann::json(ent[t]) : nlohmann::json(nullptr));
      jgreedy.push_back(greedy);
      jlogits.push_back(std::vector<float>(row.begin(), row.begin() + keep));
      if (!a.quiet)
        std::printf("%4d %4d %8d %8s %12s %10s %8d\n", s, t - batch.cu_seqlens[s], batch.tokens[t],
                    has ? std::to_string(batch.targets[t]).c_str() : "-", has ? std::to_string(lp[t]).c_str() : "-",
                    has ? std::to_string(ent[t]).c_str() : "-", greedy);
    }
    js["logprobs"] = jlp;
    js["entropy"] = jent;
    js["greedy"] = jgreedy;
    js["logits"] = jlogits;
    jseqs.push_back(js);
  }
  std::printf("loss %.7f (mean next-token cross-entropy over %d targets, temperature 1)\n", loss, n_targets);

  if (!a.output.empty()) {
    const nlohmann::json j = {{"model", a.model},  {"model_type", config.model_type}, {"temperature", a.temperature},
                              {"loss", loss},      {"num_targets", n_targets},        {"logits_kept", keep},
                              {"sequences", jseqs}};
    write_file_atomic(a.output, j.dump(1) + "\n");
    std::printf("wrote %s\n", a.output.c_str());
  }
}

}  // namespace

void register_debug_forward(CLI::App& app) {
  auto a = std::make_shared<DebugForwardArgs>();
  auto* cmd = app.add_subcommand("debug-forward",
                                 "Per-token log-probs, entropies, greedy tokens, logits and loss of token sequences");
  cmd->add_option("--model", a->model, "Model directory, or a built-in shape with fresh weights (see --seed)")
      ->required();
  cmd->add_option("--tokens", a->tokens, "Token ids: sequences separated by ';', ids by spaces or commas")->required();
  cmd->add_option("--output,-o", a->output, "Write the results as JSON here");
  cmd->add_option("--temperature", a->temperature, "Temperature of the reported log-probs and entropies")
      ->capture_default_str();
  cmd->add_option("--logits", a->logits, "How many leading vocabulary logits of each position go into the JSON")
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "Initialisation seed for a built-in shape")->capture_default_str();
  cmd->add_flag("--quiet,-q", a->quiet, "Print only the loss");
  cmd->callback([a] { run_debug_forward(*a); });
}

}  // namespace r1::cli
