// `r1 sample`: generate completions with the rollout engine.
//   r1 sample --model DIR --prompt "..." [-n 8] [--temperature 0.6 --top-p 0.95] [--template r1-zero]
//     streams the tokens to the terminal when n = 1, prints every completion otherwise;
//   r1 sample --model DIR --input prompts.jsonl --output completions.jsonl [-n 8]
//     one JSON object per line in ({"prompt": "...", optional "id", optional "n"}), one per completion out
//     (prompt index, sample index, text, tokens, policy log-probs, finish reason), with a progress bar.
// The command only parses arguments, loads the model and tokenizer, and calls r1::gen::Engine.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "core/progress.h"
#include "generate/engine.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/transformer.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace r1::cli {

namespace {

struct SampleArgs {
  std::string model, tokenizer, prompt, input, output, template_name = "none", device = "cpu";
  int n = 1, max_new_tokens = 1024, top_k = 0, max_slots = 64, max_total_tokens = 0;
  float temperature = 0.6f, top_p = 0.95f;
  uint64_t seed = 0;
  std::vector<std::string> stop;
  bool no_stream = false;
};

// A model directory (config.json + safetensors) or a built-in config name with random weights, on `device`.
std::unique_ptr<TrainableModel> load_sample_model(const std::string& spec, uint64_t seed, Device device) {
  if (is_model_dir(spec)) return load_model(spec, device);
  auto m = make_model(builtin_model_config(spec), device);
  init_params(m->config(), m->layout(), m->host_params(), seed);
  m->push_params();
  std::fprintf(stderr, "r1 sample: built-in config '%s' with random weights\n", spec.c_str());
  return m;
}

std::vector<std::string> read_prompts(const std::string& path, std::vector<nlohmann::json>& ids, std::vector<int>& ns) {
  std::ifstream in(path);
  if (!in) fail_in_file(path, "cannot open");
  std::vector<std::string> prompts;
  std::string line;
  for (long no = 1; std::getline(in, line); no++) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      fail_at_line(path, no, std::string("invalid JSON: ") + e.what());
    }
    if (!j.is_object() || !j.contains("prompt") || !j["prompt"].is_string())
      fail_at_line(path, no, "expected an object with a string field 'prompt'");
    prompts.push_back(j["prompt"].get<std::string>());
    ids.push_back(j.contains("id") ? j["id"] : nlohmann::json(prompts.size() - 1));
    ns.push_back(j.contains("n") && j["n"].is_number_integer() ? j["n"].get<int>() : -1);
  }
  return prompts;
}

void run(const SampleArgs& a) {
  if (a.prompt.empty() == a.input.empty()) throw Error("sample: give exactly one of --prompt and --input");
  if (!a.input.empty() && a.output.empty()) throw Error("sample: --input needs --output");
  if (!is_model_dir(a.model)) {
    if (std::filesystem::exists(a.model) || a.model.find('/') != std::string::npos)
      fail_in_file((std::filesystem::path(a.model) / "config.json").string(), "missing: not a model directory");
    if (a.tokenizer.empty())
      throw Error("sample: built-in model '" + a.model + "' has no tokenizer: give --tokenizer DIR");
  }
  auto model = load_sample_model(a.model, a.seed, parse_device(a.device, "--device"));
  const std::string tok_dir = a.tokenizer.empty() ? a.model : a.tokenizer;
  const Tokenizer tok = Tokenizer::from_dir(tok_dir);

  std::vector<nlohmann::json> ids;
  std::vector<int> ns;
  std::vector<std::string> prompts =
      a.input.empty() ? std::vector<std::string>{a.prompt} : read_prompts(a.input, ids, ns);

  // "none": the prompt text as is (plus the tokenizer's BOS where it adds one); otherwise a chat template, which
  // writes any BOS itself.
  const bool raw = a.template_name == "none";
  const ChatTemplate tmpl = raw ? ChatTemplate{} : ChatTemplate::resolve(a.template_name, tok);
  std::vector<gen::GenerationRequest> reqs;
  for (size_t i = 0; i < prompts.size(); i++) {
    gen::GenerationRequest r;
    r.prompt = raw ? tok.encode(prompts[i], /*add_special_tokens=*/true)
                   : tok.encode(apply_chat_template(tmpl, {{"user", prompts[i]}}, /*add_generation_prompt=*/true));
    r.n = i < ns.size() && ns[i] > 0 ? ns[i] : a.n;
    r.seed = a.seed;
    r.params.temperature = a.temperature;
    r.params.top_p = a.top_p;
    r.params.top_k = a.top_k;
    r.params.max_new_tokens = a.max_new_tokens;
    r.params.stop = a.stop;
    reqs.push_back(std::move(r));
  }
  gen::EngineOptions opt;
  opt.max_slots = a.max_slots;
  opt.max_total_tokens = a.max_total_tokens;
  if (opt.eos_token_ids.empty()) opt.eos_token_ids = tok.eos_ids();

  gen::EngineCallbacks cb;
  cb.detokenize = [&tok](const std::vector<int32_t>& ids) { return tok.decode(ids, /*skip_special_tokens=*/true); };
  const bool stream = a.input.empty() && reqs[0].n == 1 && !a.no_stream;
  std::string shown;  // streaming: the text already printed
  if (stream) {
    cb.on_token = [&](const gen::Completion& c, int32_t) {
      // Decode the whole completion and print what is new; hold back a trailing partial UTF-8 character,
      // which decodes to U+FFFD until its remaining bytes arrive.
      std::string text = tok.decode(c.tokens, true);
      while (text.size() >= 3 && text.compare(text.size() - 3, 3, "\xEF\xBF\xBD") == 0) text.resize(text.size() - 3);
      if (text.size() > shown.size() && text.compare(0, shown.size(), shown) == 0) {
        std::fwrite(text.data() + shown.size(), 1, text.size() - shown.size(), stdout);
        std::fflush(stdout);
        shown = text;
      }
    };
  }
  std::unique_ptr<ProgressBar> bar;
  int64_t total = 0, done = 0;
  for (const auto& r : reqs) total += r.n;
  if (!a.input.empty()) {
    ProgressOptions po;
    po.unit = "seq";
    bar = std::make_unique<ProgressBar>("sample", total, stderr, po);
    cb.on_step = [&](const gen::EngineStats& s) {
      const double t = bar->elapsed_seconds();
      bar->update(done, {{"tokens", std::to_string(s.generated_tokens)},
                         {"gen", format_rate(t > 0 ? double(s.generated_tokens) / t : 0.0, "tok")}});
    };
    cb.on_complete = [&](const gen::Completion&) { done++; };
  }

  const auto engine = gen::make_engine(*model, opt);
  const auto out = engine->generate(reqs, cb);
  if (bar) bar->finish();

  if (a.input.empty()) {
    if (stream) {
      std::printf("%s\n", out[0].text.substr(std::min(shown.size(), out[0].text.size())).c_str());
    } else {
      for (const auto& c : out)
        std::printf("=== sample %d (%zu tokens, %s) ===\n%s\n", c.sample_index, c.tokens.size(),
                    c.finish_reason.c_str(), c.text.c_str());
    }
  } else {
    const std::string tmp = a.output + ".tmp";
    {
      std::ofstream f(tmp);
      if (!f) fail_in_file(a.output, "cannot write");
      for (const auto& c : out) {
        nlohmann::json j = {{"id", ids[size_t(c.request_index)]},
                            {"prompt_index", c.request_index},
                            {"sample", c.sample_index},
                            {"completion", c.text},
                            {"finish_reason", c.finish_reason},
                            {"prompt_tokens", c.prompt_tokens},
                            {"tokens", c.tokens},
                            {"logprobs", c.logprobs}};
        f << j.dump() << '\n';
      }
      if (!f.flush()) fail_in_file(a.output, "write failed");
    }
    std::filesystem::rename(tmp, a.output);
  }
  std::fprintf(stderr, "r1 sample: %s\n", gen::describe(engine->stats()).c_str());
}

}  // namespace

void register_sample(CLI::App& app) {
  auto a = std::make_shared<SampleArgs>();
  auto* cmd = app.add_subcommand("sample", "Generate completions with the rollout engine (paged KV cache)");
  cmd->add_option("--model", a->model, "Model directory (HF config.json + safetensors) or built-in name")->required();
  cmd->add_option("--tokenizer", a->tokenizer, "Tokenizer directory (default: the model directory)");
  cmd->add_option("--prompt", a->prompt, "One prompt (streamed to the terminal when n = 1)");
  cmd->add_option("--input", a->input, "JSONL of prompts: {\"prompt\": ..., optional \"id\", \"n\"}");
  cmd->add_option("--output", a->output, "JSONL of completions (with --input)");
  cmd->add_option("--template", a->template_name,
                  "Prompt template: none (raw text), auto (the tokenizer's), r1-zero, r1-zero-think, chatml, "
                  "qwen2.5-math, qwen3, deepseek-r1, llama3, or a pattern with {prompt} and {response}")
      ->capture_default_str();
  cmd->add_option("-n", a->n, "Samples per prompt")->capture_default_str();
  cmd->add_option("--temperature", a->temperature, "Sampling temperature (0: greedy)")->capture_default_str();
  cmd->add_option("--top-p", a->top_p, "Nucleus sampling mass (1: off)")->capture_default_str();
  cmd->add_option("--top-k", a->top_k, "Keep the k most likely tokens (0: off)")->capture_default_str();
  cmd->add_option("--max-new-tokens", a->max_new_tokens, "Tokens per completion at most")->capture_default_str();
  cmd->add_option("--max-total-tokens", a->max_total_tokens, "Prompt + completion at most (0: model limit)");
  cmd->add_option("--max-slots", a->max_slots, "Sequences decoded together")->capture_default_str();
  cmd->add_option("--seed", a->seed, "Sampling seed")->capture_default_str();
  cmd->add_option("--device", a->device, "Where the model runs: cpu or cuda")->capture_default_str();
  cmd->add_option("--stop", a->stop, "Stop string (repeatable), e.g. --stop '</answer>'");
  cmd->add_flag("--no-stream", a->no_stream, "Print the completion at the end instead of streaming it");
  cmd->callback([a] { run(*a); });
}

}  // namespace r1::cli
