// HF checkpoint directories: save/load round trips (f32 exact, bf16 rounded), sharded indexes, and the
// state-dict checks — missing, misshapen, unexpected tensors and inconsistent indexes name file and tensor.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/param_layout.h"
#include "model/safetensors.h"
#include "model_test_util.h"

using namespace r1;
using namespace r1::test;

namespace {

ModelConfig untied_tiny() {
  ModelConfig c = builtin_model_config("tiny");
  c.tie_word_embeddings = false;
  return c;
}

// The model's tensors as TensorToWrite, optionally leaving one out.
std::vector<TensorToWrite> tensors_of(const HostModel& m, const std::string& skip = "", DType dtype = DType::F32) {
  std::vector<TensorToWrite> t;
  for (const auto& p : m.layout.params())
    if (p.hf_name != skip) t.push_back({p.hf_name, dtype, p.shape, m.params.data() + p.offset});
  return t;
}

// Writes the model as two shards (alternate tensors) plus an index.
void write_sharded(const fs::path& dir, const HostModel& m) {
  std::vector<TensorToWrite> first, second;
  nlohmann::json index = {{"metadata", {{"total_size", m.layout.total() * 4}}}};
  for (size_t i = 0; i < m.layout.params().size(); i++) {
    const auto& p = m.layout.params()[i];
    const bool a = i % 2 == 0;
    (a ? first : second).push_back({p.hf_name, DType::F32, p.shape, m.params.data() + p.offset});
    index["weight_map"][p.hf_name] = a ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  write_safetensors((dir / "model-00001-of-00002.safetensors").string(), first);
  write_safetensors((dir / "model-00002-of-00002.safetensors").string(), second);
  write_bytes(dir / "model.safetensors.index.json", index.dump(2));
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

}  // namespace

TEST(Safetensors, CheckpointSaveLoadRoundTripIsBitExact) {
  TempDir d("ckpt");
  for (const ModelConfig& c : {builtin_model_config("tiny"), untied_tiny()}) {
    const HostModel m(c);
    save_hf_checkpoint(d.path().string(), m.config, m.layout, m.params.data());
    EXPECT_TRUE(is_model_dir(d.path().string()));
    const ModelConfig back = load_model_config(d.str("config.json"));
    EXPECT_EQ(back, m.config);
    std::vector<float> q(m.params.size(), -1.0f);
    load_hf_weights(d.path().string(), ParamLayout(back), q.data());
    EXPECT_TRUE(same_bits(m.params, q));
    EXPECT_EQ(SafetensorsFile::open(d.str("model.safetensors")).metadata().at("format"), "pt");
    EXPECT_EQ(SafetensorsFile::open(d.str("model.safetensors")).has("lm_head.weight"), !c.tie_word_embeddings);
    EXPECT_FALSE(fs::exists(d / "config.json.tmp"));
    EXPECT_FALSE(fs::exists(d / "model.safetensors.tmp"));
  }
}

TEST(Safetensors, CheckpointSavedAsBf16LoadsTheRoundedWeights) {
  TempDir d("bf16");
  const HostModel m(builtin_model_config("tiny"));
  save_hf_checkpoint(d.path().string(), m.config, m.layout, m.params.data(), DType::BF16);
  EXPECT_EQ(load_model_config(d.str("config.json")).torch_dtype, "bfloat16");
  EXPECT_EQ(SafetensorsFile::open(d.str("model.safetensors")).entry("model.norm.weight").dtype, DType::BF16);
  EXPECT_EQ(fs::file_size(d / "model.safetensors") % 2, 0u);
  std::vector<float> q(m.params.size());
  load_hf_weights(d.path().string(), m.layout, q.data());
  for (size_t i = 0; i < q.size(); i++) ASSERT_EQ(q[i], bf16_to_f32(f32_to_bf16(m.params[i]))) << i;
  // And bf16 values survive a second bf16 save exactly.
  TempDir e("bf16b");
  save_hf_checkpoint(e.path().string(), m.config, m.layout, q.data(), DType::BF16);
  EXPECT_EQ(read_bytes(d / "model.safetensors"), read_bytes(e / "model.safetensors"));
}

TEST(Safetensors, ShardedIndexLoadsTheSameWeights) {
  TempDir d("sharded");
  const HostModel m(untied_tiny());
  write_sharded(d.path(), m);
  std::vector<float> q(m.params.size(), 0.0f);
  load_hf_weights(d.path().string(), m.layout, q.data());
  EXPECT_TRUE(same_bits(m.params, q));
}

TEST(Safetensors, SingleFileIsPreferredOverAnIndexLikeTransformers) {
  TempDir d("both");
  const HostModel a(builtin_model_config("tiny"), 1), b(builtin_model_config("tiny"), 2);
  write_sharded(d.path(), a);
  write_safetensors(d.str("model.safetensors"), tensors_of(b));
  std::vector<float> q(a.params.size());
  load_hf_weights(d.path().string(), b.layout, q.data());
  EXPECT_TRUE(same_bits(b.params, q));
}

TEST(Safetensors, MissingTensorIsAnErrorNamingItAndTheFile) {
  TempDir d("missing");
  const HostModel m(builtin_model_config("tiny"));
  write_safetensors(d.str("model.safetensors"), tensors_of(m, "model.norm.weight"));
  std::vector<float> q(m.params.size());
  const std::string msg = expect_error([&] { load_hf_weights(d.path().string(), m.layout, q.data()); },
                                       {"model.safetensors", "tensor 'model.norm.weight'", "missing"});
  EXPECT_EQ(msg.find("more"), std::string::npos) << msg;  // just the one
  // A config with more layers than the weights: the first missing tensor and how many others.
  ModelConfig deeper = m.config;
  deeper.num_hidden_layers = 3;
  write_safetensors(d.str("model.safetensors"), tensors_of(m));
  std::vector<float> r(size_t(ParamLayout(deeper).total()));
  expect_error(
      [&] { load_hf_weights(d.path().string(), ParamLayout(deeper), r.data()); },
      {"model.safetensors", "'model.layers.2.input_layernorm.weight'", "missing", "with 11 more", "config.json"});
}

TEST(Safetensors, UntiedConfigNeedsAnLmHead) {
  TempDir d("nohead");
  const HostModel tied(builtin_model_config("tiny"));
  write_safetensors(d.str("model.safetensors"), tensors_of(tied));
  const ParamLayout untied(untied_tiny());
  std::vector<float> q(size_t(untied.total()));
  expect_error([&] { load_hf_weights(d.path().string(), untied, q.data()); }, {"tensor 'lm_head.weight'", "missing"});
}

TEST(Safetensors, WrongShapeOnLoadIsAnErrorNamingBothShapes) {
  TempDir d("shape");
  const HostModel m(builtin_model_config("tiny"));
  write_safetensors(d.str("model.safetensors"), tensors_of(m));
  ModelConfig wider = m.config;
  wider.intermediate_size = 192;
  const ParamLayout L(wider);
  std::vector<float> q(size_t(L.total()));
  expect_error(
      [&] { load_hf_weights(d.path().string(), L, q.data()); },
      {"model.safetensors", "tensor 'model.layers.0.mlp.gate_proj.weight'", "[128, 64]", "expected [192, 64]"});
}

TEST(Safetensors, UnexpectedTensorIsAnError) {
  TempDir d("extra");
  const HostModel m(builtin_model_config("tiny"));
  auto t = tensors_of(m);
  t.push_back({"model.layers.9.mlp.gate_proj.weight", DType::F32, {2}, m.params.data()});
  write_safetensors(d.str("model.safetensors"), t);
  std::vector<float> q(m.params.size());
  expect_error([&] { load_hf_weights(d.path().string(), m.layout, q.data()); },
               {"model.safetensors", "tensor 'model.layers.9.mlp.gate_proj.weight'", "unexpected"});
  // Biases in the file but a config without them (llama): unexpected as well, not silently dropped.
  ModelConfig llama = m.config;
  llama.model_type = "llama", llama.attention_bias = false;
  write_safetensors(d.str("model.safetensors"), tensors_of(m));
  const ParamLayout L(llama);
  std::vector<float> r(size_t(L.total()));
  expect_error([&] { load_hf_weights(d.path().string(), L, r.data()); }, {"model.safetensors", ".bias'", "unexpected"});
}

TEST(Safetensors, HarmlessExtrasAreAccepted) {
  TempDir d("harmless");
  const HostModel m(builtin_model_config("tiny"));
  auto t = tensors_of(m);
  std::vector<float> inv_freq(8, 0.5f), head(size_t(512 * 64), 3.0f);
  t.push_back({"model.layers.0.self_attn.rotary_emb.inv_freq", DType::F32, {8}, inv_freq.data()});
  t.push_back({"lm_head.weight", DType::F32, {512, 64}, head.data()});  // a tied model: transformers ignores it
  write_safetensors(d.str("model.safetensors"), t);
  std::vector<float> q(m.params.size());
  load_hf_weights(d.path().string(), m.layout, q.data());
  EXPECT_TRUE(same_bits(m.params, q));  // the embedding, not the stray head, is the output matrix
}

TEST(Safetensors, InconsistentShardIndexesAreErrors) {
  const HostModel m(builtin_model_config("tiny"));
  std::vector<float> q(m.params.size());
  const std::string norm = "model.norm.weight";
  {  // the index names a shard that is not there
    TempDir d("noshard");
    write_sharded(d.path(), m);
    fs::remove(d / "model-00002-of-00002.safetensors");
    expect_error([&] { load_hf_weights(d.path().string(), m.layout, q.data()); },
                 {"model.safetensors.index.json", "weight_map.", "'model-00002-of-00002.safetensors' does not exist"});
  }
  {  // the index maps a tensor to a shard that lacks it
    TempDir d("lacks");
    write_sharded(d.path(), m);
    auto j = nlohmann::json::parse(read_bytes(d / "model.safetensors.index.json"));
    const std::string other = j["weight_map"][norm] == "model-00001-of-00002.safetensors"
                                  ? "model-00002-of-00002.safetensors"
                                  : "model-00001-of-00002.safetensors";
    j["weight_map"][norm] = other;
    write_bytes(d / "model.safetensors.index.json", j.dump());
    expect_error([&] { load_hf_weights(d.path().string(), m.layout, q.data()); },
                 {other, "tensor '" + norm + "'", "missing from this shard"});
  }
  {  // a shard holds a tensor the index does not list
    TempDir d("unlisted");
    write_sharded(d.path(), m);
    auto j = nlohmann::json::parse(read_bytes(d / "model.safetensors.index.json"));
    j["weight_map"].erase(norm);
    write_bytes(d / "model.safetensors.index.json", j.dump());
    expect_error([&] { load_hf_weights(d.path().string(), m.layout, q.data()); },
                 {"tensor '" + norm + "'", "does not list it"});
  }
  {  // malformed index files
    TempDir d("badindex");
    write_sharded(d.path(), m);
    write_bytes(d / "model.safetensors.index.json", "{\"weight_map\": ");
    expect_error([&] { load_hf_weights(d.path().string(), m.layout, q.data()); },
                 {"model.safetensors.index.json", "invalid JSON"});
    write_bytes(d / "model.safetensors.index.json", "{\"metadata\": {}}");
    expect_error([&] { load_hf_weights(d.path().string(), m.layout, q.data()); },
                 {"model.safetensors.index.json", "field 'weight_map'"});
    write_bytes(d / "model.safetensors.index.json", R"({"weight_map": {"model.norm.weight": 3}})");
    expect_error([&] { load_hf_weights(d.path().string(), m.layout, q.data()); },
                 {"model.safetensors.index.json", "field 'weight_map.model.norm.weight'", "file name"});
    write_bytes(d / "model.safetensors.index.json", R"({"weight_map": {"model.norm.weight": "../x.safetensors"}})");
    expect_error([&] { load_hf_weights(d.path().string(), m.layout, q.data()); },
                 {"model.safetensors.index.json", "not a plain file name"});
  }
}

TEST(Safetensors, DirectoriesWithoutWeightsAreErrors) {
  TempDir d("noweights");
  const ParamLayout L(builtin_model_config("tiny"));
  std::vector<float> q(size_t(L.total()));
  expect_error([&] { load_hf_weights(d.path().string(), L, q.data()); },
               {d.path().string(), "no model.safetensors or model.safetensors.index.json"});
  expect_error([&] { load_hf_weights(d.str("absent"), L, q.data()); }, {"absent", "not a directory"});
  EXPECT_FALSE(is_model_dir(d.path().string()));
  write_bytes(d / "pytorch_model.bin", "PK");  // pickles are never loaded: they can run code
  expect_error([&] { load_hf_weights(d.path().string(), L, q.data()); }, {"pytorch_model.bin", "safetensors"});
}

TEST(Safetensors, SavedConfigJsonIsWhatTransformersExpects) {
  TempDir d("cfgjson");
  ModelConfig c = untied_tiny();
  c.eos_token_ids = {3, 4};
  const HostModel m(c);
  save_hf_checkpoint(d.str("nested/dir"), m.config, m.layout, m.params.data(), DType::F16);
  const auto j = nlohmann::json::parse(read_bytes(d / "nested/dir/config.json"));
  EXPECT_EQ(j["architectures"], nlohmann::json({"Qwen2ForCausalLM"}));
  EXPECT_EQ(j["model_type"], "qwen2");
  EXPECT_EQ(j["torch_dtype"], "float16");
  EXPECT_EQ(j["tie_word_embeddings"], false);
  EXPECT_EQ(j["eos_token_id"], nlohmann::json({3, 4}));
  EXPECT_EQ(j["hidden_act"], "silu");
  EXPECT_EQ(j["use_sliding_window"], false);
  std::vector<float> q(m.params.size());
  load_hf_weights(d.str("nested/dir"), m.layout, q.data());
  for (size_t i = 0; i < q.size(); i++) ASSERT_EQ(q[i], f16_to_f32(f32_to_f16(m.params[i]))) << i;
}
