#include "generate/engine.h"
#include "generate/request_plan.h"
#include "generate/stopping.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <unordered_set>

#include "core/arena.h"
#include "core/error.h"

namespace r1::gen {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }


// Per-request scheduling state.
struct RequestState : PlannedRequest {
  int next_sample = 0;  // samples started so far
  bool prefilled = false;
  KvSequence prompt_kv;       // the prompt's pages, held until the last sample has forked them
  std::vector<float> logits;  // last prompt token's logits, shared by all samples' first draw
};

// One running sample.
struct Active {
  RequestState* r = nullptr;
  KvSequence kv;
  int32_t pending = -1;  // last sampled token: fed to the model in the next decode step
  int reserved = 0;      // pages still promised to this sequence by admission control
  Completion out;
};

}  // namespace

struct Engine::Run {
  Engine& e;
  const EngineCallbacks& cb;
  std::vector<RequestState> reqs;
  std::deque<RequestState*> queue;  // not yet fully started, in request order; prefilled ones first
  std::vector<Active> active;
  std::vector<Completion> results;
  std::unordered_set<int32_t> eos;
  int64_t reserved_total = 0;  // pages promised to running sequences but not allocated yet
  std::vector<Sampler> samplers;
  int vocab = 0;

  Run(Engine& engine, const EngineCallbacks& callbacks) : e(engine), cb(callbacks) {}

  int64_t available() const { return int64_t(e.cache_.free_pages()) - reserved_total; }

  void finish(Active& a, const char* reason) {
    a.out.finish_reason = reason;
    if (cb.detokenize) a.out.text = cb.detokenize(a.out.tokens);
    e.cache_.release(a.kv);
    reserved_total -= a.reserved;
    a.reserved = 0;
    e.stats_.completions++;
    if (cb.on_complete) cb.on_complete(a.out);
    results[a.r->out_offset + size_t(a.out.sample_index)] = std::move(a.out);
  }

  // Records a sampled token; returns true when the sequence has finished (and was retired).
  bool append(Active& a, const SampledToken& s) {
    a.out.tokens.push_back(s.token);
    a.out.logprobs.push_back(s.logprob);
    a.out.sampling_logprobs.push_back(s.sampling_logprob);
    e.stats_.generated_tokens++;
    if (cb.on_token) cb.on_token(a.out, s.token);
    const char* reason = finish_reason(a.r->req->params, eos, a.out.tokens, a.r->allowed_new, cb.detokenize);
    if (reason) {
      finish(a, reason);
      return true;
    }
    a.pending = s.token;
    return false;
  }

  SampledToken draw(Sampler& sampler, const Active& a, const float* logits) const {
    const GenerationRequest& q = *a.r->req;
    return sampler.sample(logits, vocab, q.params, draw_uniform(q, a.out.sample_index, a.out.tokens.size()));
  }

  // Forks the request's prompt pages for its next sample and draws the sample's first token.
  void start_sample(RequestState& r) {
    Active a;
    a.r = &r;
    a.kv = e.cache_.fork(r.prompt_kv);
    a.reserved = r.sample_pages;
    reserved_total += a.reserved;
    a.out.request_index = r.index;
    a.out.sample_index = r.next_sample++;
    a.out.prompt_tokens = int(r.req->prompt.size());
    if (!append(a, draw(samplers[0], a, r.logits.data()))) {
      active.push_back(std::move(a));
      e.stats_.peak_active = std::max(e.stats_.peak_active, int(active.size()));
    }
  }

  // Prefills as many queued requests as can start a sample now, in one packed batch.
  bool prefill_next() {
    std::vector<RequestState*> batch;
    int tokens = 0;
    int64_t pages_left = available();
    const int slots_left = e.options_.max_slots - int(active.size());
    for (RequestState* r : queue) {
      if (r->prefilled) continue;
      const int len = int(r->req->prompt.size());
      if (int(batch.size()) >= slots_left) break;
      if (!batch.empty() && tokens + len > e.options_.max_prefill_tokens) break;
      // Its prompt pages and its first sample's worst case, so the sample can start right after.
      const int need = r->prompt_pages + r->sample_pages;
      if (need > pages_left) break;
      pages_left -= need;
      tokens += len;
      batch.push_back(r);
    }
    if (batch.empty()) return false;
    const auto t0 = Clock::now();
    std::vector<int32_t> packed, cu{0};
    std::vector<const KvSequence*> seqs;
    for (RequestState* r : batch) {
      packed.insert(packed.end(), r->req->prompt.begin(), r->req->prompt.end());
      cu.push_back(int32_t(packed.size()));
      e.cache_.grow(r->prompt_kv, int(r->req->prompt.size()));
      seqs.push_back(&r->prompt_kv);
    }
    std::vector<float> logits(batch.size() * size_t(vocab));
    e.runner_.prefill(packed, cu, seqs, e.cache_, logits.data());
    e.stats_.prompt_tokens += int64_t(packed.size());
    e.stats_.prefill_batches++;
    for (size_t i = 0; i < batch.size(); i++) {
      batch[i]->logits.assign(logits.begin() + long(i * vocab), logits.begin() + long((i + 1) * vocab));
      batch[i]->prefilled = true;
      start_sample(*batch[i]);
    }
    e.stats_.prefill_seconds += seconds_since(t0);
    note_step();
    return true;
  }

  // Starts waiting samples while slots and pages allow, in request order.
  void admit() {
    for (;;) {
      while (!queue.empty() && queue.front()->prefilled) {
        RequestState& r = *queue.front();
        while (r.next_sample < r.req->n && int(active.size()) < e.options_.max_slots && available() >= r.sample_pages)
          start_sample(r);
        if (r.next_sample < r.req->n) return;  // wait for a slot or pages
        e.cache_.release(r.prompt_kv);
        r.logits = {};
        queue.pop_front();
      }
      if (queue.empty() || int(active.size()) >= e.options_.max_slots || !prefill_next()) return;
    }
  }

  void decode_step() {
    const auto t0 = Clock::now();
    const int B = int(active.size());
    std::vector<int32_t> tokens(B);
    std::vector<const KvSequence*> seqs(B);
    for (int b = 0; b < B; b++) {
      Active& a = active[size_t(b)];
      const int allocated = e.cache_.grow(a.kv, 1);
      a.reserved -= allocated;
      reserved_total -= allocated;
      R1_CHECK(a.reserved >= 0, "a sequence allocated more KV pages than admission reserved");
      tokens[size_t(b)] = a.pending;
      seqs[size_t(b)] = &a.kv;
    }
    std::vector<float> logits(size_t(B) * size_t(vocab));
    e.runner_.decode(tokens, seqs, e.cache_, logits.data());
    const auto t1 = Clock::now();
    e.stats_.decode_seconds += std::chrono::duration<double>(t1 - t0).count();

    std::vector<SampledToken> drawn(B);
#pragma omp parallel for schedule(dynamic, 1) if (B > 1 && int64_t(B) * vocab > 65536)
    for (int b = 0; b < B; b++)
      drawn[size_t(b)] =
          draw(samplers[size_t(omp_get_thread_num())], active[size_t(b)], logits.data() + size_t(b) * vocab);
    e.stats_.sample_seconds += seconds_since(t1);

    std::vector<Active> still;
    still.reserve(active.size());
    for (int b = 0; b < B; b++)
      if (!append(active[size_t(b)], drawn[size_t(b)])) still.push_back(std::move(active[size_t(b)]));
    active = std::move(still);
    e.stats_.decode_steps++;
    e.stats_.decode_rows += B;
    note_step();
  }

  void note_step() {
    EngineStats& s = e.stats_;
    s.peak_kv_pages = e.cache_.peak_used_pages();
    s.peak_kv_bytes = size_t(s.peak_kv_pages) * s.page_bytes;
    s.copy_on_writes = e.cache_.copy_on_writes();
    if (cb.on_step) cb.on_step(s);
  }
};

Engine::Engine(const Transformer& model, EngineOptions options)
    : model_(model), options_(std::move(options)), runner_(model) {
  auto bad = [](const char* field, const std::string& why) {
    throw Error("engine options: field '" + std::string(field) + "': " + why);
  };
  if (options_.max_slots < 1) bad("max_slots", "must be >= 1");
  if (options_.page_size < 1) bad("page_size", "must be >= 1");
  if (options_.kv_pages < 0) bad("kv_pages", "must be >= 0 (0 sizes the pool automatically)");
  if (options_.max_prefill_tokens < 1) bad("max_prefill_tokens", "must be >= 1");
  const int max_pos = model.config().max_position_embeddings;
  if (options_.max_total_tokens < 0 || options_.max_total_tokens > max_pos)
    bad("max_total_tokens", "must be in [0, max_position_embeddings = " + std::to_string(max_pos) + "], got " +
                                std::to_string(options_.max_total_tokens));
  if (options_.max_total_tokens == 0) options_.max_total_tokens = max_pos;
  if (options_.eos_token_ids.empty()) options_.eos_token_ids = model.config().eos_token_ids;
  if (options_.kv_pages > 0) cache_ = KvCache(runner_.kv_geometry(options_.kv_pages, options_.page_size));
}

Engine::~Engine() = default;

std::vector<Completion> Engine::generate(const std::vector<GenerationRequest>& requests,
                                         const EngineCallbacks& callbacks) {
  const auto t_start = Clock::now();
  const ModelConfig& c = model_.config();
  const int ps = options_.page_size;
  stats_ = EngineStats{};
  Run run(*this, callbacks);
  run.vocab = c.vocab_size;
  run.eos.insert(options_.eos_token_ids.begin(), options_.eos_token_ids.end());
  run.samplers.resize(size_t(omp_get_max_threads()));

  // Validate and plan every request before touching the cache.
  const RequestPlan plan = plan_requests(requests, options_, c.vocab_size, bool(callbacks.detokenize));
  run.reqs.resize(requests.size());
  for (size_t i = 0; i < requests.size(); i++) static_cast<PlannedRequest&>(run.reqs[i]) = plan.requests[i];
  run.results.resize(plan.total_samples);
  stats_.requests = int64_t(requests.size());

  // Size the pool: at most max_slots samples run at once, plus the prompts they fork from.
  if (options_.kv_pages == 0 && !requests.empty()) {
    const int64_t need = plan.auto_pool_pages(options_.max_slots, ps);
    if (cache_.geometry().num_pages < need || cache_.geometry().page_size != ps)
      cache_ = KvCache(runner_.kv_geometry(int(need), ps));
  }
  plan.check_fits(cache_.geometry().num_pages);
  cache_.reset_peak();
  stats_.kv_pages = cache_.geometry().num_pages;
  stats_.page_bytes = cache_.geometry().page_bytes();
  stats_.kv_pool_bytes = cache_.pool_bytes();
  const int64_t cow0 = cache_.copy_on_writes();

  // Requests that may not generate anything finish at once, without a prefill.
  for (RequestState& r : run.reqs) {
    if (r.allowed_new > 0) {
      run.queue.push_back(&r);
      continue;
    }
    complete_without_tokens(r, run.results, callbacks, stats_);
  }

  for (;;) {
    run.admit();
    if (run.active.empty()) {
      if (run.queue.empty()) break;
      // Only reachable when the pool cannot hold even one more sequence while nothing runs.
      throw Error("request " + std::to_string(run.queue.front()->index) + ": cannot start: the KV pool of " +
                  std::to_string(cache_.geometry().num_pages) + " pages is too small");
    }
    run.decode_step();
  }
  R1_CHECK(cache_.used_pages() == 0 && run.reserved_total == 0, "KV pages leaked after generation");
  stats_.copy_on_writes = cache_.copy_on_writes() - cow0;
  stats_.total_seconds = seconds_since(t_start);
  return std::move(run.results);
}

std::string describe(const EngineStats& s) {
  char buf[512];
  const double decode_s = s.decode_seconds + s.sample_seconds;
  std::snprintf(buf, sizeof buf,
                "%lld completions, %lld tokens in %.2f s (%.1f tok/s; decode %.1f tok/s, mean batch %.1f), "
                "%lld prompt tokens prefilled, KV peak %s of %s (%d/%d pages), %lld copy-on-writes",
                (long long)s.completions, (long long)s.generated_tokens, s.total_seconds,
                s.total_seconds > 0 ? double(s.generated_tokens) / s.total_seconds : 0.0,
                decode_s > 0 ? double(s.decode_rows) / decode_s : 0.0,
                s.decode_steps > 0 ? double(s.decode_rows) / double(s.decode_steps) : 0.0, (long long)s.prompt_tokens,
                format_bytes(double(s.peak_kv_bytes)).c_str(), format_bytes(double(s.kv_pool_bytes)).c_str(),
                s.peak_kv_pages, s.kv_pages, (long long)s.copy_on_writes);
  return buf;
}

std::vector<Completion> generate(const Transformer& model, const std::vector<GenerationRequest>& requests,
                                 const EngineOptions& options, const EngineCallbacks& callbacks, EngineStats* stats) {
  Engine engine(model, options);
  auto out = engine.generate(requests, callbacks);
  if (stats) *stats = engine.stats();
  return out;
}

}  // namespace r1::gen
