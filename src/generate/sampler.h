// Token sampler: temperature, top-k, top-p (nucleus) and greedy decoding over one row of logits.
//
// For every sampled token it returns two log-probabilities:
//   logprob           log softmax(logits)[token]            — the unmodified policy (temperature 1, no
//                                                             truncation): what GRPO's importance ratio needs;
//   sampling_logprob  log q(token), q the distribution actually sampled from (after temperature, top-k and
//                     top-p, renormalised); 0 for greedy, whose q puts all mass on the argmax.
//
// Randomness is one uniform per sampled token, a pure function of (seed, stream, step) through Philox, so a
// sequence's samples do not depend on which other sequences share its batch (and the GPU can draw the same
// numbers). Inverse-CDF sampling over a canonical token order makes the draw reproducible.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace r1::gen {

struct SamplingParams {
  float temperature = 1.0f;  // <= 0: greedy
  int top_k = 0;             // 0: off; otherwise keep the k most probable tokens
  float top_p = 1.0f;        // 1: off; otherwise the smallest prefix of tokens (by probability) with mass >= top_p
  int max_new_tokens = 256;
  std::vector<std::string> stop;        // stop strings, matched in the detokenized completion
  std::vector<int32_t> stop_token_ids;  // finish (reason "eos") on these ids as well as the engine's EOS ids
  bool ignore_eos = false;              // keep going past the EOS ids (stop_token_ids still apply)

  bool greedy() const { return temperature <= 0.0f; }
};

// Throws r1::Error naming `where` and the offending field (e.g. "request 3: field 'top_p': ...").
void validate_sampling_params(const SamplingParams& p, const std::string& where);

struct SampledToken {
  int32_t token = -1;
  float logprob = 0;           // under softmax(logits), temperature 1
  float sampling_logprob = 0;  // under the distribution sampled from
};

// The uniform in [0, 1) used for sampled token number `step` of the sequence (seed, stream): Philox block
// (step, stream) under key seed, so draws are independent across streams and need no state.
double sampling_uniform(uint64_t seed, uint64_t stream, uint64_t step);

// log sum_v exp(logits[v]), accumulated in double.
double log_sum_exp(const float* logits, int vocab);

// A Sampler owns scratch buffers (one per thread); sample() is deterministic given (logits, params, u).
class Sampler {
 public:
  SampledToken sample(const float* logits, int vocab, const SamplingParams& params, double u);

  // The sampling distribution q over the vocabulary (zeros outside the kept set), for tests and diagnostics.
  std::vector<double> distribution(const float* logits, int vocab, const SamplingParams& params);

 private:
  // Fills kept_ (token ids in canonical order) and weight_ (unnormalised q) and returns their sum.
  double build(const float* logits, int vocab, const SamplingParams& params);

  std::vector<int32_t> order_;  // candidate ids
  std::vector<double> weight_;  // sampling_weight((logit - max) / T) (float32 exp) per candidate in order_
  int kept_ = 0;                // q is supported on order_[0 .. kept_)
};

}  // namespace r1::gen
