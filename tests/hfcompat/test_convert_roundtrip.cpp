// Our save/load is bit-exact, and `r1 convert` writes a complete Hugging Face directory holding exactly the
// weights it was given: f32 round trips are identical bit for bit, bf16 stores round-to-nearest-even values
// that reload and re-save unchanged, converting a converted model reproduces the same bytes, and the
// transformers-made fixtures survive convert unchanged. (The transformers half of r1 -> transformers -> r1 runs
// on the GPU machine: bench/hf_compat/check_roundtrip.py.)
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "hf_fixture.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/param_layout.h"
#include "model/safetensors.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/tokenizer.h"

namespace r1::test {
namespace {

// A Llama-3-shaped model unlike the built-ins: untied head, llama3 RoPE scaling, head_dim 128 with GQA 2.
ModelConfig llama3_config() {
  ModelConfig c;
  c.model_type = "llama";
  c.vocab_size = 96, c.hidden_size = 32, c.intermediate_size = 48, c.num_hidden_layers = 2;
  c.num_attention_heads = 2, c.num_key_value_heads = 1, c.head_dim = 128, c.max_position_embeddings = 64;
  c.rms_norm_eps = 1e-5f, c.rope_theta = 500000.0f;
  c.rope_scaling = {"llama3", 8.0f, 1.0f, 4.0f, 32};
  c.tie_word_embeddings = false;
  c.bos_token_id = 1, c.eos_token_ids = {2, 3};
  validate_model_config(c, "llama3_config()");
  return c;
}

std::vector<float> random_params(const ModelConfig& c, uint64_t seed) {
  const ParamLayout layout(c);
  std::vector<float> p(size_t(layout.total()));
  init_params(c, layout, p.data(), seed);
  // init_params leaves norms at 1 and biases at 0: perturb every element so that a swapped or skipped tensor
  // cannot go unnoticed.
  for (size_t i = 0; i < p.size(); i++) p[i] += 1e-3f * float(int(i % 97) - 48);
  return p;
}

std::vector<float> load_params(const fs::path& dir, const ModelConfig& c) {
  const ParamLayout layout(c);
  std::vector<float> p(size_t(layout.total()), -7.0f);
  load_hf_weights(dir.string(), layout, p.data());
  return p;
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// bf16 by round-to-nearest-even on the float32 bits (no NaNs here), written independently of core/dtype.
float round_bf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  u = (u + 0x7FFFu + ((u >> 16) & 1u)) & 0xFFFF0000u;
  float r;
  std::memcpy(&r, &u, 4);
  return r;
}

class SaveLoad : public ::testing::TestWithParam<std::string> {
 protected:
  ModelConfig config() const { return GetParam() == "llama3" ? llama3_config() : builtin_model_config(GetParam()); }
};

TEST_P(SaveLoad, Float32RoundTripIsBitExactAndResaveIsByteIdentical) {
  const ModelConfig c = config();
  const auto params = random_params(c, 5);
  ScratchDir dir("f32");
  save_hf_checkpoint((dir / "a").string(), c, ParamLayout(c), params.data());
  EXPECT_EQ(load_model_config((dir / "a" / "config.json").string()), c);
  const auto loaded = load_params(dir / "a", c);
  EXPECT_TRUE(bitwise_equal(loaded, params));
  save_hf_checkpoint((dir / "b").string(), c, ParamLayout(c), loaded.data());
  EXPECT_EQ(read_file_bytes(dir / "a" / "model.safetensors"), read_file_bytes(dir / "b" / "model.safetensors"));
  EXPECT_EQ(read_file_bytes(dir / "a" / "config.json"), read_file_bytes(dir / "b" / "config.json"));
}

TEST_P(SaveLoad, Bf16StoresNearestEvenValuesThatResaveUnchanged) {
  const ModelConfig c = config();
  const auto params = random_params(c, 6);
  ScratchDir dir("bf16");
  save_hf_checkpoint((dir / "a").string(), c, ParamLayout(c), params.data(), DType::BF16);
  EXPECT_EQ(load_model_config((dir / "a" / "config.json").string()).torch_dtype, "bfloat16");
  const auto loaded = load_params(dir / "a", c);
  size_t wrong = 0;
  for (size_t i = 0; i < params.size(); i++) wrong += loaded[i] != round_bf16(params[i]);
  EXPECT_EQ(wrong, 0u) << "values not rounded to nearest even bf16";
  save_hf_checkpoint((dir / "b").string(), c, ParamLayout(c), loaded.data(), DType::BF16);
  EXPECT_EQ(read_file_bytes(dir / "a" / "model.safetensors"), read_file_bytes(dir / "b" / "model.safetensors"));
  // Widening back to float32 is exact: the f32 file of the bf16 values holds the same numbers.
  save_hf_checkpoint((dir / "c").string(), c, ParamLayout(c), loaded.data(), DType::F32);
  EXPECT_TRUE(bitwise_equal(load_params(dir / "c", c), loaded));
}

INSTANTIATE_TEST_SUITE_P(Models, SaveLoad, ::testing::Values("tiny", "llama3"));

// ---- the r1 binary: `r1 convert` and `r1 debug-forward` ----

class ConvertCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(R1_BINARY_PATH)) GTEST_SKIP() << "the r1 binary is not built (" << R1_BINARY_PATH << ")";
  }
  // Runs `r1 <args>`; returns its exit status, output in `log`.
  int r1(const std::string& args, const fs::path& log) const {
    const std::string cmd = std::string(R1_BINARY_PATH) + " " + args + " > " + log.string() + " 2>&1";
    const int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }
};

TEST_F(ConvertCommand, BuiltinModelBecomesCompleteHfDirectoryWithItsWeights) {
  ScratchDir dir("builtin");
  // A tokenizer.json alone (no tokenizer_config.json): convert must write a tokenizer_config.json for it.
  BpeTrainerOptions opts;
  opts.vocab_size = 300;
  const std::vector<std::string> docs = {"the cat sat on the mat", "12 + 34 = 46", "<think>so the answer is</think>"};
  const BpeTrainingResult tok = train_bpe(docs, opts);
  fs::create_directories(dir / "tok");
  std::ofstream(dir / "tok" / "tokenizer.json") << tok.tokenizer_json;

  const fs::path out = dir / "model";
  ASSERT_EQ(r1("convert --model tiny --seed 7 --tokenizer " + (dir / "tok").string() + " --output " + out.string(),
               dir / "log"),
            0)
      << read_file_bytes(dir / "log");
  for (const char* f :
       {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"})
    EXPECT_TRUE(fs::is_regular_file(out / f)) << f;
  const ModelConfig c = builtin_model_config("tiny");
  EXPECT_EQ(load_model_config((out / "config.json").string()), c);
  std::vector<float> want(size_t(ParamLayout(c).total()));
  init_params(c, ParamLayout(c), want.data(), 7);
  EXPECT_TRUE(bitwise_equal(load_params(out, c), want));
  EXPECT_EQ(read_file_bytes(out / "tokenizer.json"), tok.tokenizer_json);
  const auto tcfg = nlohmann::json::parse(read_file_bytes(out / "tokenizer_config.json"));
  EXPECT_EQ(tcfg["tokenizer_class"], "PreTrainedTokenizerFast");
  // Our own loader reads the exported tokenizer directory back.
  EXPECT_EQ(Tokenizer::from_dir(out.string()).vocab_size(), tok.vocab_size);

  // Refuses to overwrite a model without --overwrite, and converting a converted model is byte-identical.
  EXPECT_NE(r1("convert --model tiny --output " + out.string(), dir / "log2"), 0);
  EXPECT_NE(read_file_bytes(dir / "log2").find("--overwrite"), std::string::npos);
  ASSERT_EQ(r1("convert --model " + out.string() + " --output " + (dir / "again").string(), dir / "log3"), 0)
      << read_file_bytes(dir / "log3");
  for (const char* f :
       {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"})
    EXPECT_EQ(read_file_bytes(out / f), read_file_bytes(dir / "again" / f)) << f;
}

TEST_F(ConvertCommand, TokenizerLargerThanTheModelVocabularyIsRefused) {
  ScratchDir dir("bigtok");
  BpeTrainerOptions opts;
  opts.vocab_size = 600;  // the tiny model's vocabulary is 512
  opts.min_frequency = 1;
  std::string text;  // pseudo-random lowercase words: plenty of distinct pairs to merge
  uint32_t x = 12345;
  for (int i = 0; i < 3000; i++) {
    for (int k = 0; k < 6; k++) x = x * 1664525u + 1013904223u, text += char('a' + (x >> 24) % 26);
    text += ' ';
  }
  const BpeTrainingResult tok = train_bpe({text}, opts);
  ASSERT_GT(tok.vocab_size, 512);
  fs::create_directories(dir / "tok");
  std::ofstream(dir / "tok" / "tokenizer.json") << tok.tokenizer_json;
  EXPECT_NE(r1("convert --model tiny --tokenizer " + (dir / "tok").string() + " --output " + (dir / "m").string(),
               dir / "log"),
            0);
  EXPECT_NE(read_file_bytes(dir / "log").find("vocab_size"), std::string::npos) << read_file_bytes(dir / "log");
}

class ConvertFixture : public ConvertCommand, public ::testing::WithParamInterface<std::string> {};

// A checkpoint transformers wrote survives `r1 convert` bit for bit (f32), keeps transformers' generation
// config, and `r1 debug-forward` on the converted directory reproduces transformers' log-probs and loss.
TEST_P(ConvertFixture, TransformersCheckpointSurvivesConvertAndDebugForwardMatches) {
  const auto fx = load_hf_fixture(GetParam());
  if (HasFailure()) return;
  if (!fx) GTEST_SKIP() << "no HF fixtures yet (bench/hf_compat/make_fixtures.py)";
  ScratchDir dir("fixture");
  const fs::path out = dir / "model";
  ASSERT_EQ(r1("convert --model " + fx->dir.string() + " --output " + out.string(), dir / "log"), 0)
      << read_file_bytes(dir / "log");
  const ModelConfig c = load_model_config((fx->dir / "config.json").string());
  EXPECT_EQ(load_model_config((out / "config.json").string()), c);
  EXPECT_TRUE(bitwise_equal(load_params(out, c), load_params(fx->dir, c)));
  if (fs::exists(fx->dir / "generation_config.json")) {
    EXPECT_EQ(read_file_bytes(out / "generation_config.json"), read_file_bytes(fx->dir / "generation_config.json"));
  }

  std::string tokens;
  for (const auto& s : fx->sequences) {
    if (!tokens.empty()) tokens += ";";
    for (int32_t t : s) tokens += std::to_string(t) + " ";
  }
  ASSERT_EQ(r1("debug-forward --quiet --model " + out.string() + " --tokens \"" + tokens + "\" --output " +
                   (dir / "fwd.json").string(),
               dir / "log2"),
            0)
      << read_file_bytes(dir / "log2");
  const auto j = nlohmann::json::parse(read_file_bytes(dir / "fwd.json"));
  const SafetensorsFile ref = SafetensorsFile::open((fx->dir / "reference.safetensors").string());
  const int T = fx->num_tokens();
  std::vector<float> ref_lp(static_cast<size_t>(T));
  ref.read_f32("logprobs", Shape{T}, ref_lp.data());
  std::vector<float> ours, theirs;
  size_t t = 0;
  for (const auto& s : j["sequences"]) {
    for (const auto& v : s["logprobs"]) {
      if (!v.is_null()) ours.push_back(v.get<float>()), theirs.push_back(ref_lp[t]);
      t++;
    }
  }
  ASSERT_EQ(t, size_t(T));
  EXPECT_LE(max_abs_rel(ours.data(), theirs.data(), ours.size()), 1e-4);
  // The CLI's loss takes every next token as a target (no masks): compare with the reference log-probs' mean.
  double ref_loss = 0;
  for (float v : theirs) ref_loss -= v;
  ref_loss /= double(theirs.size());
  EXPECT_NEAR(j["loss"].get<double>(), ref_loss, 1e-5 * ref_loss);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ConvertFixture, ::testing::ValuesIn(hf_fixture_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace r1::test
