// The rollout engine: batched generation with a paged KV cache and continuous batching.
//
// Requests (a prompt, n samples, sampling parameters, a seed) are admitted in order. A request is prefilled
// once; its n samples fork the prompt's KV pages (shared, copy-on-write) and sample their first tokens from
// the same prefill logits. Every decode step feeds the newest token of each active sequence through the model
// in one batch; a sequence that finishes (EOS id, stop string, length limit) frees its slot and pages at once
// and a waiting sample takes the slot. Admission reserves each sequence's worst-case page count up front, so a
// fixed-size pool never runs out mid-generation and nothing is ever preempted or recomputed.
//
// Sample j of a request draws its randomness from Philox(seed, stream = first_sample + j, step), so results do
// not depend on batch composition, slot count or the order requests finish: a group of n samples gives the
// same completions as n requests of one sample each with first_sample = 0..n-1 and the same seed.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "generate/kv_cache.h"
#include "generate/model_runner.h"
#include "generate/sampler.h"
#include "model/transformer.h"

namespace r1::gen {

struct GenerationRequest {
  std::vector<int32_t> prompt;
  int n = 1;  // samples of this prompt
  SamplingParams params;
  uint64_t seed = 0;
  int first_sample = 0;  // RNG stream of sample j is first_sample + j
};

struct Completion {
  std::vector<int32_t> tokens;           // generated tokens, including the EOS / stop token that ended them
  std::vector<float> logprobs;           // per token, under the unmodified policy (temperature 1)
  std::vector<float> sampling_logprobs;  // per token, under the distribution sampled from
  std::string finish_reason;             // "eos", "stop" or "length"
  int request_index = 0, sample_index = 0;
  int prompt_tokens = 0;
  std::string text;  // detokenized tokens (EngineCallbacks::detokenize), empty without a detokenizer
};

struct EngineOptions {
  int max_slots = 64;                  // sequences decoded together in one step
  int max_total_tokens = 0;            // per sequence, prompt + completion; 0: the model's max_position_embeddings
  int page_size = 16;                  // tokens per KV page
  int kv_pages = 0;                    // pool size; 0: sized per generate() call so that max_slots sequences fit
  int max_prefill_tokens = 8192;       // prompt tokens packed into one prefill batch (at least one prompt)
  std::vector<int32_t> eos_token_ids;  // empty: the model config's eos_token_ids
};

struct EngineStats {
  int64_t requests = 0, completions = 0;
  int64_t prompt_tokens = 0;  // prefilled once per request, however many samples share it
  int64_t generated_tokens = 0;
  int64_t decode_steps = 0, prefill_batches = 0;
  int64_t decode_rows = 0;  // sum over steps of the batch size: decode_rows / decode_steps = mean batch
  int peak_active = 0;
  int kv_pages = 0, peak_kv_pages = 0;  // pool size, most pages in use at once
  int64_t copy_on_writes = 0;
  size_t page_bytes = 0, kv_pool_bytes = 0, peak_kv_bytes = 0;
  double prefill_seconds = 0, decode_seconds = 0, sample_seconds = 0, total_seconds = 0;
};

// One line for logs: completions, tokens, rates, mean decode batch, KV memory (peak / pool) and sharing.
std::string describe(const EngineStats& s);

struct EngineCallbacks {
  // Tokens -> text. Needed for stop strings (the check decodes the completion's tail) and Completion::text.
  std::function<std::string(const std::vector<int32_t>&)> detokenize;
  // After every sampled token (streaming); `c` holds the completion so far.
  std::function<void(const Completion& c, int32_t token)> on_token;
  // When a completion finishes (before generate() returns).
  std::function<void(const Completion& c)> on_complete;
  // After every prefill batch or decode step, for progress reporting.
  std::function<void(const EngineStats& s)> on_step;
};

class Engine {
 public:
  // Reads model's weights in place on every call: keep the model alive and do not resize it.
  Engine(const Transformer& model, EngineOptions options);
  ~Engine();

  // Completions ordered by (request_index, sample_index). Throws r1::Error naming the request for bad
  // input (empty prompt, prompt longer than max_total_tokens, token outside the vocabulary, bad params).
  std::vector<Completion> generate(const std::vector<GenerationRequest>& requests,
                                   const EngineCallbacks& callbacks = {});
  // Statistics of the last generate() call.
  const EngineStats& stats() const { return stats_; }
  const EngineOptions& options() const { return options_; }

 private:
  struct Run;
  const Transformer& model_;
  EngineOptions options_;
  ModelRunner runner_;
  KvCache cache_;
  EngineStats stats_;
};

// One-shot convenience: builds an Engine, generates, optionally returns its statistics.
std::vector<Completion> generate(const Transformer& model, const std::vector<GenerationRequest>& requests,
                                 const EngineOptions& options, const EngineCallbacks& callbacks = {},
                                 EngineStats* stats = nullptr);

}  // namespace r1::gen
