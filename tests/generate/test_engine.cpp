// Engine: KV-cached decoding equals repeated full forward passes, log-probabilities equal the training head,
// shared-prefix groups equal independent requests (with fewer pages), continuous batching does not change
// results, and every finish reason is recorded.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "backend/cpu/ops.h"
#include "core/error.h"
#include "core/rng.h"
#include "generate/engine.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/transformer.h"

namespace r1::gen {
namespace {

// Re-initialises the model's weights in place, with weight matrices 10x wider than init_params' std 0.02 so
// that next-token distributions are peaked (greedy paths vary, top-p cuts bite) instead of nearly uniform.
// Biases (zero after init_params) get random values too, so that their path is exercised.
void randomize(Transformer& m, uint64_t seed) {
  init_params(m.config(), m.layout(), m.params(), seed);
  Philox rng(seed, 5);
  for (const ParamInfo& p : m.layout().params()) {
    const bool bias = p.hf_name.size() > 5 && p.hf_name.compare(p.hf_name.size() - 5, 5, ".bias") == 0;
    for (int64_t i = 0; i < p.shape.numel(); i++) {
      float& w = m.params()[p.offset + i];
      if (p.weight_decay) w *= 10.0f;
      if (bias) w = 0.5f * rng.normal();
    }
  }
}

// The built-in tiny model (qwen2-style: GQA, q/k/v biases, tied embeddings) with random weights.
std::unique_ptr<Transformer> tiny_model(uint64_t seed) {
  auto m = std::make_unique<Transformer>(builtin_model_config("tiny"));
  randomize(*m, seed);
  return m;
}

std::vector<int32_t> random_prompt(int len, uint64_t seed, int vocab) {
  Philox rng(seed, 99);
  std::vector<int32_t> p(len);
  for (auto& t : p) t = int32_t(rng.below(uint64_t(vocab)));
  return p;
}

// Logits of the last token of `seq` from a full, cache-free training forward.
std::vector<float> full_forward_last_logits(Transformer& m, const std::vector<int32_t>& seq) {
  PackedBatch b;
  b.add_sequence(seq);
  m.forward(b);
  const int C = m.config().hidden_size, V = m.config().vocab_size;
  std::vector<float> logits(V);
  cpu::lm_head_logits(logits.data(), m.hidden() + size_t(seq.size() - 1) * C, m.params() + m.layout().lm_head, 1, C, V);
  return logits;
}

double log_softmax_at(const std::vector<float>& logits, int32_t t) {
  double m = *std::max_element(logits.begin(), logits.end()), z = 0;
  for (float l : logits) z += std::exp(double(l) - m);
  return double(logits[t]) - m - std::log(z);
}

void expect_same_completions(const std::vector<Completion>& a, const std::vector<Completion>& b, const char* what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); i++) {
    EXPECT_EQ(a[i].request_index, b[i].request_index) << what;
    EXPECT_EQ(a[i].sample_index, b[i].sample_index) << what;
    ASSERT_EQ(a[i].tokens, b[i].tokens) << what << ": completion " << i;
    EXPECT_EQ(a[i].finish_reason, b[i].finish_reason) << what << ": completion " << i;
    for (size_t t = 0; t < a[i].tokens.size(); t++) {
      EXPECT_NEAR(a[i].logprobs[t], b[i].logprobs[t], 1e-5) << what << ": completion " << i << " token " << t;
      EXPECT_NEAR(a[i].sampling_logprobs[t], b[i].sampling_logprobs[t], 1e-5) << what;
    }
  }
}

TEST(Engine, PrefillAndDecodeLogitsMatchFullForward) {
  auto m = tiny_model(1);
  const int V = m->config().vocab_size;
  ModelRunner runner(*m);
  KvCache cache(runner.kv_geometry(64, 4));
  // Two prompts packed into one prefill; page size 4 makes every sequence span several pages.
  std::vector<std::vector<int32_t>> seqs = {random_prompt(7, 1, V), random_prompt(3, 2, V)};
  std::vector<KvSequence> kv(2);
  std::vector<int32_t> packed, cu{0};
  for (int b = 0; b < 2; b++) {
    packed.insert(packed.end(), seqs[b].begin(), seqs[b].end());
    cu.push_back(int32_t(packed.size()));
    cache.grow(kv[b], int(seqs[b].size()));
  }
  std::vector<float> logits(2 * size_t(V));
  runner.prefill(packed, cu, {&kv[0], &kv[1]}, cache, logits.data());
  for (int step = 0; step < 12; step++) {
    std::vector<int32_t> next;
    for (int b = 0; b < 2; b++) {
      const auto ref = full_forward_last_logits(*m, seqs[b]);
      for (int v = 0; v < V; v++)
        ASSERT_NEAR(logits[size_t(b) * V + v], ref[v], 1e-5) << "step " << step << " seq " << b;
      const int32_t t = int32_t(std::max_element(ref.begin(), ref.end()) - ref.begin());
      seqs[b].push_back(t);
      next.push_back(t);
      cache.grow(kv[b], 1);
    }
    runner.decode(next, {&kv[0], &kv[1]}, cache, logits.data());
  }
}

TEST(Engine, GreedyTokensEqualRepeatedFullForward) {
  auto m = tiny_model(2);
  const int V = m->config().vocab_size;
  std::vector<GenerationRequest> reqs(3);
  const int lens[] = {5, 13, 1};
  for (int i = 0; i < 3; i++) {
    reqs[i].prompt = random_prompt(lens[i], 10 + i, V);
    reqs[i].params.temperature = 0.0f;
    reqs[i].params.max_new_tokens = 16;
    reqs[i].params.ignore_eos = true;
  }
  EngineOptions opt;
  opt.page_size = 4;
  const auto out = generate(*m, reqs, opt);
  ASSERT_EQ(out.size(), 3u);
  std::set<int32_t> distinct;
  for (int i = 0; i < 3; i++) {
    std::vector<int32_t> seq = reqs[i].prompt;
    ASSERT_EQ(out[i].tokens.size(), 16u);
    EXPECT_EQ(out[i].finish_reason, "length");
    for (int t = 0; t < 16; t++) {
      const auto ref = full_forward_last_logits(*m, seq);
      const int32_t want = int32_t(std::max_element(ref.begin(), ref.end()) - ref.begin());
      ASSERT_EQ(out[i].tokens[t], want) << "request " << i << " token " << t;
      EXPECT_NEAR(out[i].logprobs[t], log_softmax_at(ref, want), 1e-5);
      EXPECT_EQ(out[i].sampling_logprobs[t], 0.0f);
      seq.push_back(want);
      distinct.insert(want);
    }
  }
  EXPECT_GT(distinct.size(), 4u) << "a degenerate model would make this test vacuous";
}

// log p(completion token) from the training forward + head on the packed prompt+completion sequences.
std::vector<std::vector<float>> training_logprobs(Transformer& m, const std::vector<GenerationRequest>& reqs,
                                                  const std::vector<Completion>& out, float inv_temperature) {
  PackedBatch b;
  for (const Completion& c : out) {
    std::vector<int32_t> seq = reqs[c.request_index].prompt;
    const int P = int(seq.size());
    seq.insert(seq.end(), c.tokens.begin(), c.tokens.end());
    std::vector<uint8_t> mask(seq.size(), 0);
    for (size_t i = size_t(P) - 1; i + 1 < seq.size(); i++) mask[i] = 1;
    b.add_sequence(seq, mask);
  }
  m.forward(b);
  std::vector<float> lp(b.num_tokens());
  m.head_forward(b, lp.data(), nullptr, inv_temperature);
  std::vector<std::vector<float>> per;
  for (size_t k = 0; k < out.size(); k++) {
    const int begin = b.cu_seqlens[k] + out[k].prompt_tokens - 1;
    per.emplace_back(lp.begin() + begin, lp.begin() + begin + long(out[k].tokens.size()));
  }
  return per;
}

TEST(Engine, LogprobsEqualTrainingHeadForward) {
  auto m = tiny_model(3);
  const int V = m->config().vocab_size;
  std::vector<GenerationRequest> reqs(2);
  for (int i = 0; i < 2; i++) {
    reqs[i].prompt = random_prompt(6 + 9 * i, 20 + i, V);
    reqs[i].n = 3;
    reqs[i].seed = 7;
    reqs[i].params.temperature = 0.8f;
    reqs[i].params.top_p = 0.95f;
    reqs[i].params.max_new_tokens = 20;
  }
  EngineOptions opt;
  opt.page_size = 8;
  const auto out = generate(*m, reqs, opt);
  const auto ref = training_logprobs(*m, reqs, out, 1.0f);
  for (size_t k = 0; k < out.size(); k++) {
    ASSERT_FALSE(out[k].tokens.empty());
    for (size_t t = 0; t < out[k].tokens.size(); t++)
      ASSERT_NEAR(out[k].logprobs[t], ref[k][t], 1e-5) << "completion " << k << " token " << t;
  }
  // Without truncation the sampling distribution is softmax(logits / T): the head at inverse temperature 1/T.
  for (auto& r : reqs) r.params.top_p = 1.0f, r.params.temperature = 0.7f;
  const auto out_t = generate(*m, reqs, opt);
  const auto ref_t = training_logprobs(*m, reqs, out_t, 1.0f / 0.7f);
  for (size_t k = 0; k < out_t.size(); k++)
    for (size_t t = 0; t < out_t[k].tokens.size(); t++)
      // 1/T scales the logits (|logit| ~ 30 here) and with them float32 rounding: 3e-5 rather than 1e-5.
      ASSERT_NEAR(out_t[k].sampling_logprobs[t], ref_t[k][t], 3e-5) << "completion " << k << " token " << t;
}

TEST(Engine, SharedPrefixGroupEqualsIndependentRequestsWithFewerPages) {
  auto m = tiny_model(4);
  const int V = m->config().vocab_size;
  GenerationRequest group;
  group.prompt = random_prompt(45, 30, V);  // 5 full pages of 8 and a partial one
  group.n = 6;
  group.seed = 1234;
  group.params.max_new_tokens = 12;
  group.params.ignore_eos = true;
  std::vector<GenerationRequest> independent;
  for (int j = 0; j < group.n; j++) {
    GenerationRequest r = group;
    r.n = 1;
    r.first_sample = j;
    independent.push_back(r);
  }
  EngineOptions opt;
  opt.page_size = 8;
  EngineStats sg, si;
  auto a = generate(*m, {group}, opt, {}, &sg);
  auto b = generate(*m, independent, opt, {}, &si);
  ASSERT_EQ(a.size(), b.size());
  for (auto& c : b) c.sample_index = c.request_index, c.request_index = 0;  // index b like a group
  expect_same_completions(a, b, "group vs independent");
  std::set<std::vector<int32_t>> distinct;
  for (const auto& c : a) distinct.insert(c.tokens);
  EXPECT_GT(distinct.size(), 1u) << "samples of a group must differ (different RNG streams)";

  EXPECT_EQ(sg.prompt_tokens, 45) << "the group prefills its prompt once";
  EXPECT_EQ(si.prompt_tokens, 45 * 6);
  EXPECT_LT(sg.peak_kv_pages, si.peak_kv_pages);
  const ModelConfig& c = m->config();
  EXPECT_EQ(sg.page_bytes, size_t(2) * c.num_hidden_layers * 8 * c.num_key_value_heads * c.head_dim * sizeof(float));
  EXPECT_EQ(sg.peak_kv_bytes, size_t(sg.peak_kv_pages) * sg.page_bytes);
  EXPECT_EQ(sg.kv_pool_bytes, size_t(sg.kv_pages) * sg.page_bytes);
  EXPECT_EQ(sg.copy_on_writes, 6 - 1) << "each sample but the last copies the shared partial page once";
  std::printf(
      "[ shared prefix ] n=6, prompt 45, +12 tokens, page 8: peak KV pages %d (%s) shared vs %d (%s) "
      "independent; copy-on-writes %lld\n",
      sg.peak_kv_pages, format_bytes(double(sg.peak_kv_bytes)).c_str(), si.peak_kv_pages,
      format_bytes(double(si.peak_kv_bytes)).c_str(), (long long)sg.copy_on_writes);
}

std::vector<GenerationRequest> mixed_requests(int V) {
  std::vector<GenerationRequest> reqs;
  for (int i = 0; i < 7; i++) {
    GenerationRequest r;
    r.prompt = random_prompt(1 + 5 * i % 23, 40 + i, V);
    r.n = 1 + i % 3;
    r.seed = 100 + i;
    r.params.temperature = i % 4 == 3 ? 0.0f : 1.0f;
    r.params.top_k = i % 2 ? 50 : 0;
    r.params.max_new_tokens = 3 + 4 * (i % 4);
    // Frequent stop ids make sequences end at different, data-dependent steps.
    for (int32_t t = 0; t < 8; t++) r.params.stop_token_ids.push_back(t * 13);
    reqs.push_back(r);
  }
  return reqs;
}

TEST(Engine, ContinuousBatchingWithFewSlotsEqualsUnlimitedSlots) {
  auto m = tiny_model(5);
  const auto reqs = mixed_requests(m->config().vocab_size);
  EngineOptions wide;
  wide.page_size = 4;
  EngineStats s_wide, s_narrow, s_tight;
  const auto a = generate(*m, reqs, wide, {}, &s_wide);
  EngineOptions narrow = wide;
  narrow.max_slots = 2;
  narrow.max_prefill_tokens = 1;  // one prompt per prefill
  const auto b = generate(*m, reqs, narrow, {}, &s_narrow);
  expect_same_completions(a, b, "2 slots vs unlimited");
  EXPECT_LE(s_narrow.peak_active, 2);
  EXPECT_GT(s_wide.peak_active, 2);
  EXPECT_GT(s_narrow.decode_steps, s_wide.decode_steps);
  // A fixed pool just large enough for the biggest request still completes everything identically.
  EngineOptions tight = wide;
  tight.kv_pages = 12;
  const auto c = generate(*m, reqs, tight, {}, &s_tight);
  expect_same_completions(a, c, "12-page pool vs unlimited");
  EXPECT_LE(s_tight.peak_kv_pages, 12);
  size_t total = 0;
  for (const auto& r : reqs) total += size_t(r.n);
  EXPECT_EQ(a.size(), total);
}

std::string fake_detokenize(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t t : ids) s += "t" + std::to_string(t) + ";";
  return s;
}

TEST(Engine, RecordsEosStopAndLengthFinishReasons) {
  auto m = tiny_model(6);
  const int V = m->config().vocab_size;
  GenerationRequest r;
  r.prompt = random_prompt(9, 50, V);
  r.seed = 3;
  r.params.max_new_tokens = 24;
  r.params.ignore_eos = true;
  EngineOptions opt;
  EngineCallbacks cb;
  cb.detokenize = fake_detokenize;
  const Completion base = generate(*m, {r}, opt, cb)[0];
  ASSERT_EQ(base.tokens.size(), 24u);
  EXPECT_EQ(base.finish_reason, "length");
  EXPECT_EQ(base.text, fake_detokenize(base.tokens));
  auto first_index = [&](int32_t t) {
    return size_t(std::find(base.tokens.begin(), base.tokens.end(), t) - base.tokens.begin());
  };
  const int32_t x = base.tokens[10];
  const size_t ix = first_index(x);
  auto prefix = [&](size_t last) {
    return std::vector<int32_t>(base.tokens.begin(), base.tokens.begin() + long(last) + 1);
  };

  GenerationRequest q = r;  // request-level stop id
  q.params.stop_token_ids = {x};
  Completion c = generate(*m, {q}, opt, cb)[0];
  EXPECT_EQ(c.finish_reason, "eos");
  EXPECT_EQ(c.tokens, prefix(ix));

  q = r;  // model-level EOS ids
  q.params.ignore_eos = false;
  EngineOptions with_eos = opt;
  with_eos.eos_token_ids = {x};
  c = generate(*m, {q}, with_eos, cb)[0];
  EXPECT_EQ(c.finish_reason, "eos");
  EXPECT_EQ(c.tokens, prefix(ix));

  q = r;  // a stop string spanning two tokens
  const int32_t y0 = base.tokens[14], y1 = base.tokens[15];
  q.params.stop = {"t" + std::to_string(y0) + ";t" + std::to_string(y1) + ";"};
  size_t iy = 1;
  while (!(base.tokens[iy - 1] == y0 && base.tokens[iy] == y1)) iy++;
  c = generate(*m, {q}, opt, cb)[0];
  EXPECT_EQ(c.finish_reason, "stop");
  EXPECT_EQ(c.tokens, prefix(iy));
  EXPECT_EQ(c.text, fake_detokenize(prefix(iy)));

  q = r;  // max_total_tokens caps prompt + completion
  EngineOptions capped = opt;
  capped.max_total_tokens = 9 + 3;
  c = generate(*m, {q}, capped, cb)[0];
  EXPECT_EQ(c.finish_reason, "length");
  EXPECT_EQ(c.tokens, prefix(2));
  capped.max_total_tokens = 9;
  c = generate(*m, {q}, capped, cb)[0];
  EXPECT_EQ(c.finish_reason, "length");
  EXPECT_TRUE(c.tokens.empty());
}

TEST(Engine, CallbacksStreamEveryTokenAndCompletion) {
  auto m = tiny_model(7);
  const auto reqs = mixed_requests(m->config().vocab_size);
  EngineCallbacks cb;
  int64_t streamed = 0, completed = 0, steps = 0;
  std::map<std::pair<int, int>, std::vector<int32_t>> seen;
  cb.on_token = [&](const Completion& c, int32_t t) {
    streamed++;
    seen[{c.request_index, c.sample_index}].push_back(t);
    EXPECT_EQ(c.tokens.back(), t);
  };
  cb.on_complete = [&](const Completion&) { completed++; };
  cb.on_step = [&](const EngineStats&) { steps++; };
  EngineOptions opt;
  opt.max_slots = 3;
  EngineStats st;
  const auto out = generate(*m, reqs, opt, cb, &st);
  int64_t total = 0;
  for (const auto& c : out) {
    total += int64_t(c.tokens.size());
    EXPECT_EQ(seen[std::make_pair(c.request_index, c.sample_index)], c.tokens);
  }
  EXPECT_EQ(streamed, total);
  EXPECT_EQ(st.generated_tokens, total);
  EXPECT_EQ(completed, int64_t(out.size()));
  EXPECT_EQ(steps, st.decode_steps + st.prefill_batches);
  EXPECT_NE(describe(st).find(std::to_string(total) + " tokens"), std::string::npos) << describe(st);
}

TEST(Engine, ReadsWeightsInPlaceAcrossCalls) {
  auto m = tiny_model(8);
  GenerationRequest r;
  r.prompt = random_prompt(5, 60, m->config().vocab_size);
  r.params.temperature = 0.0f;
  r.params.max_new_tokens = 10;
  r.params.ignore_eos = true;
  Engine engine(*m, EngineOptions{});
  const auto before = engine.generate({r})[0].tokens;
  // An "optimizer step": new weights in the same buffer. The same engine must see them.
  randomize(*m, 999);
  const auto after = engine.generate({r})[0].tokens;
  auto fresh = tiny_model(999);
  EXPECT_EQ(after, generate(*fresh, {r}, EngineOptions{})[0].tokens);
  EXPECT_NE(before, after);
}

TEST(Engine, RejectsBadRequestsNamingTheRequest) {
  auto m = tiny_model(9);
  const int V = m->config().vocab_size;
  auto expect_error = [&](GenerationRequest bad, const std::string& needle, EngineOptions opt = {}) {
    GenerationRequest ok;
    ok.prompt = {1, 2, 3};
    ok.params.max_new_tokens = 2;
    try {
      generate(*m, {ok, bad}, opt);
      ADD_FAILURE() << "accepted a request that should fail with '" << needle << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("request 1"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  GenerationRequest r;
  expect_error(r, "'prompt'");  // empty
  r.prompt = {1, V, 2};
  expect_error(r, "outside the vocabulary");
  r.prompt = {1, 2};
  r.n = 0;
  expect_error(r, "'n'");
  r.n = 1;
  r.params.stop = {"</answer>"};
  expect_error(r, "detokenize");
  r.params.stop.clear();
  r.params.top_p = 1.5f;
  expect_error(r, "'top_p'");
  r.params.top_p = 1.0f;
  r.prompt = random_prompt(40, 1, V);
  EngineOptions small;
  small.max_total_tokens = 32;
  expect_error(r, "max_total_tokens", small);
  EngineOptions pool;
  pool.kv_pages = 2;
  pool.page_size = 4;
  r.params.max_new_tokens = 20;
  expect_error(r, "KV pages", pool);
}

}  // namespace
}  // namespace r1::gen
