// Issue 9, bf16 half: the CUDA model and GPU rollout engine against transformers running in bfloat16 on the same
// checkpoints. Standalone (needs a GPU): bench/hf_compat/run_bf16.sh makes the references with bf16_check.py on the
// GPU machine and runs this program on them.
//
//   hf_bf16_check <reference dir>     (holds manifest_bf16.json and one <model>/ directory per model)
//
// Per model (a bf16 Hugging Face directory written by transformers' save_pretrained, plus reference_bf16.safetensors):
//   1. load_model(dir, CUDA), forward + head_forward over the manifest's sequences packed into one batch; per-token
//      log p(next) and entropy against transformers bf16 and transformers float32 on the same bf16 weights;
//   2. the rollout engine (temperature 0, ignore_eos, 32 new tokens) from the manifest's prompt, against
//      transformers' 32 greedy tokens (bf16), and the engine's per-token log-probs against transformers' log-probs
//      of the same tokens (prefill + paged decode: this is what catches a weight the decode path leaves out).
//
// Tolerances come from the reference itself. d_hf = max |transformers bf16 - transformers f32| is how far bf16
// arithmetic alone moves a quantity on these weights. r1 rounds no more often than transformers does (bf16
// weights and activations, float32 accumulation, norms, softmax and the LM head's log-sum-exp in float32), so
// |r1 - f32| is of the order of d_hf and, by the triangle inequality, |r1 - hf bf16| <= 2 d_hf; a floor of 2^-6
// (two bf16 ulps of a quantity of magnitude 1..2) covers models where d_hf happens to be tiny. Both
// |r1 - hf bf16| and |r1 - hf f32| must be within tol = 2 d_hf + 2^-6.
// Greedy tokens: our logits are within e = 2 d_logits + 2^-6 of transformers' bf16 logits, so the top-2 order can
// only flip where transformers' recorded top1 - top2 margin is below 2 e. Tokens must match up to the first
// divergence; a divergence is accepted only where that margin is below 2 e (after it the contexts differ and
// nothing further is comparable). The engine's log-probs over the matching steps must be within the log-prob
// tolerance of transformers bf16. Prints a table; exit status 1 when any check fails, 2 on bad input.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "generate/cuda/cuda_backend.h"
#include "generate/rollout_engine.h"
#include "model/packed_batch.h"
#include "model/safetensors.h"
#include "model/trainable_model.h"

namespace {

constexpr double kFloor = 1.0 / 64.0;  // two bf16 ulps at magnitude 1..2
constexpr int kGreedySteps = 32;

struct ModelResult {
  std::string name;
  double lp_vs_bf16 = 0, lp_vs_f32 = 0, lp_hf = 0, lp_tol = 0;
  double ent_vs_bf16 = 0, ent_vs_f32 = 0, ent_hf = 0, ent_tol = 0;
  int greedy_match = 0;      // leading tokens equal to transformers bf16
  int first_divergence = -1;  // -1: all equal
  double margin_at_divergence = 0, margin_tol = 0;
  int greedy_match_f32 = 0;  // leading tokens equal to transformers float32 (information)
  double engine_lp = 0;          // engine log-probs vs transformers bf16 over the matching steps (-1: not recorded)
  double engine_vs_forward = 0;  // engine log-probs vs our own training forward (information)
  bool ok = true;
  std::vector<std::string> notes;
};

std::vector<float> read_tensor(const r1::SafetensorsFile& f, const std::string& name, const r1::Shape& shape) {
  std::vector<float> v(size_t(shape.numel()));
  f.read_f32(name, shape, v.data());
  return v;
}

// max |a[i] - b[i]| over the indices where mask[i] is set.
double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b, const std::vector<bool>& mask) {
  double m = 0;
  for (size_t i = 0; i < a.size(); i++)
    if (mask[i]) m = std::max(m, std::isfinite(a[i]) ? std::fabs(double(a[i]) - b[i]) : INFINITY);
  return m;
}

std::vector<int32_t> ints(const nlohmann::json& j, const std::string& where) {
  if (!j.is_array()) throw r1::Error(where + ": expected an array of token ids");
  std::vector<int32_t> v;
  for (const auto& x : j) v.push_back(x.get<int32_t>());
  return v;
}

void fail(ModelResult& r, const std::string& why) {
  r.ok = false;
  r.notes.push_back("FAIL: " + why);
}

int leading_equal(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  int n = 0;
  while (n < int(a.size()) && n < int(b.size()) && a[size_t(n)] == b[size_t(n)]) n++;
  return n;
}

ModelResult check_model(const std::string& root, const nlohmann::json& entry) {
  ModelResult r;
  r.name = entry.at("name").get<std::string>();
  const std::string dir = root + "/" + entry.at("dir").get<std::string>();
  auto model = r1::load_model(dir, r1::Device::CUDA);
  const int V = model->config().vocab_size;

  // ---- 1. training forward: per-token log-probs and entropies ----
  r1::PackedBatch batch;
  for (const auto& s : entry.at("sequences")) batch.add_sequence(ints(s, r.name + ": sequences"));
  const int T = batch.num_tokens();
  const auto ref = r1::SafetensorsFile::open(dir + "/reference_bf16.safetensors");
  const auto lp16 = read_tensor(ref, "logprobs_bf16", {T}), lp32 = read_tensor(ref, "logprobs_f32", {T});
  const auto ent16 = read_tensor(ref, "entropy_bf16", {T}), ent32 = read_tensor(ref, "entropy_f32", {T});
  const auto logits16 = read_tensor(ref, "logits_bf16", {T, V}), logits32 = read_tensor(ref, "logits_f32", {T, V});
  model->reserve(T);
  model->forward(batch);
  std::vector<float> lp(static_cast<size_t>(T)), ent(static_cast<size_t>(T));
  model->head_forward(batch, lp.data(), ent.data());
  // Only tokens with a target: the last token of each sequence has neither a log-prob nor (in r1) an entropy.
  std::vector<bool> has_target(static_cast<size_t>(T));
  for (int t = 0; t < T; t++) has_target[size_t(t)] = batch.targets[size_t(t)] >= 0;
  const std::vector<bool> all(logits16.size(), true);

  r.lp_hf = max_abs_diff(lp16, lp32, has_target);
  r.ent_hf = max_abs_diff(ent16, ent32, has_target);
  r.lp_tol = 2 * r.lp_hf + kFloor;
  r.ent_tol = 2 * r.ent_hf + kFloor;
  r.lp_vs_bf16 = max_abs_diff(lp, lp16, has_target);
  r.lp_vs_f32 = max_abs_diff(lp, lp32, has_target);
  r.ent_vs_bf16 = max_abs_diff(ent, ent16, has_target);
  r.ent_vs_f32 = max_abs_diff(ent, ent32, has_target);
  // Written so that NaN fails.
  if (!(r.lp_vs_bf16 <= r.lp_tol && r.lp_vs_f32 <= r.lp_tol)) fail(r, "log-probs out of tolerance");
  if (!(r.ent_vs_bf16 <= r.ent_tol && r.ent_vs_f32 <= r.ent_tol)) fail(r, "entropies out of tolerance");

  // ---- 2. rollout engine: 32 greedy tokens ----
  const double logit_err = 2 * max_abs_diff(logits16, logits32, all) + kFloor;
  r.margin_tol = 2 * logit_err;
  const auto prompt = ints(entry.at("prompt"), r.name + ": prompt");
  const auto want = ints(entry.at("greedy_bf16"), r.name + ": greedy_bf16");
  const auto want32 = ints(entry.at("greedy_f32"), r.name + ": greedy_f32");
  const auto margins = read_tensor(ref, "margins_bf16", {int64_t(want.size())});
  r1::gen::EngineOptions options;
  options.max_slots = 4;
  auto engine = r1::gen::make_engine(*model, options);
  r1::gen::GenerationRequest req;
  req.prompt = prompt;
  req.params.temperature = 0.0f;
  req.params.ignore_eos = true;
  req.params.max_new_tokens = kGreedySteps;
  const auto out = engine->generate({req});
  if (out.size() != 1) throw r1::Error(r.name + ": engine returned " + std::to_string(out.size()) + " completions");
  const auto& got = out[0].tokens;
  if (int(got.size()) != kGreedySteps || int(want.size()) != kGreedySteps) {
    fail(r, "engine gave " + std::to_string(got.size()) + " tokens, reference " + std::to_string(want.size()) +
                ", expected " + std::to_string(kGreedySteps));
  }
  r.greedy_match = leading_equal(got, want);
  r.greedy_match_f32 = leading_equal(got, want32);
  if (r.greedy_match < int(std::min(got.size(), want.size()))) {
    const int i = r.greedy_match;
    r.first_divergence = i;
    r.margin_at_divergence = margins[size_t(i)];
    char buf[160];
    std::snprintf(buf, sizeof buf, "step %d: r1 %d, transformers %d (margin %.4f, tolerance %.4f)", i,
                  got[size_t(i)], want[size_t(i)], r.margin_at_divergence, r.margin_tol);
    r.notes.push_back(buf);
    if (!(r.margin_at_divergence < r.margin_tol)) fail(r, "greedy tokens diverge where transformers' margin is clear");
  }
  if (ref.has("greedy_logprobs_bf16")) {  // references made before it was recorded lack it
    const auto want_lp = read_tensor(ref, "greedy_logprobs_bf16", {int64_t(want.size())});
    for (size_t j = 0; j < size_t(r.greedy_match) && j < out[0].logprobs.size(); j++) {
      const double d = std::fabs(double(out[0].logprobs[j]) - want_lp[j]);
      r.engine_lp = std::max(r.engine_lp, std::isfinite(d) ? d : INFINITY);
    }
    if (!(r.engine_lp <= r.lp_tol)) fail(r, "engine log-probs of the greedy tokens out of tolerance");
  } else {
    r.engine_lp = -1;
    r.notes.push_back("reference has no greedy_logprobs_bf16: engine log-probs not compared");
  }

  // Information: the engine's per-token log-probs against the training forward on prompt + completion (the
  // rollout/training consistency GRPO's first ratio depends on).
  std::vector<int32_t> full = prompt;
  full.insert(full.end(), got.begin(), got.end());
  r1::PackedBatch fb;
  fb.add_sequence(full);
  model->reserve(fb.num_tokens());
  model->forward(fb);
  std::vector<float> flp(static_cast<size_t>(fb.num_tokens()));
  model->head_forward(fb, flp.data(), nullptr);
  for (size_t j = 0; j < got.size() && j < out[0].logprobs.size(); j++)
    r.engine_vs_forward = std::max(r.engine_vs_forward,
                                   std::fabs(double(out[0].logprobs[j]) - flp[prompt.size() - 1 + j]));
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <reference dir with manifest_bf16.json>\n", argv[0]);
    return 2;
  }
  const std::string root = argv[1];
  std::vector<ModelResult> results;
  nlohmann::json manifest;
  try {
    r1::cuda::register_cuda_backend();
    const std::string path = root + "/manifest_bf16.json";
    std::ifstream in(path);
    if (!in) throw r1::Error(path + ": cannot open");
    manifest = nlohmann::json::parse(in);
    const auto& v = manifest.at("versions");
    std::printf("reference: %s on %s, torch %s, transformers %s (attention %s)\n",
                manifest.value("generator", "?").c_str(), manifest.value("device", "?").c_str(),
                v.value("torch", "?").c_str(), v.value("transformers", "?").c_str(),
                manifest.value("attention", "?").c_str());
    for (const auto& entry : manifest.at("models")) {
      try {
        results.push_back(check_model(root, entry));
      } catch (const std::exception& e) {  // one broken model must not hide the others' results
        ModelResult r;
        r.name = entry.value("name", "?");
        fail(r, e.what());
        results.push_back(r);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hf_bf16_check: %s\n", e.what());
    return 2;
  }
  if (results.empty()) {
    std::fprintf(stderr, "hf_bf16_check: no models in %s/manifest_bf16.json\n", root.c_str());
    return 2;
  }

  std::printf("\nper-token max |diff| over targets; hf = |transformers bf16 - f32|, tol = 2 hf + 2^-6; engine lp = "
              "max |engine - transformers bf16| log-prob over the matching greedy steps (tol as log-prob)\n");
  std::printf("%-18s | %-36s | %-36s | %-28s | %-9s | %s\n", "model", "log-prob: vs bf16  vs f32  hf  tol",
              "entropy: vs bf16  vs f32  hf  tol", "greedy (32): bf16  f32  div", "engine lp", "result");
  int failed = 0;
  for (const auto& r : results) {
    char div[32];
    if (r.first_divergence < 0) std::snprintf(div, sizeof div, "none");
    else std::snprintf(div, sizeof div, "%d (m %.3f)", r.first_divergence, r.margin_at_divergence);
    std::printf("%-18s | %8.4f %8.4f %8.4f %8.4f | %8.4f %8.4f %8.4f %8.4f | %4d/32 %4d/32 %-12s | %9.4f | %s\n",
                r.name.c_str(), r.lp_vs_bf16, r.lp_vs_f32, r.lp_hf, r.lp_tol, r.ent_vs_bf16, r.ent_vs_f32, r.ent_hf,
                r.ent_tol, r.greedy_match, r.greedy_match_f32, div, r.engine_lp, r.ok ? "PASS" : "FAIL");
    failed += !r.ok;
  }
  std::printf("\n");
  for (const auto& r : results) {
    std::printf("%s: margin tolerance %.4f; engine log-probs vs training forward max |diff| %.2e\n", r.name.c_str(),
                r.margin_tol, r.engine_vs_forward);
    for (const auto& n : r.notes) std::printf("  %s\n", n.c_str());
  }
  std::printf("hf_bf16_check: %d/%zu models pass\n", int(results.size()) - failed, results.size());
  return failed ? 1 : 0;
}
