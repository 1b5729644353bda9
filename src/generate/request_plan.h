// Validation and KV-page planning of a generate() call's requests, shared by the CPU and GPU engines: the same
// checks (each failure an r1::Error naming the request and field), the same per-request token and page budgets
// (admission reserves each sample's worst case, so nothing is ever preempted) and the same automatic pool size.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "generate/types.h"

namespace r1::gen {

struct PlannedRequest {
  int index = 0;
  const GenerationRequest* req = nullptr;
  int allowed_new = 0;   // tokens each sample may generate (max_new_tokens within max_total_tokens)
  int kv_max = 0;        // tokens a sample ever holds in the cache: the prompt and every generated one but the last
  int prompt_pages = 0;  // pages the prefill allocates
  int sample_pages = 0;  // worst-case pages one sample allocates beyond the shared prompt pages
  size_t out_offset = 0; // index of sample 0 in the result vector
};

struct RequestPlan {
  std::vector<PlannedRequest> requests;
  size_t total_samples = 0;
  int max_prompt_pages = 0, max_sample_pages = 0, max_kv_len = 1;

  // Pages a pool needs so that max_slots samples, and the prompts they fork from, fit at once.
  int64_t auto_pool_pages(int max_slots, int page_size) const;
  // r1::Error naming the first request whose prompt and one sample cannot fit a pool of num_pages.
  void check_fits(int num_pages) const;
};

// options.max_total_tokens must already be resolved (> 0). can_detokenize: stop strings need a detokenizer.
RequestPlan plan_requests(const std::vector<GenerationRequest>& requests, const EngineOptions& options, int vocab_size,
                          bool can_detokenize);

// Finishes every sample of a request that may not generate anything (allowed_new == 0: its prompt already fills
// max_total_tokens) at once, with finish reason "length" and no prefill.
void complete_without_tokens(const PlannedRequest& r, std::vector<Completion>& results,
                             const EngineCallbacks& callbacks, EngineStats& stats);

}  // namespace r1::gen
