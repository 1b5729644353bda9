#include "rl/grpo_loss.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace r1::rl {

Aggregation parse_aggregation(const std::string& name) {
  if (name == "seq_mean_token_mean") return Aggregation::SeqMeanTokenMean;
  if (name == "token_mean") return Aggregation::TokenMean;
  if (name == "seq_mean_token_sum") return Aggregation::SeqMeanTokenSum;
  if (name == "seq_mean_token_sum_norm") return Aggregation::SeqMeanTokenSumNorm;
  throw Error("unknown loss aggregation '" + name +
              "' (expected seq_mean_token_mean, token_mean, seq_mean_token_sum or seq_mean_token_sum_norm)");
}

const char* aggregation_name(Aggregation a) {
  switch (a) {
    case Aggregation::SeqMeanTokenMean: return "seq_mean_token_mean";
    case Aggregation::TokenMean: return "token_mean";
    case Aggregation::SeqMeanTokenSum: return "seq_mean_token_sum";
    case Aggregation::SeqMeanTokenSumNorm: return "seq_mean_token_sum_norm";
  }
  return "?";
}

PolicyLossOutput policy_loss(const PolicyLossInput& in, const PolicyLossConfig& cfg) {
  const size_t n = in.logp.size();
  R1_CHECK(in.logp_old.size() == n && in.advantage.size() == n && in.seq.size() == n, "per-token arrays differ in length");
  R1_CHECK(cfg.beta == 0 || in.logp_ref.size() == n, "beta > 0 needs reference log-probabilities");
  R1_CHECK(cfg.entropy_coef == 0 || in.entropy.size() == n, "an entropy bonus needs per-token entropies");
  if (cfg.aggregation == Aggregation::SeqMeanTokenSumNorm && cfg.max_len <= 0)
    throw Error("loss aggregation seq_mean_token_sum_norm needs max_len > 0 (the generation length limit)");

  std::vector<int64_t> seq_len(size_t(std::max(in.num_seqs, 0)), 0);
  for (int32_t s : in.seq) {
    R1_CHECK(s >= 0 && s < in.num_seqs, "token's sequence index out of range");
    seq_len[size_t(s)]++;
  }
  // weight[t] = d(aggregate)/d(l_t): the aggregation is linear in the token losses.
  const double N = std::max(in.num_seqs, 1);
  auto weight = [&](size_t t) -> double {
    switch (cfg.aggregation) {
      case Aggregation::SeqMeanTokenMean: return 1.0 / (N * double(seq_len[size_t(in.seq[t])]));
      case Aggregation::TokenMean: return 1.0 / double(std::max<size_t>(n, 1));
      case Aggregation::SeqMeanTokenSum: return 1.0 / N;
      case Aggregation::SeqMeanTokenSumNorm: return 1.0 / (N * double(cfg.max_len));
    }
    return 0;
  };

  PolicyLossOutput out;
  out.dlogp.assign(n, 0.0f);
  if (cfg.entropy_coef != 0) out.dentropy.assign(n, 0.0f);
  double clipped = 0, kl_sum = 0, ratio_sum = 0, ent_sum = 0;
  for (size_t t = 0; t < n; t++) {
    const double A = in.advantage[t];
    const double r = std::exp(double(in.logp[t]) - double(in.logp_old[t]));
    const double rc = std::clamp(r, 1.0 - cfg.eps_low, 1.0 + cfg.eps_high);
    const double unclipped = r * A, clipped_term = rc * A;
    // The min picks the clipped term only when it is strictly smaller; then the ratio sits outside the trust
    // region on the side the advantage pushes toward, and the token contributes no policy gradient.
    const bool use_clipped = clipped_term < unclipped;
    double loss_t = -(use_clipped ? clipped_term : unclipped);
    double dl_dlogp = use_clipped ? 0.0 : -A * r;
    clipped += use_clipped;
    ratio_sum += r;
    if (cfg.beta != 0) {
      const double d = double(in.logp_ref[t]) - double(in.logp[t]);
      const double kl = std::exp(d) - d - 1.0;
      loss_t += cfg.beta * kl;
      dl_dlogp += cfg.beta * (1.0 - std::exp(d));
      kl_sum += kl;
    }
    if (cfg.entropy_coef != 0) {
      loss_t -= cfg.entropy_coef * in.entropy[t];
      ent_sum += in.entropy[t];
    }
    const double w = weight(t);
    out.loss += w * loss_t;
    out.dlogp[t] = float(w * dl_dlogp);
    if (cfg.entropy_coef != 0) out.dentropy[t] = float(-w * cfg.entropy_coef);
  }
  if (n > 0) {
    out.clip_fraction = clipped / double(n);
    out.kl_mean = kl_sum / double(n);
    out.ratio_mean = ratio_sum / double(n);
    out.entropy_mean = ent_sum / double(n);
  }
  return out;
}

}  // namespace r1::rl
