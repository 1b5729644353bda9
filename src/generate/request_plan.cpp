#include "generate/request_plan.h"

#include <algorithm>
#include <string>

#include "core/error.h"

namespace r1::gen {

namespace {

int ceil_div(int a, int b) { return (a + b - 1) / b; }

}  // namespace

RequestPlan plan_requests(const std::vector<GenerationRequest>& requests, const EngineOptions& options, int vocab_size,
                          bool can_detokenize) {
  const int ps = options.page_size;
  RequestPlan plan;
  for (size_t i = 0; i < requests.size(); i++) {
    const GenerationRequest& q = requests[i];
    const std::string where = "request " + std::to_string(i);
    validate_sampling_params(q.params, where);
    if (q.n < 1) throw Error(where + ": field 'n': must be >= 1, got " + std::to_string(q.n));
    if (q.first_sample < 0) throw Error(where + ": field 'first_sample': must be >= 0");
    if (q.prompt.empty()) throw Error(where + ": field 'prompt': is empty (the model needs at least one token)");
    const int len = int(q.prompt.size());
    for (int t = 0; t < len; t++)
      if (q.prompt[size_t(t)] < 0 || q.prompt[size_t(t)] >= vocab_size)
        throw Error(where + ": field 'prompt': token " + std::to_string(q.prompt[size_t(t)]) + " at position " +
                    std::to_string(t) + " is outside the vocabulary (size " + std::to_string(vocab_size) + ")");
    if (len > options.max_total_tokens)
      throw Error(where + ": field 'prompt': " + std::to_string(len) + " tokens exceed max_total_tokens " +
                  std::to_string(options.max_total_tokens));
    if (!q.params.stop.empty() && !can_detokenize)
      throw Error(where + ": field 'stop': stop strings need a detokenize callback");
    PlannedRequest r;
    r.index = int(i);
    r.req = &q;
    r.out_offset = plan.total_samples;
    plan.total_samples += size_t(q.n);
    r.allowed_new = std::min(q.params.max_new_tokens, options.max_total_tokens - len);
    r.kv_max = len + std::max(r.allowed_new, 1) - 1;
    r.prompt_pages = ceil_div(len, ps);
    r.sample_pages = ceil_div(r.kv_max, ps) - len / ps;
    plan.max_prompt_pages = std::max(plan.max_prompt_pages, r.prompt_pages);
    plan.max_sample_pages = std::max(plan.max_sample_pages, r.sample_pages);
    plan.max_kv_len = std::max(plan.max_kv_len, r.kv_max);
    plan.requests.push_back(r);
  }
  return plan;
}

int64_t RequestPlan::auto_pool_pages(int max_slots, int page_size) const {
  const int64_t slots = std::min<int64_t>(max_slots, int64_t(total_samples));
  const int64_t held = std::min<int64_t>(max_slots, int64_t(requests.size()));
  const int64_t need = held * max_prompt_pages + slots * max_sample_pages;
  R1_CHECK(need < (int64_t(1) << 31) / page_size, "KV pool too large");
  return need;
}

void RequestPlan::check_fits(int num_pages) const {
  for (const PlannedRequest& r : requests)
    if (num_pages > 0 && r.prompt_pages + r.sample_pages > num_pages)
      throw Error("request " + std::to_string(r.index) + ": needs up to " +
                  std::to_string(r.prompt_pages + r.sample_pages) + " KV pages but the pool has " +
                  std::to_string(num_pages) + " (EngineOptions::kv_pages)");
}

void complete_without_tokens(const PlannedRequest& r, std::vector<Completion>& results,
                             const EngineCallbacks& callbacks, EngineStats& stats) {
  for (int j = 0; j < r.req->n; j++) {
    Completion& out = results[r.out_offset + size_t(j)];
    out.request_index = r.index, out.sample_index = j, out.prompt_tokens = int(r.req->prompt.size());
    out.finish_reason = "length";
    if (callbacks.detokenize) out.text = callbacks.detokenize(out.tokens);
    stats.completions++;
    if (callbacks.on_complete) callbacks.on_complete(out);
  }
}

}  // namespace r1::gen
