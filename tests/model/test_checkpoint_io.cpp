// safetensors and config.json: bit-exact round trips, and one test per malformed input, each asserting the
// error names the file and the culprit.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/rng.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/param_layout.h"
#include "model/safetensors.h"

using namespace r1;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("r1_test_model_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// Writes a raw safetensors file from a header JSON text and a data section.
std::string write_raw(const fs::path& p, const std::string& header, const std::string& data, int64_t len = -1) {
  std::ofstream f(p, std::ios::binary);
  const uint64_t n = len >= 0 ? uint64_t(len) : header.size();
  for (int i = 0; i < 8; i++) f.put(char(n >> (8 * i)));
  f << header << data;
  return p.string();
}

// Expects open() (or read) to throw an r1::Error mentioning every fragment.
void expect_error(const std::function<void()>& fn, std::vector<std::string> fragments) {
  try {
    fn();
    FAIL() << "no error thrown";
  } catch (const Error& e) {
    for (const auto& f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what() << " lacks " << f;
  }
}

}  // namespace

TEST(Safetensors, RoundTripIsBitExact) {
  const auto d = temp_dir("roundtrip");
  Philox rng(1, 0);
  std::vector<float> a(6), b(4);
  for (auto& x : a) x = rng.normal();
  for (auto& x : b) x = bf16_to_f32(f32_to_bf16(rng.normal()));  // exactly representable in bf16
  const auto path = (d / "x.safetensors").string();
  write_safetensors(path, {{"a", DType::F32, {2, 3}, a.data()}, {"b", DType::BF16, {4}, b.data()}}, {{"k", "v"}});
  auto f = SafetensorsFile::open(path);
  std::vector<float> a2(6), b2(4);
  f.read_f32("a", {2, 3}, a2.data());
  f.read_f32("b", {4}, b2.data());
  EXPECT_EQ(std::memcmp(a.data(), a2.data(), 24), 0);
  EXPECT_EQ(std::memcmp(b.data(), b2.data(), 16), 0);
  EXPECT_EQ(f.metadata().at("k"), "v");
  // Writing what we read gives the same bytes.
  const auto path2 = (d / "y.safetensors").string();
  write_safetensors(path2, {{"a", DType::F32, {2, 3}, a2.data()}, {"b", DType::BF16, {4}, b2.data()}}, {{"k", "v"}});
  std::ifstream f1(path, std::ios::binary), f2(path2, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(f1), {}), std::string(std::istreambuf_iterator<char>(f2), {}));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(Safetensors, TruncatedFileIsAnError) {
  const auto d = temp_dir("trunc");
  std::ofstream(d / "t.safetensors") << "abc";
  expect_error([&] { SafetensorsFile::open((d / "t.safetensors").string()); }, {"t.safetensors", "truncated"});
}

TEST(Safetensors, HeaderLengthPastEndOfFileIsAnError) {
  const auto d = temp_dir("hlen");
  const auto p = write_raw(d / "h.safetensors", "{}", "", 1000);
  expect_error([&] { SafetensorsFile::open(p); }, {"h.safetensors", "header length 1000"});
}

TEST(Safetensors, InvalidHeaderJsonIsAnError) {
  const auto d = temp_dir("json");
  const auto p = write_raw(d / "j.safetensors", "{\"a\": [", "");
  expect_error([&] { SafetensorsFile::open(p); }, {"j.safetensors", "invalid header JSON"});
}

TEST(Safetensors, OffsetsOutOfRangeAreAnError) {
  const auto d = temp_dir("range");
  const auto p = write_raw(d / "r.safetensors", R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})",
                           std::string(8, '\0'));
  expect_error([&] { SafetensorsFile::open(p); }, {"r.safetensors", "'w'", "out of range"});
}

TEST(Safetensors, OverlappingTensorsAreAnError) {
  const auto d = temp_dir("overlap");
  const auto p = write_raw(d / "o.safetensors",
                           R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                           std::string(12, '\0'));
  expect_error([&] { SafetensorsFile::open(p); }, {"o.safetensors", "overlaps"});
}

TEST(Safetensors, UnknownDtypeIsAnError) {
  const auto d = temp_dir("dtype");
  const auto p = write_raw(d / "d.safetensors", R"({"w":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})",
                           std::string(2, '\0'));
  expect_error([&] { SafetensorsFile::open(p); }, {"d.safetensors", "'w'", "F8_E4M3"});
}

TEST(Safetensors, ShapeSizeMismatchIsAnError) {
  const auto d = temp_dir("size");
  const auto p = write_raw(d / "s.safetensors", R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})",
                           std::string(8, '\0'));
  expect_error([&] { SafetensorsFile::open(p); }, {"s.safetensors", "'w'", "needs 12 bytes"});
}

TEST(Safetensors, WrongShapeOnReadIsAnError) {
  const auto d = temp_dir("shape");
  std::vector<float> a(6, 1.0f);
  const auto path = (d / "x.safetensors").string();
  write_safetensors(path, {{"a", DType::F32, {2, 3}, a.data()}});
  auto f = SafetensorsFile::open(path);
  expect_error([&] { f.read_f32("a", {3, 2}, a.data()); }, {"x.safetensors", "'a'", "[2, 3]", "[3, 2]"});
}

TEST(Checkpoint, MissingTensorIsAnError) {
  const auto d = temp_dir("missing");
  ModelConfig c = builtin_model_config("tiny");
  ParamLayout L(c);
  std::vector<float> p(size_t(L.total()));
  init_params(c, L, p.data(), 1);
  std::vector<TensorToWrite> t;
  for (const auto& info : L.params())
    if (info.hf_name != "model.norm.weight") t.push_back({info.hf_name, DType::F32, info.shape, p.data() + info.offset});
  write_safetensors((d / "model.safetensors").string(), t);
  expect_error([&] { load_hf_weights(d.string(), L, p.data()); }, {"model.norm.weight", "missing"});
}

TEST(Checkpoint, UnexpectedTensorIsAnError) {
  const auto d = temp_dir("extra");
  ModelConfig c = builtin_model_config("tiny");
  ParamLayout L(c);
  std::vector<float> p(size_t(L.total()));
  std::vector<TensorToWrite> t;
  for (const auto& info : L.params()) t.push_back({info.hf_name, DType::F32, info.shape, p.data() + info.offset});
  t.push_back({"model.layers.9.mlp.gate_proj.weight", DType::F32, {2}, p.data()});
  write_safetensors((d / "model.safetensors").string(), t);
  expect_error([&] { load_hf_weights(d.string(), L, p.data()); }, {"model.layers.9.mlp.gate_proj.weight", "unexpected"});
}

TEST(Checkpoint, SaveLoadRoundTripAndShardedIndex) {
  const auto d = temp_dir("ckpt");
  ModelConfig c = builtin_model_config("tiny");
  c.tie_word_embeddings = false;
  ParamLayout L(c);
  std::vector<float> p(size_t(L.total())), q(size_t(L.total()), -1.0f);
  init_params(c, L, p.data(), 5);
  save_hf_checkpoint(d.string(), c, L, p.data());
  EXPECT_TRUE(is_model_dir(d.string()));
  const ModelConfig c2 = load_model_config((d / "config.json").string());
  EXPECT_EQ(c2.num_hidden_layers, c.num_hidden_layers);
  EXPECT_EQ(c2.tie_word_embeddings, false);
  load_hf_weights(d.string(), ParamLayout(c2), q.data());
  EXPECT_EQ(std::memcmp(p.data(), q.data(), p.size() * 4), 0);
  // The same weights split over two shards with an index.
  const auto s = temp_dir("sharded");
  std::vector<TensorToWrite> first, second;
  nlohmann::json index;
  for (size_t i = 0; i < L.params().size(); i++) {
    const auto& info = L.params()[i];
    const bool a = i % 2 == 0;
    (a ? first : second).push_back({info.hf_name, DType::F32, info.shape, p.data() + info.offset});
    index["weight_map"][info.hf_name] = a ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  write_safetensors((s / "model-00001-of-00002.safetensors").string(), first);
  write_safetensors((s / "model-00002-of-00002.safetensors").string(), second);
  std::ofstream(s / "model.safetensors.index.json") << index.dump();
  std::fill(q.begin(), q.end(), 0.0f);
  load_hf_weights(s.string(), L, q.data());
  EXPECT_EQ(std::memcmp(p.data(), q.data(), p.size() * 4), 0);
}

TEST(ModelConfig, Qwen25HalfBillionShapeHasTheKnownParameterCount) {
  // hidden 896, 24 layers, 14 heads, 2 kv heads, ffn 4864, vocab 151936, tied, q/k/v biases.
  EXPECT_EQ(count_parameters(builtin_model_config("qwen2.5-0.5b")), 494032768);
}

TEST(ModelConfig, UnknownModelTypeNamesTheFieldAndTheSupportedTypes) {
  expect_error([] { parse_model_config({{"model_type", "gpt2"}}, "cfg.json"); }, {"cfg.json", "model_type", "gpt2", "qwen2, llama"});
}

TEST(ModelConfig, WrongFieldsAreErrorsNamingTheField) {
  nlohmann::json good = model_config_to_json(builtin_model_config("tiny"));
  EXPECT_NO_THROW(parse_model_config(good, "cfg.json"));
  auto bad = good;
  bad.erase("hidden_size");
  expect_error([&] { parse_model_config(bad, "cfg.json"); }, {"cfg.json", "hidden_size", "missing"});
  bad = good;
  bad["num_hidden_layers"] = "two";
  expect_error([&] { parse_model_config(bad, "cfg.json"); }, {"num_hidden_layers", "integer"});
  bad = good;
  bad["num_key_value_heads"] = 3;
  expect_error([&] { parse_model_config(bad, "cfg.json"); }, {"num_key_value_heads", "does not divide"});
  bad = good;
  bad["vocab_size"] = -5;
  expect_error([&] { parse_model_config(bad, "cfg.json"); }, {"vocab_size", "positive"});
  bad = good;
  bad["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  expect_error([&] { parse_model_config(bad, "cfg.json"); }, {"rope_scaling", "yarn"});
  bad = good;
  bad["eos_token_id"] = "x";
  expect_error([&] { parse_model_config(bad, "cfg.json"); }, {"eos_token_id"});
}

TEST(ModelConfig, Llama31RopeScalingAndEosListParse) {
  nlohmann::json j = {{"model_type", "llama"}, {"vocab_size", 128256}, {"hidden_size", 4096},
                      {"intermediate_size", 14336}, {"num_hidden_layers", 32}, {"num_attention_heads", 32},
                      {"num_key_value_heads", 8}, {"rope_theta", 500000.0}, {"eos_token_id", {128001, 128008, 128009}},
                      {"rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                                        {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}}}};
  const auto c = parse_model_config(j, "llama.json");
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  EXPECT_FLOAT_EQ(c.rope_scaling.factor, 8.0f);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_EQ(c.eos_token_ids.size(), 3u);
}

TEST(ModelConfig, MissingAndInvalidConfigFilesAreErrors) {
  const auto d = temp_dir("cfgfile");
  expect_error([&] { load_model_config((d / "nope.json").string()); }, {"nope.json", "cannot open"});
  std::ofstream(d / "bad.json") << "{not json";
  expect_error([&] { load_model_config((d / "bad.json").string()); }, {"bad.json", "invalid JSON"});
}
