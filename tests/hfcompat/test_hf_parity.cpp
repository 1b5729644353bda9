// Hugging Face parity of the float32 CPU engine: each checkpoint in tests/fixtures/hf was built and saved by
// transformers (bench/hf_compat/make_fixtures.py), which also recorded its logits, per-token log-probs and
// entropies, a cross-entropy loss and that loss's gradient for every parameter. We load the directory with our
// own config parser and safetensors loader, run the same sequences PACKED into one batch (transformers ran them
// one by one), and require:
//   logits, log-probs, entropies   max |ours - ref| / max |ref|                    <= 1e-4
//   loss                           |ours - ref| / |ref|                            <= 1e-5
//   gradient of every tensor       ||g - g_ref|| / ||g_ref||                       <= 1e-3   and
//                                  max |g - g_ref| / max |g_ref|                   <= 1e-3
// The tests skip while the fixtures do not exist yet (they are generated on the GPU machine).
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <set>

#include "backend/cpu/ops.h"
#include "hf_fixture.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/safetensors.h"

namespace r1::test {
namespace {

constexpr double kLogitTol = 1e-4;
constexpr double kLossTol = 1e-5;
constexpr double kGradTol = 1e-3;
// A tensor whose reference gradient norm is below this fraction of the whole gradient's norm is compared
// against that floor instead of its own (near-zero) norm.
constexpr double kGradNormFloor = 1e-6;

class HfParity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto f = load_hf_fixture(GetParam());
    if (HasFailure()) GTEST_FAIL() << "manifest does not describe " << GetParam();
    if (!f)
      GTEST_SKIP() << "no fixture " << GetParam() << " in " << (hf_fixture_root() / "manifest.json")
                   << " yet: generate it with bench/hf_compat/make_fixtures.py (needs transformers)";
    fx_ = std::move(*f);
    config_ = load_model_config((fx_.dir / "config.json").string());
    model_ = std::make_unique<Transformer>(config_);
    load_hf_weights(fx_.dir.string(), model_->layout(), model_->params());
    model_->reserve(fx_.num_tokens());
  }

  SafetensorsFile reference() const { return SafetensorsFile::open((fx_.dir / "reference.safetensors").string()); }
  std::vector<float> read(const SafetensorsFile& f, const std::string& name, const Shape& shape) const {
    std::vector<float> v(size_t(shape.numel()));
    f.read_f32(name, shape, v.data());
    return v;
  }

  HfFixture fx_;
  ModelConfig config_;
  std::unique_ptr<Transformer> model_;
};

TEST_P(HfParity, ConfigReadsAsTransformersBuiltIt) {
  const auto& e = fx_.config_expect;
  SCOPED_TRACE("rope keys transformers wrote: " + e["config_json_rope_keys"].dump());
  EXPECT_EQ(config_.model_type, e["model_type"].get<std::string>());
  EXPECT_EQ(config_.vocab_size, e["vocab_size"].get<int>());
  EXPECT_EQ(config_.hidden_size, e["hidden_size"].get<int>());
  EXPECT_EQ(config_.intermediate_size, e["intermediate_size"].get<int>());
  EXPECT_EQ(config_.num_hidden_layers, e["num_hidden_layers"].get<int>());
  EXPECT_EQ(config_.num_attention_heads, e["num_attention_heads"].get<int>());
  EXPECT_EQ(config_.num_key_value_heads, e["num_key_value_heads"].get<int>());
  EXPECT_EQ(config_.head_dim, e["head_dim"].get<int>());
  EXPECT_FLOAT_EQ(config_.rms_norm_eps, e["rms_norm_eps"].get<float>());
  EXPECT_FLOAT_EQ(config_.rope_theta, e["rope_theta"].get<float>()) << "RoPE base misread";
  EXPECT_EQ(config_.tie_word_embeddings, e["tie_word_embeddings"].get<bool>());
  EXPECT_EQ(config_.attention_bias, e["attention_bias"].get<bool>());
  if (e.contains("mlp_bias")) {  // recorded by manifests since llama3_bias
    EXPECT_EQ(config_.mlp_bias, e["mlp_bias"].get<bool>());
  }
  const auto& rs = e["rope_scaling"];
  if (rs.is_null()) {
    EXPECT_EQ(config_.rope_scaling.type, "");
  } else {
    EXPECT_EQ(config_.rope_scaling.type, rs["rope_type"].get<std::string>()) << "RoPE scaling misread";
    EXPECT_FLOAT_EQ(config_.rope_scaling.factor, rs["factor"].get<float>());
    EXPECT_FLOAT_EQ(config_.rope_scaling.low_freq_factor, rs["low_freq_factor"].get<float>());
    EXPECT_FLOAT_EQ(config_.rope_scaling.high_freq_factor, rs["high_freq_factor"].get<float>());
    EXPECT_EQ(config_.rope_scaling.original_max_position_embeddings, rs["original_max_position_embeddings"].get<int>());
  }
}

// transformers' trainable parameters (the names its backward produced gradients for) are exactly our layout's.
TEST_P(HfParity, ParameterNamesEqualTransformersParameters) {
  std::set<std::string> ours, theirs(fx_.grad_names.begin(), fx_.grad_names.end());
  for (const auto& p : model_->layout().params()) ours.insert(p.hf_name);
  EXPECT_EQ(ours, theirs);
  EXPECT_EQ(model_->num_params(), count_parameters(config_));
}

TEST_P(HfParity, LogitsMatchTransformers) {
  const PackedBatch batch = fx_.all_targets_batch();
  model_->forward(batch);
  const int T = batch.num_tokens(), H = config_.hidden_size, V = config_.vocab_size;
  std::vector<float> logits(size_t(T) * V);
  cpu::lm_head_logits(logits.data(), model_->hidden(), model_->params() + model_->layout().lm_head, T, H, V);
  const auto ref = read(reference(), "logits", Shape{T, V});
  const double err = max_abs_rel(logits.data(), ref.data(), logits.size());
  std::printf("[ parity ] %-14s logits      max-abs-rel %.3g (T %d, V %d)\n", GetParam().c_str(), err, T, V);
  EXPECT_LE(err, kLogitTol);
  // Per sequence too: a wrong position restart would show in the later sequences only.
  for (int s = 0; s < batch.num_sequences(); s++) {
    const size_t b = size_t(batch.cu_seqlens[s]) * V, n = size_t(batch.cu_seqlens[s + 1] - batch.cu_seqlens[s]) * V;
    EXPECT_LE(max_abs_rel(logits.data() + b, ref.data() + b, n), kLogitTol) << "sequence " << s;
  }
}

TEST_P(HfParity, LogprobsAndEntropiesMatchTransformers) {
  const PackedBatch batch = fx_.all_targets_batch();
  const int T = batch.num_tokens();
  std::vector<uint8_t> has_target(static_cast<size_t>(T));
  for (int t = 0; t < T; t++) has_target[t] = batch.targets[t] >= 0;
  const SafetensorsFile ref = reference();
  model_->forward(batch);
  for (const bool tempered : {false, true}) {
    const float inv_t = tempered ? 1.0f / fx_.temperature : 1.0f;
    std::vector<float> lp(static_cast<size_t>(T)), ent(static_cast<size_t>(T));
    model_->head_forward(batch, lp.data(), ent.data(), inv_t);
    const auto ref_lp = read(ref, tempered ? "logprobs_temp" : "logprobs", Shape{T});
    const auto ref_ent = read(ref, tempered ? "entropy_temp" : "entropy", Shape{T});
    const double e_lp = max_abs_rel(lp.data(), ref_lp.data(), size_t(T), has_target.data());
    const double e_ent = max_abs_rel(ent.data(), ref_ent.data(), size_t(T), has_target.data());
    std::printf("[ parity ] %-14s T=%.2f      logprob max-abs-rel %.3g, entropy %.3g\n", GetParam().c_str(),
                1.0 / inv_t, e_lp, e_ent);
    EXPECT_LE(e_lp, kLogitTol) << "temperature " << 1.0 / inv_t;
    EXPECT_LE(e_ent, kLogitTol) << "temperature " << 1.0 / inv_t;
  }
}

TEST_P(HfParity, LossMatchesTransformers) {
  const PackedBatch batch = fx_.loss_batch();
  int n = 0;
  for (int32_t t : batch.targets) n += t >= 0;
  ASSERT_EQ(n, fx_.num_loss_targets) << "loss masks read differently from the manifest";
  const double loss = model_->cross_entropy_step(batch, false);
  const double err = std::fabs(loss - fx_.loss) / std::fabs(fx_.loss);
  std::printf("[ parity ] %-14s loss        %.7f vs %.7f, rel %.3g\n", GetParam().c_str(), loss, fx_.loss, err);
  EXPECT_LE(err, kLossTol);
}

// The gradient of the masked mean cross-entropy for EVERY parameter (a tied embedding's includes the head's
// contribution, as in transformers where lm_head.weight is the same tensor). The head runs in chunks of 5
// tokens so the chunked backward crosses chunk boundaries.
TEST_P(HfParity, GradientsOfEveryParameterMatchTransformers) {
  const PackedBatch batch = fx_.loss_batch();
  model_->set_head_chunk(5);
  model_->zero_grads();
  model_->cross_entropy_step(batch, true);
  const SafetensorsFile ref = SafetensorsFile::open((fx_.dir / "grads.safetensors").string());
  double global2 = 0;
  std::vector<std::vector<float>> refs;
  for (const auto& p : model_->layout().params()) {
    refs.push_back(read(ref, p.hf_name, p.shape));
    for (float g : refs.back()) global2 += double(g) * g;
  }
  const double floor = kGradNormFloor * std::sqrt(global2);
  double worst_l2 = 0, worst_max = 0;
  std::string worst_name;
  for (size_t i = 0; i < refs.size(); i++) {
    const ParamInfo& p = model_->layout().params()[i];
    const float* g = model_->grads() + p.offset;
    const double l2 = rel_l2(g, refs[i].data(), refs[i].size(), floor);
    const double mx = max_abs_rel(g, refs[i].data(), refs[i].size());
    EXPECT_LE(l2, kGradTol) << p.hf_name;
    EXPECT_LE(mx, kGradTol) << p.hf_name;
    if (l2 > worst_l2) worst_l2 = l2, worst_name = p.hf_name;
    worst_max = std::max(worst_max, mx);
  }
  std::printf("[ parity ] %-14s gradients   %zu tensors, worst rel-L2 %.3g (%s), worst max-abs-rel %.3g\n",
              GetParam().c_str(), refs.size(), worst_l2, worst_name.c_str(), worst_max);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, HfParity, ::testing::ValuesIn(hf_fixture_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace r1::test
