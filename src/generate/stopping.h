// When a sequence stops, and which random number its next token draws — the rules every rollout engine (CPU and
// GPU) applies identically, so their completions can be compared token for token.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_set>
#include <vector>

#include "generate/types.h"

namespace r1::gen {

using Detokenizer = std::function<std::string(const std::vector<int32_t>&)>;

// Why a completion ends now that `tokens` ends with its newest token: "eos" (an EOS id unless ignore_eos, or one
// of the request's stop_token_ids), "stop" (a stop string appears in the decoded tail), "length" (allowed_new
// tokens generated), or nullptr to keep going. Stop strings need `detokenize`.
const char* finish_reason(const SamplingParams& params, const std::unordered_set<int32_t>& eos_ids,
                          const std::vector<int32_t>& tokens, int allowed_new, const Detokenizer& detokenize);

// The uniform that sample `sample_index` of request q draws for its token number `step` (0 for greedy).
double draw_uniform(const GenerationRequest& q, int sample_index, size_t step);

}  // namespace r1::gen
