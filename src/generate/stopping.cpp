#include "generate/stopping.h"

#include <algorithm>

namespace r1::gen {

namespace {

bool hits_stop_string(const std::vector<std::string>& stop, const std::vector<int32_t>& tokens,
                      const Detokenizer& detokenize) {
  if (stop.empty()) return false;
  // A stop string that completes with this token lies within the last (longest stop string + margin) tokens:
  // every token decodes to at least one byte except special tokens, which the margin covers.
  size_t longest = 0;
  for (const auto& s : stop) longest = std::max(longest, s.size());
  const size_t w = std::min(tokens.size(), longest + 8);
  const std::string tail = detokenize(std::vector<int32_t>(tokens.end() - long(w), tokens.end()));
  for (const auto& s : stop)
    if (tail.find(s) != std::string::npos) return true;
  return false;
}

}  // namespace

const char* finish_reason(const SamplingParams& p, const std::unordered_set<int32_t>& eos_ids,
                          const std::vector<int32_t>& tokens, int allowed_new, const Detokenizer& detokenize) {
  const int32_t token = tokens.back();
  const bool is_eos = (!p.ignore_eos && eos_ids.count(token)) ||
                      std::find(p.stop_token_ids.begin(), p.stop_token_ids.end(), token) != p.stop_token_ids.end();
  if (is_eos) return "eos";
  if (hits_stop_string(p.stop, tokens, detokenize)) return "stop";
  if (int(tokens.size()) >= allowed_new) return "length";
  return nullptr;
}

double draw_uniform(const GenerationRequest& q, int sample_index, size_t step) {
  const uint64_t stream = uint64_t(q.first_sample) + uint64_t(sample_index);
  return q.params.greedy() ? 0.0 : sampling_uniform(q.seed, stream, step);
}

}  // namespace r1::gen
