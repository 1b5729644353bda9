// The GRPO family's policy loss on per-token log-probabilities, with its exact gradient.
//
// For response i of a group and its token t, with ratio r = exp(logp - logp_old) against the policy that
// sampled it and advantage A_i (see advantages.h):
//   surrogate  s_t  = min(r A, clip(r, 1 - eps_low, 1 + eps_high) A)
//   KL (k3)    kl_t = exp(ref - logp) - (ref - logp) - 1          (Schulman's unbiased, low-variance estimator)
//   token loss l_t  = -s_t + beta * kl_t - entropy_coef * H_t
// aggregated over the minibatch by `aggregation`:
//   seq_mean_token_mean      (1/N) sum_i (1/|o_i|) sum_t l        — the GRPO paper (DeepSeekMath, R1)
//   token_mean               sum_{i,t} l / sum_i |o_i|            — DAPO (verl's default)
//   seq_mean_token_sum       (1/N) sum_i sum_t l
//   seq_mean_token_sum_norm  sum_{i,t} l / (N * max_len)          — Dr. GRPO (max_len: the generation limit)
// The gradient is returned per token with respect to logp (and entropy); the model's backward takes it from there.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace r1::rl {

enum class Aggregation { SeqMeanTokenMean, TokenMean, SeqMeanTokenSum, SeqMeanTokenSumNorm };
Aggregation parse_aggregation(const std::string& name);  // "seq_mean_token_mean", "token_mean", ...
const char* aggregation_name(Aggregation a);

struct PolicyLossConfig {
  double eps_low = 0.2, eps_high = 0.2;
  double beta = 0.0;          // KL coefficient; 0 skips the reference policy entirely
  double entropy_coef = 0.0;  // entropy bonus
  Aggregation aggregation = Aggregation::SeqMeanTokenMean;
  int max_len = 0;            // for SeqMeanTokenSumNorm: the generation length limit
};

// Per-token inputs of one minibatch; tokens of one response are contiguous and `seq` says whose they are.
struct PolicyLossInput {
  std::vector<float> logp, logp_old, logp_ref, entropy;  // logp_ref only when beta > 0, entropy only when coef > 0
  std::vector<float> advantage;                          // per token (the response's advantage)
  std::vector<int32_t> seq;                              // response index of each token, 0..num_seqs-1
  int num_seqs = 0;
};

struct PolicyLossOutput {
  double loss = 0;
  std::vector<float> dlogp, dentropy;  // d loss / d logp and d loss / d entropy per token
  // Diagnostics (token means): fraction of tokens whose gradient the clip removed, KL, ratio.
  double clip_fraction = 0, kl_mean = 0, ratio_mean = 0, entropy_mean = 0;
};

PolicyLossOutput policy_loss(const PolicyLossInput& in, const PolicyLossConfig& config);

}  // namespace r1::rl
