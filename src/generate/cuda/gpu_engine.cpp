#include "generate/cuda/gpu_engine.h"
#include "generate/request_plan.h"
#include "generate/stopping.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <unordered_set>

#include "backend/cuda/check.h"
#include "core/error.h"
#include "generate/sampler.h"

namespace r1::gen {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct RequestState : PlannedRequest {
  int next_sample = 0;
  bool prefilled = false;
  PagedSequence prompt_kv;
  int logits_row = -1;  // row of GpuForward::prompt_logits() holding the last prompt token's logits
};

// One running sample. Steps are pipelined (the host launches step s + 1 before it reads step s's tokens), so a
// sample may be in two steps at once: `launched` counts its tokens drawn or being drawn, and while its newest
// token is still on the device, device_row names its row in the last launched step (the next step's input).
struct Active {
  RequestState* r = nullptr;
  PagedSequence kv;
  int32_t pending = -1;  // the newest token once read back; the next input when device_row < 0
  int reserved = 0;
  int launched = 0;
  int device_row = -1;
  int64_t device_step = -1;
  bool done = false;  // finished: its rows in steps still in flight are discarded
  Completion out;
};
using ActivePtr = std::shared_ptr<Active>;

cuda::RowSampling row_params(const SamplingParams& p) {
  return cuda::RowSampling{p.temperature, p.top_k, p.top_p, 0};
}

}  // namespace

struct GpuEngine::Run {
  GpuEngine& e;
  const EngineCallbacks& cb;
  std::vector<RequestState> reqs;
  std::deque<RequestState*> queue;
  std::vector<ActivePtr> active;                 // running samples, none done
  std::deque<std::vector<ActivePtr>> in_flight;  // the rows of each launched, unread step, oldest first
  int64_t launched_steps = 0;
  std::vector<Completion> results;
  std::unordered_set<int32_t> eos;
  int64_t reserved_total = 0;
  std::vector<int32_t> free_rows;  // free rows of the prompt-logits buffer
  DecodeInputs in;
  SampledRows drawn;

  Run(GpuEngine& engine, const EngineCallbacks& callbacks) : e(engine), cb(callbacks) {}

  int64_t available() const { return int64_t(e.pages_.free_pages()) - reserved_total; }

  // The uniform of the sample's next token (its index: the tokens drawn or being drawn).
  double uniform(const Active& a) const { return draw_uniform(*a.r->req, a.out.sample_index, size_t(a.launched)); }

  void finish(Active& a, const char* reason) {
    a.done = true;
    a.out.finish_reason = reason;
    if (cb.detokenize) a.out.text = cb.detokenize(a.out.tokens);
    e.pages_.release(a.kv);
    reserved_total -= a.reserved;
    a.reserved = 0;
    e.stats_.completions++;
    if (cb.on_complete) cb.on_complete(a.out);
    results[a.r->out_offset + size_t(a.out.sample_index)] = std::move(a.out);
  }

  // Records a sampled token; true when the sequence finished (and was retired).
  bool append(Active& a, int32_t token, float logprob, float sampling_logprob) {
    if (token < 0)
      throw Error("request " + std::to_string(a.r->index) + ": sample " + std::to_string(a.out.sample_index) +
                  ": the logits contain NaN");
    a.out.tokens.push_back(token);
    a.out.logprobs.push_back(logprob);
    a.out.sampling_logprobs.push_back(sampling_logprob);
    e.stats_.generated_tokens++;
    if (cb.on_token) cb.on_token(a.out, token);
    const char* reason = finish_reason(a.r->req->params, eos, a.out.tokens, a.r->allowed_new, cb.detokenize);
    if (reason) {
      finish(a, reason);
      return true;
    }
    a.pending = token;
    return false;
  }

  // Starts one sample of each listed request (a request may appear several times): forks its prompt pages and
  // draws all first tokens in one batched sampling call.
  void start_samples(const std::vector<RequestState*>& list) {
    if (list.empty()) return;
    std::vector<ActivePtr> fresh(list.size());
    std::vector<int32_t> rows;
    std::vector<cuda::RowSampling> params;
    std::vector<double> u;
    for (size_t i = 0; i < list.size(); i++) {
      RequestState& r = *list[i];
      fresh[i] = std::make_shared<Active>();
      Active& a = *fresh[i];
      a.r = &r;
      a.kv = e.pages_.fork(r.prompt_kv);
      a.reserved = r.sample_pages;
      reserved_total += a.reserved;
      a.out.request_index = r.index;
      a.out.sample_index = r.next_sample++;
      a.out.prompt_tokens = int(r.req->prompt.size());
      rows.push_back(r.logits_row);
      params.push_back(row_params(r.req->params));
      u.push_back(uniform(a));
    }
    const auto t0 = Clock::now();
    e.forward_->sample_prompt_rows(rows, params, u, &drawn);
    e.stats_.sample_seconds += seconds_since(t0);
    for (size_t i = 0; i < fresh.size(); i++) {
      fresh[i]->launched = 1;
      if (!append(*fresh[i], drawn.token[i], drawn.logprob[i], drawn.sampling_logprob[i])) {
        active.push_back(std::move(fresh[i]));
        e.stats_.peak_active = std::max(e.stats_.peak_active, int(active.size()));
      }
    }
  }

  bool prefill_next() {
    std::vector<RequestState*> batch;
    int tokens = 0;
    int64_t pages_left = available();
    const int slots_left = e.options_.max_slots - int(active.size());
    for (RequestState* r : queue) {
      if (r->prefilled) continue;
      const int len = int(r->req->prompt.size());
      if (int(batch.size()) >= slots_left || batch.size() >= free_rows.size()) break;
      if (!batch.empty() && tokens + len > e.options_.max_prefill_tokens) break;
      const int need = r->prompt_pages + r->sample_pages;
      if (need > pages_left) break;
      pages_left -= need;
      tokens += len;
      batch.push_back(r);
    }
    if (batch.empty()) return false;
    const auto t0 = Clock::now();
    std::vector<int32_t> packed, cu{0}, slots, out_rows;
    std::vector<std::pair<int32_t, int32_t>> copies;
    for (RequestState* r : batch) {
      const int len = int(r->req->prompt.size());
      packed.insert(packed.end(), r->req->prompt.begin(), r->req->prompt.end());
      cu.push_back(int32_t(packed.size()));
      e.pages_.grow(r->prompt_kv, len, &copies);
      for (int i = 0; i < len; i++) slots.push_back(e.pages_.slot(r->prompt_kv, i));
      r->logits_row = free_rows.back();
      free_rows.pop_back();
      out_rows.push_back(r->logits_row);
    }
    R1_CHECK(copies.empty(), "a fresh prompt never copies pages");
    e.forward_->prefill(packed, cu, slots, out_rows);
    e.stats_.prompt_tokens += int64_t(packed.size());
    e.stats_.prefill_batches++;
    for (RequestState* r : batch) r->prefilled = true;
    e.stats_.prefill_seconds += seconds_since(t0);
    start_samples(batch);
    note_step();
    return true;
  }

  void admit() {
    for (;;) {
      while (!queue.empty() && queue.front()->prefilled) {
        RequestState& r = *queue.front();
        // Start as many of its samples as slots and pages allow, in batches (one that finishes at once frees
        // its slot again, so loop).
        for (;;) {
          int k = std::min(r.req->n - r.next_sample, e.options_.max_slots - int(active.size()));
          if (r.sample_pages > 0) k = int(std::min<int64_t>(k, available() / r.sample_pages));
          if (k <= 0) break;
          start_samples(std::vector<RequestState*>(size_t(k), &r));
        }
        if (r.next_sample < r.req->n) return;
        e.pages_.release(r.prompt_kv);
        free_rows.push_back(r.logits_row);
        r.logits_row = -1;
        queue.pop_front();
      }
      if (queue.empty() || int(active.size()) >= e.options_.max_slots || !prefill_next()) return;
    }
  }

  // Launches a decode step for every running sample that may need another token (a sample whose newest token
  // is still on the device may yet finish on it: then its row here is wasted and discarded). False when none.
  bool launch_step() {
    const auto t0 = Clock::now();
    std::vector<ActivePtr> rows;
    for (const ActivePtr& a : active)
      if (a->launched < a->r->allowed_new) rows.push_back(a);
    if (rows.empty()) return false;
    const int B = int(rows.size());
    in.clear();
    std::vector<std::pair<int32_t, int32_t>> copies;
    for (int b = 0; b < B; b++) {
      Active& a = *rows[size_t(b)];
      const int allocated = e.pages_.grow(a.kv, 1, &copies);
      a.reserved -= allocated;
      reserved_total -= allocated;
      R1_CHECK(a.reserved >= 0, "a sequence allocated more KV pages than admission reserved");
      const int pos = a.kv.length - 1;
      if (a.device_row >= 0) {
        R1_CHECK(a.device_step == launched_steps - 1, "a decode input token is older than the last step");
        in.tokens.push_back(0);
        in.source_rows.push_back(a.device_row);
      } else {
        in.tokens.push_back(a.pending);
        in.source_rows.push_back(-1);
      }
      in.positions.push_back(pos);
      in.slots.push_back(e.pages_.slot(a.kv, pos));
      in.lens.push_back(a.kv.length);
      in.indices.insert(in.indices.end(), a.kv.pages.begin(), a.kv.pages.end());
      in.indptr.push_back(int32_t(in.indices.size()));
      in.params.push_back(row_params(a.r->req->params));
      in.uniforms.push_back(uniform(a));
      a.launched++;
      a.device_row = b;
      a.device_step = launched_steps;
    }
    e.forward_->copy_pages(copies);
    e.forward_->launch_decode(in);
    in_flight.push_back(std::move(rows));
    launched_steps++;
    e.stats_.decode_rows += B;
    e.stats_.decode_seconds += seconds_since(t0);
    return true;
  }

  // Waits for the oldest launched step and records its tokens (rows of samples that finished meanwhile are
  // dropped); finished samples leave `active`.
  void collect_step() {
    const auto t0 = Clock::now();
    const std::vector<ActivePtr> rows = std::move(in_flight.front());
    in_flight.pop_front();
    const int64_t step = launched_steps - 1 - int64_t(in_flight.size());
    e.forward_->finish_decode(&drawn);
    e.stats_.decode_seconds += seconds_since(t0);
    e.stats_.decode_device_seconds += e.forward_->last_decode_device_seconds();
    for (size_t b = 0; b < rows.size(); b++) {
      Active& a = *rows[b];
      if (a.device_step == step) a.device_row = -1;  // its token is on the host now
      if (!a.done) append(a, drawn.token[b], drawn.logprob[b], drawn.sampling_logprob[b]);
    }
    active.erase(std::remove_if(active.begin(), active.end(), [](const ActivePtr& a) { return a->done; }),
                 active.end());
    e.stats_.decode_steps++;
    note_step();
  }

  void note_step() {
    EngineStats& s = e.stats_;
    s.peak_kv_pages = e.pages_.peak_used_pages();
    s.peak_kv_bytes = size_t(s.peak_kv_pages) * s.page_bytes;
    if (cb.on_step) cb.on_step(s);
  }
};

GpuEngine::GpuEngine(const ModelConfig& config, const __nv_bfloat16* weights, EngineOptions options,
                     cuda::Context* ctx)
    : config_(config), options_(std::move(options)), ctx_(ctx) {
  auto bad = [](const char* field, const std::string& why) {
    throw Error("engine options: field '" + std::string(field) + "': " + why);
  };
  if (options_.max_slots < 1) bad("max_slots", "must be >= 1");
  if (options_.page_size < 1) bad("page_size", "must be >= 1");
  if (options_.kv_pages < 0) bad("kv_pages", "must be >= 0 (0 sizes the pool automatically)");
  if (options_.max_prefill_tokens < 1) bad("max_prefill_tokens", "must be >= 1");
  const int max_pos = config_.max_position_embeddings;
  if (options_.max_total_tokens < 0 || options_.max_total_tokens > max_pos)
    bad("max_total_tokens", "must be in [0, max_position_embeddings = " + std::to_string(max_pos) + "], got " +
                                std::to_string(options_.max_total_tokens));
  if (options_.max_total_tokens == 0) options_.max_total_tokens = max_pos;
  if (options_.eos_token_ids.empty()) options_.eos_token_ids = config_.eos_token_ids;
  if (!ctx_) {
    R1_CUDA_CHECK("gpu engine", cudaStreamCreateWithFlags(&own_stream_, cudaStreamNonBlocking));
    own_ctx_ = std::make_unique<cuda::Context>(own_stream_);
    ctx_ = own_ctx_.get();
  }
  forward_ = std::make_unique<GpuForward>(config_, weights, *ctx_);
}

GpuEngine::~GpuEngine() {
  forward_.reset();
  own_ctx_.reset();
  if (own_stream_) cudaStreamDestroy(own_stream_);
}

std::vector<Completion> GpuEngine::generate(const std::vector<GenerationRequest>& requests,
                                            const EngineCallbacks& callbacks) {
  const auto t_start = Clock::now();
  const ModelConfig& c = config_;
  const int ps = options_.page_size;
  stats_ = EngineStats{};
  Run run(*this, callbacks);
  run.eos.insert(options_.eos_token_ids.begin(), options_.eos_token_ids.end());

  const RequestPlan plan = plan_requests(requests, options_, c.vocab_size, bool(callbacks.detokenize));
  run.reqs.resize(requests.size());
  for (size_t i = 0; i < requests.size(); i++) static_cast<PlannedRequest&>(run.reqs[i]) = plan.requests[i];
  run.results.resize(plan.total_samples);
  stats_.requests = int64_t(requests.size());
  const int max_len = plan.max_kv_len;

  int num_pages = options_.kv_pages;
  if (num_pages == 0 && !requests.empty()) {
    const int64_t need = plan.auto_pool_pages(options_.max_slots, ps);
    // Keep a larger pool from an earlier call (no reallocation, graphs stay valid).
    num_pages = std::max<int>(int(need), pages_.page_size() == ps ? pages_.num_pages() : 0);
  }
  plan.check_fits(num_pages);
  if (num_pages > 0) {
    // A fresh allocator also after a generate() that threw midway and left pages referenced.
    if (pages_.num_pages() != num_pages || pages_.page_size() != ps || pages_.used_pages() != 0)
      pages_ = PageAllocator(num_pages, ps);
    // Context bound rounded up to a power of two, so calls with slightly different prompts reuse the graphs.
    int len_bound = 256;
    while (len_bound < max_len) len_bound <<= 1;
    forward_->configure(num_pages, ps, options_.max_slots, std::min(len_bound, options_.max_total_tokens));
  }
  pages_.reset_peak();
  const int64_t cow0 = pages_.copy_on_writes();
  stats_.kv_pages = pages_.num_pages();
  stats_.page_bytes = forward_->page_bytes(ps);
  stats_.kv_pool_bytes = size_t(stats_.kv_pages) * stats_.page_bytes;
  for (int i = options_.max_slots - 1; i >= 0; i--) run.free_rows.push_back(i);

  for (RequestState& r : run.reqs) {
    if (r.allowed_new > 0) {
      run.queue.push_back(&r);
      continue;
    }
    complete_without_tokens(r, run.results, callbacks, stats_);
  }

  // Pipelined: launch step s + 1, then read step s, so the host's bookkeeping overlaps the device's work.
  forward_->drop_decode_steps();
  for (;;) {
    run.admit();
    const bool launched = run.launch_step();
    if (!run.in_flight.empty() && (run.in_flight.size() == 2 || !launched)) {
      run.collect_step();
      continue;
    }
    if (launched) continue;
    R1_CHECK(run.active.empty(), "running samples with no step to launch");
    if (run.queue.empty()) break;
    throw Error("request " + std::to_string(run.queue.front()->index) + ": cannot start: the KV pool of " +
                std::to_string(pages_.num_pages()) + " pages is too small");
  }
  R1_CHECK(pages_.used_pages() == 0 && run.reserved_total == 0, "KV pages leaked after generation");
  stats_.copy_on_writes = pages_.copy_on_writes() - cow0;
  stats_.total_seconds = seconds_since(t_start);
  return std::move(run.results);
}

}  // namespace r1::gen
