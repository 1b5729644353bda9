// RolloutEngine: batched generation on whatever device holds the model. gen::Engine is the CPU one (the
// reference); the CUDA one (src/generate/cuda/) keeps the paged KV cache in GPU memory. Both read the model's
// live weights on every call, so a trainer builds its engine once and generates after each optimizer step.
//
// make_engine picks the implementation from the model's device; GPU backends register their factory at
// startup (the CLI does it when the CUDA backend was compiled in).
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "generate/sampler.h"
#include "generate/types.h"
#include "model/trainable_model.h"

namespace r1::gen {

class RolloutEngine {
 public:
  virtual ~RolloutEngine() = default;
  // Completions ordered by (request_index, sample_index). Throws r1::Error naming the request for bad input.
  virtual std::vector<Completion> generate(const std::vector<GenerationRequest>& requests,
                                           const EngineCallbacks& callbacks = {}) = 0;
  // Statistics of the last generate() call.
  virtual const EngineStats& stats() const = 0;
};

using EngineFactory = std::function<std::unique_ptr<RolloutEngine>(TrainableModel& model, const EngineOptions& options)>;
void register_engine_factory(Device device, EngineFactory factory);
// The engine for model's device (the CPU engine needs the model to be a Transformer).
std::unique_ptr<RolloutEngine> make_engine(TrainableModel& model, const EngineOptions& options);

}  // namespace r1::gen
