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
#include "generate/rollout_engine.h"
#include "generate/sampler.h"
#include "generate/types.h"
#include "model/transformer.h"

namespace r1::gen {

class Engine final : public RolloutEngine {
 public:
  // Reads model's weights in place on every call: keep the model alive and do not resize it.
  Engine(const Transformer& model, EngineOptions options);
  ~Engine();

  // Completions ordered by (request_index, sample_index). Throws r1::Error naming the request for bad
  // input (empty prompt, prompt longer than max_total_tokens, token outside the vocabulary, bad params).
  std::vector<Completion> generate(const std::vector<GenerationRequest>& requests,
                                   const EngineCallbacks& callbacks = {}) override;
  // Statistics of the last generate() call.
  const EngineStats& stats() const override { return stats_; }
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
