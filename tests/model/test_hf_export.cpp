// save_hf_model_dir: the written directory is complete (config, generation config, weights, tokenizer) and loads
// back to the same config, tokenizer bytes and weight bits; shards past the size limit; a failed write leaves the
// previous directory as it was; generation_config.json's token ids come from the source or the config.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "core/log.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/hf_export.h"
#include "model/param_layout.h"
#include "model/safetensors.h"
#include "model_test_util.h"

using namespace r1;
using namespace r1::test;

namespace {

ModelConfig tiny_with_tokens() {
  ModelConfig c = builtin_model_config("tiny");  // vocab 512
  c.bos_token_id = 1;
  c.eos_token_ids = {2, 3};
  return c;
}

// A small byte-level-BPE-shaped tokenizer.json: ids 0..9 in the vocab, specials as added tokens.
std::string tokenizer_json(int max_added_id = 3) {
  nlohmann::json vocab = nlohmann::json::object();
  for (int i = 4; i < 10; i++) vocab[std::string(1, char('a' + i))] = i;
  nlohmann::json added = nlohmann::json::array();
  const char* names[] = {"<pad>", "<s>", "</s>", "<|end|>"};
  for (int i = 0; i <= 3; i++) added.push_back({{"id", i}, {"content", names[i]}, {"special", true}});
  if (max_added_id > 3) added.push_back({{"id", max_added_id}, {"content", "<big>"}, {"special", true}});
  return nlohmann::json{{"version", "1.0"},
                        {"added_tokens", added},
                        {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", nlohmann::json::array()}}}}
      .dump(1);
}

std::vector<float> load_weights(const fs::path& dir, const ParamLayout& layout) {
  std::vector<float> q(size_t(layout.total()), -7.0f);
  load_hf_weights(dir.string(), layout, q.data());
  return q;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

std::set<std::string> files_in(const fs::path& dir) {
  std::set<std::string> s;
  for (const auto& e : fs::directory_iterator(dir)) s.insert(e.path().filename().string());
  return s;
}

nlohmann::json read_json(const fs::path& p) { return nlohmann::json::parse(read_bytes(p)); }

// A source model directory: tokenizer files and (optionally) a generation config.
fs::path make_source(const TempDir& d, const std::string& generation_config = "") {
  const fs::path src = d / "src";
  fs::create_directories(src);
  write_bytes(src / "tokenizer.json", tokenizer_json());
  write_bytes(src / "tokenizer_config.json", R"({"tokenizer_class": "PreTrainedTokenizerFast", "pad_token": "<pad>"})");
  write_bytes(src / "chat_template.jinja", "{% for m in messages %}{{ m.content }}{% endfor %}");
  if (!generation_config.empty()) write_bytes(src / "generation_config.json", generation_config);
  return src;
}

// Silences the warnings of directories written without a tokenizer.
struct QuietLog {
  log::Level saved = log::level();
  QuietLog() { log::set_level(log::Level::Error); }
  ~QuietLog() { log::set_level(saved); }
};

}  // namespace

TEST(HfExport, CompleteDirectoryLoadsBackToTheSameConfigTokenizerAndWeightBits) {
  TempDir d("complete");
  const HostModel m(tiny_with_tokens());
  HfExportOptions o;
  o.source_dir = make_source(d).string();
  const fs::path out = d / "out";
  const HfExportResult r = save_hf_model_dir(out.string(), m.config, m.layout, m.params.data(), o);
  const std::set<std::string> expected = {"chat_template.jinja", "config.json", "generation_config.json",
                                          "model.safetensors", "tokenizer.json", "tokenizer_config.json"};
  EXPECT_EQ(files_in(out), expected);
  EXPECT_EQ(std::set<std::string>(r.files.begin(), r.files.end()), expected);
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(load_model_config((out / "config.json").string()), m.config);
  EXPECT_TRUE(same_bits(load_weights(out, m.layout), m.params));
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "chat_template.jinja"})
    EXPECT_EQ(read_bytes(out / f), read_bytes(fs::path(o.source_dir) / f)) << f;
  EXPECT_FALSE(fs::exists(d / "out.tmp"));
}

TEST(HfExport, GeneratedTokenizerConfigNamesTheConfigsSpecialTokens) {
  TempDir d("tokcfg");
  ModelConfig c = tiny_with_tokens();
  c.pad_token_id = 0;
  const HostModel m(c);
  write_bytes(d / "tokenizer.json", tokenizer_json());  // a bare tokenizer.json, as r1 tokenizer-train writes
  HfExportOptions o;
  o.tokenizer = (d / "tokenizer.json").string();
  save_hf_model_dir(d.str("out"), m.config, m.layout, m.params.data(), o);
  const auto t = read_json(d / "out" / "tokenizer_config.json");
  EXPECT_EQ(t["tokenizer_class"], "PreTrainedTokenizerFast");
  EXPECT_EQ(t["bos_token"], "<s>");
  EXPECT_EQ(t["eos_token"], "</s>");
  EXPECT_EQ(t["pad_token"], "<pad>");
  EXPECT_EQ(t["model_max_length"], c.max_position_embeddings);
  EXPECT_EQ(read_bytes(d / "out" / "tokenizer.json"), read_bytes(d / "tokenizer.json"));
}

TEST(HfExport, GenerationConfigTakesTokenIdsFromTheConfigOrTheSource) {
  ModelConfig c = tiny_with_tokens();
  // From the config alone: bos, the eos list, no pad.
  nlohmann::json g = generation_config_for(c);
  EXPECT_EQ(g["bos_token_id"], 1);
  EXPECT_EQ(g["eos_token_id"], nlohmann::json({2, 3}));
  EXPECT_FALSE(g.contains("pad_token_id"));
  c.eos_token_ids = {2};
  EXPECT_EQ(generation_config_for(c)["eos_token_id"], 2);  // one eos: a plain integer, as transformers writes it
  EXPECT_EQ(generation_config_for(c, nullptr, 0)["pad_token_id"], 0);  // the tokenizer's pad
  c.pad_token_id = 5;
  EXPECT_EQ(generation_config_for(c, nullptr, 0)["pad_token_id"], 5);  // the config's wins
  // The source's values and sampling defaults are kept; only missing ids are filled in.
  const nlohmann::json src = {{"eos_token_id", {2, 3, 4}}, {"temperature", 0.6}, {"pad_token_id", nullptr}};
  g = generation_config_for(c, src);
  EXPECT_EQ(g["eos_token_id"], nlohmann::json({2, 3, 4}));
  EXPECT_EQ(g["temperature"], 0.6);
  EXPECT_EQ(g["bos_token_id"], 1);
  EXPECT_EQ(g["pad_token_id"], 5);
}

TEST(HfExport, WrittenGenerationConfigMergesSourceTokenizerPadAndOverrides) {
  TempDir d("genwrite");
  const HostModel m(tiny_with_tokens());
  HfExportOptions o;
  o.source_dir = make_source(d, R"({"temperature": 0.6, "top_p": 0.95, "eos_token_id": 3})").string();
  o.generation_overrides = {{"do_sample", true}, {"top_p", 1.0}};
  save_hf_model_dir(d.str("out"), m.config, m.layout, m.params.data(), o);
  const auto g = read_json(d / "out" / "generation_config.json");
  EXPECT_EQ(g["temperature"], 0.6);
  EXPECT_EQ(g["top_p"], 1.0);  // the override wins
  EXPECT_EQ(g["do_sample"], true);
  EXPECT_EQ(g["eos_token_id"], 3);   // the source's
  EXPECT_EQ(g["bos_token_id"], 1);   // the config's, which the source lacked
  EXPECT_EQ(g["pad_token_id"], 0);   // tokenizer_config.json's "<pad>"
}

TEST(HfExport, LargeWeightsAreShardedWithAnIndexAndLoadBackBitExact) {
  TempDir d("shards");
  ModelConfig c = tiny_with_tokens();
  c.tie_word_embeddings = false;
  const HostModel m(c);
  HfExportOptions o;
  o.max_shard_bytes = 60'000;  // the 512x64 f32 embedding (131 kB) exceeds it: a shard of its own
  const fs::path out = d / "out";
  {
    QuietLog quiet;
    save_hf_model_dir(out.string(), m.config, m.layout, m.params.data(), o);
  }
  EXPECT_FALSE(fs::exists(out / "model.safetensors"));
  const auto index = read_json(out / "model.safetensors.index.json");
  std::set<std::string> shards;
  for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) shards.insert(it.value());
  ASSERT_GT(shards.size(), 2u);
  const std::string n = std::to_string(shards.size());
  EXPECT_TRUE(shards.count("model-00001-of-" + std::string(5 - n.size(), '0') + n + ".safetensors"));
  EXPECT_EQ(index["weight_map"].size(), m.layout.params().size());
  EXPECT_EQ(index["metadata"]["total_size"], m.layout.total() * 4);
  for (const auto& s : shards) {
    const auto f = SafetensorsFile::open((out / s).string());
    EXPECT_EQ(f.metadata().at("format"), "pt");
    EXPECT_TRUE(f.entries().size() == 1 || f.data_size() <= 60'000u) << s;  // only a lone tensor may exceed
  }
  EXPECT_TRUE(same_bits(load_weights(out, m.layout), m.params));
}

TEST(HfExport, ReplacingADirectoryDropsItsStaleShards) {
  TempDir d("replace");
  const HostModel a(tiny_with_tokens(), 1), b(tiny_with_tokens(), 2);
  QuietLog quiet;
  HfExportOptions sharded;
  sharded.max_shard_bytes = 60'000;
  save_hf_model_dir(d.str("out"), a.config, a.layout, a.params.data(), sharded);
  ASSERT_TRUE(fs::exists(d / "out" / "model.safetensors.index.json"));
  save_hf_model_dir(d.str("out"), b.config, b.layout, b.params.data());
  EXPECT_EQ(files_in(d / "out"), (std::set<std::string>{"config.json", "generation_config.json", "model.safetensors"}));
  EXPECT_TRUE(same_bits(load_weights(d / "out", b.layout), b.params));
  EXPECT_FALSE(fs::exists(d / "out.tmp"));
}

TEST(HfExport, FailedWriteLeavesThePreviousDirectoryIntact) {
  TempDir d("interrupted");
  const HostModel a(tiny_with_tokens(), 1), b(tiny_with_tokens(), 2);
  HfExportOptions o;
  o.source_dir = make_source(d).string();
  const fs::path out = d / "out";
  save_hf_model_dir(out.string(), a.config, a.layout, a.params.data(), o);
  std::map<std::string, std::string> before;
  for (const auto& f : files_in(out)) before[f] = read_bytes(out / f);

  // A crash of an earlier write left a half-written temporary directory behind.
  fs::create_directories(d / "out.tmp");
  write_bytes(d / "out.tmp" / "model.safetensors", "torn");
  // This write fails after the weights are written (the source's tokenizer_config.json is corrupt)...
  const std::string good_tokenizer_config = read_bytes(fs::path(o.source_dir) / "tokenizer_config.json");
  write_bytes(fs::path(o.source_dir) / "tokenizer_config.json", "{not json");
  expect_error([&] { save_hf_model_dir(out.string(), b.config, b.layout, b.params.data(), o); },
               {"tokenizer_config.json", "invalid JSON"});
  write_bytes(fs::path(o.source_dir) / "tokenizer_config.json", good_tokenizer_config);
  // ...this one before anything is written (its generation config is corrupt)...
  write_bytes(fs::path(o.source_dir) / "generation_config.json", "{not json");
  expect_error([&] { save_hf_model_dir(out.string(), b.config, b.layout, b.params.data(), o); },
               {"generation_config.json", "invalid JSON"});
  fs::remove(fs::path(o.source_dir) / "generation_config.json");
  // ...and this one too: the tokenizer has ids past the model's vocabulary (512).
  write_bytes(d / "big_tokenizer.json", tokenizer_json(600));
  o.tokenizer = (d / "big_tokenizer.json").string();
  expect_error([&] { save_hf_model_dir(out.string(), b.config, b.layout, b.params.data(), o); },
               {"big_tokenizer.json", "600", "vocab_size is 512"});

  std::map<std::string, std::string> after;
  for (const auto& f : files_in(out)) after[f] = read_bytes(out / f);
  EXPECT_EQ(after, before);
  EXPECT_FALSE(fs::exists(d / "out.tmp"));
  EXPECT_TRUE(same_bits(load_weights(out, a.layout), a.params));
}

TEST(HfExport, RefusesToReplaceADirectoryThatIsNotAModel) {
  TempDir d("foreign");
  const HostModel m(tiny_with_tokens());
  fs::create_directories(d / "home" / "projects");
  write_bytes(d / "home" / "notes.txt", "keep me");
  expect_error([&] { save_hf_model_dir(d.str("home"), m.config, m.layout, m.params.data()); },
               {"home", "subdirectory 'projects'", "refusing"});
  fs::remove(d / "home" / "projects");
  expect_error([&] { save_hf_model_dir(d.str("home"), m.config, m.layout, m.params.data()); },
               {"home", "'notes.txt'", "refusing"});
  EXPECT_EQ(read_bytes(d / "home" / "notes.txt"), "keep me");
  EXPECT_FALSE(fs::exists(d / "home.tmp"));
}

TEST(HfExport, SourceMayBeTheTargetItself) {
  // r1 pretrain writes the trained tokenizer into model/ first, then the model around it.
  TempDir d("inplace");
  const HostModel m(tiny_with_tokens());
  const fs::path out = d / "model";
  fs::create_directories(out);
  write_bytes(out / "tokenizer.json", tokenizer_json());
  write_bytes(out / "tokenizer_config.json", R"({"tokenizer_class": "PreTrainedTokenizerFast"})");
  HfExportOptions o;
  o.source_dir = out.string();
  o.generation_overrides = {{"do_sample", true}};
  save_hf_model_dir(out.string(), m.config, m.layout, m.params.data(), o);
  EXPECT_EQ(read_bytes(out / "tokenizer.json"), tokenizer_json());
  EXPECT_EQ(read_json(out / "generation_config.json")["do_sample"], true);
  EXPECT_TRUE(same_bits(load_weights(out, m.layout), m.params));
  // And again over the now complete directory (a later checkpoint of the same run).
  save_hf_model_dir(out.string(), m.config, m.layout, m.params.data(), o);
  EXPECT_EQ(files_in(out).size(), 5u);
}

TEST(HfExport, MissingTokenizerIsAWarningNamingTheDirectory) {
  TempDir d("notok");
  const HostModel m(tiny_with_tokens());
  QuietLog quiet;
  const HfExportResult r = save_hf_model_dir(d.str("out"), m.config, m.layout, m.params.data());
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("no tokenizer.json"), std::string::npos) << r.warnings[0];
  EXPECT_NE(r.warnings[0].find("AutoTokenizer"), std::string::npos) << r.warnings[0];
  EXPECT_EQ(files_in(d / "out"), (std::set<std::string>{"config.json", "generation_config.json", "model.safetensors"}));
  expect_error(
      [&] {
        HfExportOptions o;
        o.tokenizer = d.str("nowhere");
        save_hf_model_dir(d.str("out2"), m.config, m.layout, m.params.data(), o);
      },
      {"nowhere", "no tokenizer.json"});
}

TEST(HfExport, Bf16DirectoryStoresRoundedWeightsAndSaysSo) {
  TempDir d("bf16");
  const HostModel m(tiny_with_tokens());
  HfExportOptions o;
  o.dtype = DType::BF16;
  QuietLog quiet;
  save_hf_model_dir(d.str("out"), m.config, m.layout, m.params.data(), o);
  EXPECT_EQ(read_json(d / "out" / "config.json")["torch_dtype"], "bfloat16");
  const std::vector<float> q = load_weights(d / "out", m.layout);
  for (size_t i = 0; i < q.size(); i++) ASSERT_EQ(q[i], bf16_to_f32(f32_to_bf16(m.params[i]))) << i;
}

TEST(HfExport, RealQwenTokenizerFilesAreCarriedOverByteForByte) {
  const fs::path qwen = fs::path(R1_SHARED_DATA_DIR) / "tokenizers" / "qwen2.5";
  if (!fs::is_regular_file(qwen / "tokenizer.json")) GTEST_SKIP() << "no shared Qwen2.5 tokenizer";
  ModelConfig c = builtin_model_config("tiny");
  c.vocab_size = 151665;  // the tokenizer's ids (151643 BPE tokens + 22 added) must fit
  c.hidden_size = 8, c.intermediate_size = 8, c.num_hidden_layers = 1, c.num_attention_heads = 2;
  c.num_key_value_heads = 1, c.head_dim = 4;
  const HostModel m(c);
  HfExportOptions o;
  o.tokenizer = qwen.string();
  TempDir d("qwen");
  save_hf_model_dir(d.str("out"), m.config, m.layout, m.params.data(), o);
  EXPECT_EQ(read_bytes(d / "out" / "tokenizer.json"), read_bytes(qwen / "tokenizer.json"));
  EXPECT_EQ(read_bytes(d / "out" / "tokenizer_config.json"), read_bytes(qwen / "tokenizer_config.json"));
  // One id short of the added tokens is refused.
  c.vocab_size = 151664;
  const HostModel small(c);
  expect_error([&] { save_hf_model_dir(d.str("out2"), small.config, small.layout, small.params.data(), o); },
               {"tokenizer.json", "151664", "vocab_size is 151664"});
}

TEST(HfExport, LlamaBiasTensorsRoundTripThroughTheWeightFiles) {
  // Llama's o_proj and MLP biases are saved and loaded under transformers' names.
  ModelConfig c = builtin_model_config("tiny");
  c.model_type = "llama", c.attention_bias = true, c.mlp_bias = true;
  const HostModel m(c);
  TempDir d("llamabias");
  save_hf_weights(d.path().string(), m.layout, m.params.data(), DType::F32);
  const auto f = SafetensorsFile::open(d.str("model.safetensors"));
  for (const char* n : {"self_attn.o_proj.bias", "mlp.gate_proj.bias", "mlp.up_proj.bias", "mlp.down_proj.bias"})
    EXPECT_TRUE(f.has(std::string("model.layers.1.") + n)) << n;
  EXPECT_TRUE(same_bits(load_weights(d.path(), m.layout), m.params));
  // A model without them finds them unexpected, naming the tensor.
  ModelConfig plain = c;
  plain.mlp_bias = false;
  expect_error([&] { load_weights(d.path(), ParamLayout(plain)); }, {"mlp.", "_proj.bias", "unexpected tensor"});
}
