// What goes into and comes out of a rollout engine (CPU or GPU): requests with their sampling parameters,
// completions with per-token log-probabilities, engine options, statistics and streaming callbacks.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "generate/sampler.h"

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
  // GPU engine: device time of the decode steps (input upload to output download, cudaEvents); 0 on the CPU.
  // decode_seconds - decode_device_seconds is the host's share of a step that the device waits through.
  double decode_device_seconds = 0;
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

}  // namespace r1::gen
