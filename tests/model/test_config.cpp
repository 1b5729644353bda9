// config.json parsing: real model configs (fixtures) load with their published parameter counts, every kind of
// wrong field is an error naming the file and the field, and model_config_to_json round-trips exactly.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "model/config.h"
#include "model/param_layout.h"
#include "model_test_util.h"

using namespace r1;
using namespace r1::test;

namespace {

const std::string kFixtures = std::string(R1_FIXTURES_DIR) + "/model/";

// A valid llama config to break one field at a time.
nlohmann::json llama_json() {
  return {{"model_type", "llama"},        {"vocab_size", 1000},     {"hidden_size", 64},
          {"intermediate_size", 160},     {"num_hidden_layers", 2}, {"num_attention_heads", 8},
          {"num_key_value_heads", 2},     {"rms_norm_eps", 1e-5},   {"rope_theta", 500000.0},
          {"tie_word_embeddings", false}, {"eos_token_id", {7, 8}}, {"bos_token_id", 1}};
}

ModelConfig parse(const nlohmann::json& j) { return parse_model_config(j, "cfg.json"); }

}  // namespace

TEST(Config, PublishedConfigsLoadWithTheirKnownParameterCounts) {
  struct Case {
    const char* file;
    int64_t params;
  };
  // Totals as published for these models (tied embeddings counted once).
  for (const Case& k :
       {Case{"qwen2.5-0.5b-instruct.config.json", 494032768},
        Case{"deepseek-r1-distill-qwen-1.5b.config.json", 1777088000}, Case{"llama-3.2-1b.config.json", 1235814400},
        Case{"llama-3.1-8b-instruct.config.json", 8030261248}}) {
    SCOPED_TRACE(k.file);
    const ModelConfig c = load_model_config(kFixtures + k.file);
    EXPECT_EQ(count_parameters(c), k.params);
    EXPECT_EQ(ParamLayout(c).total(), k.params);
    EXPECT_EQ(c.torch_dtype, "bfloat16");
  }
}

TEST(Config, Qwen25FieldsParseAsTransformersReadsThem) {
  const ModelConfig c = load_model_config(kFixtures + "qwen2.5-0.5b-instruct.config.json");
  EXPECT_EQ(c.model_type, "qwen2");
  EXPECT_EQ(c.head_dim, 64);      // 896 / 14
  EXPECT_TRUE(c.attention_bias);  // implied for qwen2, not in the file
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.rope_theta, 1e6f);
  EXPECT_EQ(c.rms_norm_eps, 1e-6f);
  EXPECT_EQ(c.rope_scaling.type, "");
  EXPECT_EQ(c.eos_token_ids, std::vector<int>{151645});
  EXPECT_EQ(c.bos_token_id, 151643);
  // An integer rope_theta (as the R1 distill config writes it) reads as a float.
  EXPECT_EQ(load_model_config(kFixtures + "deepseek-r1-distill-qwen-1.5b.config.json").rope_theta, 10000.0f);
}

TEST(Config, Llama31RopeScalingAndEosListParse) {
  const ModelConfig c = load_model_config(kFixtures + "llama-3.1-8b-instruct.config.json");
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  EXPECT_EQ(c.rope_scaling.factor, 8.0f);
  EXPECT_EQ(c.rope_scaling.low_freq_factor, 1.0f);
  EXPECT_EQ(c.rope_scaling.high_freq_factor, 4.0f);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int>{128001, 128008, 128009}));
  EXPECT_EQ(c.rms_norm_eps, 1e-5f);
  const ModelConfig small = load_model_config(kFixtures + "llama-3.2-1b.config.json");
  EXPECT_EQ(small.head_dim, 64);
  EXPECT_EQ(small.rope_scaling.factor, 32.0f);
}

TEST(Config, OlderRopeScalingTypeKeyAndDefaultAreAccepted) {
  auto j = llama_json();
  j["rope_scaling"] = {{"type", "llama3"},
                       {"factor", 8.0},
                       {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 8192}};
  EXPECT_EQ(parse(j).rope_scaling.type, "llama3");
  j["rope_scaling"] = {{"rope_type", "default"}};
  EXPECT_EQ(parse(j).rope_scaling.type, "");
  j["rope_scaling"] = nullptr;
  EXPECT_EQ(parse(j).rope_scaling.type, "");
}

TEST(Config, UnknownExtraKeysAreIgnored) {
  auto j = llama_json();
  j["pretraining_tp"] = 1;
  j["use_cache"] = true;
  j["transformers_version"] = "4.45.0";
  j["some_future_key"] = {{"nested", {1, 2, 3}}};
  EXPECT_EQ(parse(j), parse(llama_json()));
}

TEST(Config, DefaultsFollowTransformers) {
  auto j = llama_json();
  j.erase("num_key_value_heads");
  j.erase("rms_norm_eps");
  j.erase("rope_theta");
  j.erase("tie_word_embeddings");
  const ModelConfig llama = parse(j);
  EXPECT_EQ(llama.num_key_value_heads, 8);  // absent: one k/v head per query head
  EXPECT_EQ(llama.max_position_embeddings, 2048);
  EXPECT_EQ(llama.rms_norm_eps, 1e-6f);
  EXPECT_EQ(llama.rope_theta, 10000.0f);
  EXPECT_FALSE(llama.tie_word_embeddings);
  EXPECT_FALSE(llama.attention_bias);
  j["model_type"] = "qwen2";
  j["num_key_value_heads"] = nullptr;  // null means absent
  const ModelConfig qwen = parse(j);
  EXPECT_EQ(qwen.num_key_value_heads, 8);
  EXPECT_EQ(qwen.max_position_embeddings, 32768);
  EXPECT_TRUE(qwen.attention_bias);
  // Llama reads attention_bias; Qwen2 always has biases whatever the key says.
  j["attention_bias"] = false;
  EXPECT_TRUE(parse(j).attention_bias);
  j["model_type"] = "llama";
  j["attention_bias"] = false;
  EXPECT_FALSE(parse(j).attention_bias);
}

TEST(Config, LlamaAttentionAndMlpBiasesAreReadAndWritten) {
  // transformers' LlamaAttention gives o_proj a bias too when attention_bias is set, and mlp_bias adds gate/up/
  // down biases (applied by the transformers: tests/model/test_llama_bias.cpp).
  auto j = llama_json();
  j["attention_bias"] = true;
  j["mlp_bias"] = true;
  const ModelConfig l = parse(j);
  EXPECT_TRUE(l.attention_bias);
  EXPECT_TRUE(l.mlp_bias);
  EXPECT_TRUE(attention_bias_on_o_proj(l));
  EXPECT_EQ(parse(model_config_to_json(l)), l);
  // Qwen2 has neither: its attention_bias key is ignored (always q/k/v only) and so is mlp_bias, as in transformers.
  j["model_type"] = "qwen2";
  j["attention_bias"] = true;
  const ModelConfig q = parse(j);
  EXPECT_TRUE(q.attention_bias);
  EXPECT_FALSE(q.mlp_bias);
  EXPECT_FALSE(attention_bias_on_o_proj(q));
}

TEST(Config, PadTokenIdIsReadCheckedAndWritten) {
  auto j = llama_json();
  EXPECT_EQ(parse(j).pad_token_id, -1);
  j["pad_token_id"] = nullptr;
  EXPECT_EQ(parse(j).pad_token_id, -1);
  j["pad_token_id"] = 9;
  const ModelConfig c = parse(j);
  EXPECT_EQ(c.pad_token_id, 9);
  EXPECT_EQ(model_config_to_json(c)["pad_token_id"], 9);
  EXPECT_EQ(parse(model_config_to_json(c)), c);
  j["pad_token_id"] = 1000;  // vocab_size 1000
  expect_error([&] { parse(j); }, {"cfg.json", "field 'pad_token_id'", "outside the vocabulary"});
}

TEST(Config, UnknownModelTypeNamesTheFieldAndTheSupportedTypes) {
  auto j = llama_json();
  j["model_type"] = "gpt2";
  expect_error([&] { parse(j); }, {"cfg.json", "field 'model_type'", "'gpt2'", "qwen2, llama"});
  j["model_type"] = "qwen3";
  expect_error([&] { parse(j); }, {"cfg.json", "model_type", "'qwen3'", "qwen2, llama"});
  j.erase("model_type");
  expect_error([&] { parse(j); }, {"cfg.json", "model_type", "missing", "qwen2, llama"});
  j["model_type"] = 7;
  expect_error([&] { parse(j); }, {"cfg.json", "model_type", "must be a string"});
}

TEST(Config, MissingRequiredFieldIsAnError) {
  for (const char* key :
       {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"}) {
    SCOPED_TRACE(key);
    auto j = llama_json();
    j.erase(key);
    expect_error([&] { parse(j); }, {"cfg.json", std::string("field '") + key + "'", "missing"});
    j[key] = nullptr;
    expect_error([&] { parse(j); }, {"cfg.json", std::string("field '") + key + "'", "missing"});
  }
}

TEST(Config, WrongTypesAreErrorsNamingTheField) {
  struct Case {
    const char* key;
    nlohmann::json value;
    const char* says;
  };
  for (const Case& k :
       {Case{"num_hidden_layers", "two", "must be an integer"}, Case{"hidden_size", 896.5, "must be an integer"},
        Case{"vocab_size", true, "must be an integer"}, Case{"vocab_size", 10000000000LL, "out of range"},
        Case{"rms_norm_eps", "1e-5", "must be a number"}, Case{"rope_theta", 1e300, "out of the float range"},
        Case{"tie_word_embeddings", 1, "must be true or false"}, Case{"eos_token_id", "x", "integer or a list"},
        Case{"eos_token_id", {1, "2"}, "integer or a list"}, Case{"bos_token_id", 1.5, "must be an integer"},
        Case{"torch_dtype", 16, "must be a string"}, Case{"rope_scaling", "llama3", "must be an object"}}) {
    SCOPED_TRACE(k.key);
    auto j = llama_json();
    j[k.key] = k.value;
    expect_error([&] { parse(j); }, {"cfg.json", std::string("field '") + k.key + "'", k.says});
  }
}

TEST(Config, NonPositiveSizesAreErrors) {
  for (const char* key : {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                          "num_key_value_heads", "head_dim", "max_position_embeddings"}) {
    for (int v : {0, -5}) {
      SCOPED_TRACE(std::string(key) + "=" + std::to_string(v));
      auto j = llama_json();
      j[key] = v;
      expect_error([&] { parse(j); }, {"cfg.json", std::string("field '") + key + "'", "must be positive"});
    }
  }
  auto j = llama_json();
  j["rms_norm_eps"] = 0.0;
  expect_error([&] { parse(j); }, {"cfg.json", "rms_norm_eps", "positive"});
  j = llama_json();
  j["rope_theta"] = -1.0;
  expect_error([&] { parse(j); }, {"cfg.json", "rope_theta", "positive"});
}

TEST(Config, HeadCountsMustDivide) {
  auto j = llama_json();
  j["num_attention_heads"] = 6;  // 64 % 6 != 0 and no head_dim
  j["num_key_value_heads"] = 2;
  expect_error([&] { parse(j); }, {"cfg.json", "field 'num_attention_heads'", "does not divide hidden_size 64"});
  j["head_dim"] = 16;  // an explicit head_dim decouples the heads from hidden_size (as in Llama-3.2-3B)
  EXPECT_EQ(parse(j).head_dim, 16);
  j = llama_json();
  j["num_key_value_heads"] = 3;
  expect_error([&] { parse(j); },
               {"cfg.json", "field 'num_key_value_heads'", "3 does not divide num_attention_heads 8"});
  j["num_key_value_heads"] = 16;
  expect_error([&] { parse(j); }, {"cfg.json", "field 'num_key_value_heads'", "does not divide"});
  j = llama_json();
  j["head_dim"] = 7;
  expect_error([&] { parse(j); }, {"cfg.json", "field 'head_dim'", "even"});
}

TEST(Config, UnsupportedRopeScalingIsAnError) {
  for (const char* type : {"yarn", "linear", "dynamic", "longrope"}) {
    SCOPED_TRACE(type);
    auto j = llama_json();
    j["rope_scaling"] = {{"rope_type", type}, {"factor", 4.0}};
    expect_error([&] { parse(j); }, {"cfg.json", "field 'rope_scaling.rope_type'", type, "llama3"});
    j["rope_scaling"] = {{"type", type}, {"factor", 4.0}};
    expect_error([&] { parse(j); }, {"cfg.json", "field 'rope_scaling.type'", type});
  }
  auto j = llama_json();
  j["rope_scaling"] = {{"factor", 4.0}};
  expect_error([&] { parse(j); }, {"cfg.json", "field 'rope_scaling.type'", "missing"});
}

TEST(Config, Llama3RopeScalingNeedsAllFourValidKeys) {
  const nlohmann::json full = {{"rope_type", "llama3"},
                               {"factor", 8.0},
                               {"low_freq_factor", 1.0},
                               {"high_freq_factor", 4.0},
                               {"original_max_position_embeddings", 8192}};
  for (const char* key : {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"}) {
    SCOPED_TRACE(key);
    auto j = llama_json();
    j["rope_scaling"] = full;
    j["rope_scaling"].erase(key);
    expect_error([&] { parse(j); }, {"cfg.json", std::string("field 'rope_scaling.") + key + "'", "missing"});
  }
  auto j = llama_json();
  j["rope_scaling"] = full;
  j["rope_scaling"]["high_freq_factor"] = 1.0;  // equal bounds: the interpolation divides by zero
  expect_error([&] { parse(j); }, {"cfg.json", "field 'rope_scaling.high_freq_factor'", "exceed"});
  j["rope_scaling"] = full;
  j["rope_scaling"]["factor"] = 0.5;
  expect_error([&] { parse(j); }, {"cfg.json", "field 'rope_scaling.factor'"});
  j["rope_scaling"] = full;
  j["rope_scaling"]["original_max_position_embeddings"] = 0;
  expect_error([&] { parse(j); }, {"cfg.json", "field 'rope_scaling.original_max_position_embeddings'", "positive"});
}

TEST(Config, FeaturesWeDoNotComputeAreErrors) {
  auto j = llama_json();
  j["hidden_act"] = "gelu";
  expect_error([&] { parse(j); }, {"cfg.json", "field 'hidden_act'", "gelu"});
  j["hidden_act"] = "silu";
  EXPECT_NO_THROW(parse(j));
  j = llama_json();
  j["quantization_config"] = {{"quant_method", "fp8"}};
  expect_error([&] { parse(j); }, {"cfg.json", "field 'quantization_config'", "quantized"});
  j = llama_json();
  j["model_type"] = "qwen2";
  j["use_sliding_window"] = true;
  expect_error([&] { parse(j); }, {"cfg.json", "field 'use_sliding_window'", "not supported"});
  j["use_sliding_window"] = false;
  EXPECT_NO_THROW(parse(j));
}

TEST(Config, TokenIdsMustLieInTheVocabulary) {
  auto j = llama_json();
  j["eos_token_id"] = {7, 1000};
  expect_error([&] { parse(j); }, {"cfg.json", "field 'eos_token_id'", "1000", "[0, 1000)"});
  j = llama_json();
  j["bos_token_id"] = -3;
  expect_error([&] { parse(j); }, {"cfg.json", "field 'bos_token_id'", "-3"});
  j = llama_json();
  j["eos_token_id"] = 5;
  j["bos_token_id"] = nullptr;
  const ModelConfig c = parse(j);
  EXPECT_EQ(c.eos_token_ids, std::vector<int>{5});
  EXPECT_EQ(c.bos_token_id, -1);
}

TEST(Config, TorchDtypeIsCheckedAndNewDtypeKeyIsRead) {
  auto j = llama_json();
  j["torch_dtype"] = "int8";
  expect_error([&] { parse(j); }, {"cfg.json", "field 'torch_dtype'", "int8"});
  j.erase("torch_dtype");
  j["dtype"] = "bfloat16";  // transformers >= 4.56 spells it so
  EXPECT_EQ(parse(j).torch_dtype, "bfloat16");
  j.erase("dtype");
  EXPECT_EQ(parse(j).torch_dtype, "float32");
}

TEST(Config, JsonRoundTripGivesAnEqualConfig) {
  std::vector<ModelConfig> configs;
  for (const auto& name : builtin_model_names()) configs.push_back(builtin_model_config(name));
  for (const char* f : {"qwen2.5-0.5b-instruct.config.json", "deepseek-r1-distill-qwen-1.5b.config.json",
                        "llama-3.2-1b.config.json", "llama-3.1-8b-instruct.config.json"})
    configs.push_back(load_model_config(kFixtures + f));
  ModelConfig odd = configs.back();
  odd.rms_norm_eps = 3.3e-7f, odd.rope_theta = 123456.7f, odd.rope_scaling.low_freq_factor = 1.1f;
  odd.pad_token_id = 3;
  configs.push_back(odd);
  for (const ModelConfig& c : configs) {
    SCOPED_TRACE(model_config_to_json(c).dump());
    EXPECT_EQ(parse(model_config_to_json(c)), c);
    EXPECT_EQ(parse(nlohmann::json::parse(model_config_to_json(c).dump(2))), c);
  }
  // Floats are written as the shortest decimal that reads back, as transformers' files have them.
  const std::string odd_text = model_config_to_json(odd).dump();
  EXPECT_NE(odd_text.find("\"rms_norm_eps\":3.3e-07"), std::string::npos) << odd_text;
  EXPECT_NE(odd_text.find("\"low_freq_factor\":1.1,"), std::string::npos) << odd_text;
  const std::string text =
      model_config_to_json(load_model_config(kFixtures + "llama-3.1-8b-instruct.config.json")).dump();
  EXPECT_NE(text.find("\"rms_norm_eps\":1e-05"), std::string::npos) << text;
  EXPECT_NE(text.find("\"rope_theta\":500000.0"), std::string::npos) << text;
  EXPECT_NE(text.find("\"architectures\":[\"LlamaForCausalLM\"]"), std::string::npos) << text;
}

TEST(Config, ConfigFileErrorsNameTheFile) {
  TempDir d("cfg");
  expect_error([&] { load_model_config(d.str("nope.json")); }, {"nope.json", "cannot open"});
  write_bytes(d / "bad.json", "{\"model_type\": \"llama\",");
  expect_error([&] { load_model_config(d.str("bad.json")); }, {"bad.json", "invalid JSON"});
  write_bytes(d / "list.json", "[1, 2]");
  expect_error([&] { load_model_config(d.str("list.json")); }, {"list.json", "JSON object"});
  auto j = llama_json();
  j["num_key_value_heads"] = 3;
  write_bytes(d / "heads.json", j.dump());
  expect_error([&] { load_model_config(d.str("heads.json")); }, {"heads.json", "field 'num_key_value_heads'"});
}

TEST(Config, BuiltinModelsHaveTheDocumentedShapes) {
  const ModelConfig tiny = builtin_model_config("tiny");
  EXPECT_EQ(tiny.model_type, "qwen2");
  EXPECT_EQ(tiny.vocab_size, 512);
  EXPECT_EQ(tiny.hidden_size, 64);
  EXPECT_EQ(tiny.num_hidden_layers, 2);
  EXPECT_EQ(tiny.num_attention_heads, 4);
  EXPECT_EQ(tiny.num_key_value_heads, 2);
  EXPECT_EQ(tiny.intermediate_size, 128);
  EXPECT_EQ(tiny.head_dim, 16);
  EXPECT_TRUE(tiny.attention_bias);
  EXPECT_TRUE(tiny.tie_word_embeddings);
  const ModelConfig small = builtin_model_config("small");
  EXPECT_EQ(small.vocab_size, 4096);
  EXPECT_EQ(small.hidden_size, 256);
  EXPECT_EQ(small.num_hidden_layers, 4);
  EXPECT_EQ(small.num_attention_heads, 8);
  EXPECT_EQ(small.num_key_value_heads, 2);
  EXPECT_EQ(small.intermediate_size, 768);
  // The benchmark shape is the real model's: equal to the parsed published config, up to its token ids/dtype.
  ModelConfig real = load_model_config(kFixtures + "qwen2.5-0.5b-instruct.config.json");
  real.eos_token_ids.clear(), real.bos_token_id = -1, real.torch_dtype = "float32";
  EXPECT_EQ(builtin_model_config("qwen2.5-0.5b"), real);
  expect_error([] { builtin_model_config("huge"); }, {"'huge'", "tiny, small, qwen2.5-0.5b"});
}

// transformers >= 5 writes rope_theta and the scaling only inside "rope_parameters": it must win over the
// legacy keys, or a checkpoint silently runs with theta 10000 and no llama3 scaling.
TEST(Config, TransformersFiveRopeParametersAreRead) {
  nlohmann::json j = {{"model_type", "llama"}, {"vocab_size", 64}, {"hidden_size", 32}, {"intermediate_size", 64},
                      {"num_hidden_layers", 1}, {"num_attention_heads", 4}, {"num_key_value_heads", 2},
                      {"rope_parameters", {{"rope_type", "llama3"}, {"rope_theta", 500000.0}, {"factor", 8.0},
                                           {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
                                           {"original_max_position_embeddings", 8192}}}};
  const auto c = r1::parse_model_config(j, "v5.json");
  EXPECT_FLOAT_EQ(c.rope_theta, 500000.0f);
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  EXPECT_FLOAT_EQ(c.rope_scaling.factor, 8.0f);
  nlohmann::json q = {{"model_type", "qwen2"}, {"vocab_size", 64}, {"hidden_size", 32}, {"intermediate_size", 64},
                      {"num_hidden_layers", 1}, {"num_attention_heads", 4}, {"num_key_value_heads", 2},
                      {"rope_theta", 10000.0}, {"rope_parameters", {{"rope_type", "default"}, {"rope_theta", 1000000.0}}}};
  const auto cq = r1::parse_model_config(q, "v5q.json");
  EXPECT_FLOAT_EQ(cq.rope_theta, 1000000.0f);
  EXPECT_TRUE(cq.rope_scaling.type.empty());
}
