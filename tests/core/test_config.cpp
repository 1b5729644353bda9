// Config: schema-checked YAML — defaults, overrides, and errors that name the file, line and key path.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/config.h"
#include "core/error.h"

using namespace r1;
using ::testing::HasSubstr;

namespace {

ConfigSchema reward_schema() {
  ConfigSchema s;
  s.add("name", ConfigType::String, nullptr, "reward function").one_of({"accuracy", "format", "language"});
  s.add("weight", ConfigType::Float, 1.0, "weight in the sum").at_least(0);
  return s;
}

ConfigSchema test_schema() {
  ConfigSchema s;
  s.add("run.name", ConfigType::String, "tiny", "run directory name under runs/");
  s.add("run.seed", ConfigType::Int, 1, "random seed").at_least(0);
  s.add("run.max_steps", ConfigType::Int, nullptr, "stop after this many steps").allow_null();
  s.add("grpo.variant", ConfigType::String, "grpo", "loss variant").one_of({"grpo", "dr_grpo", "dapo"});
  s.add("grpo.epsilon_low", ConfigType::Float, 0.2, "lower clip range").range(0, 1);
  s.add("grpo.epsilon_high", ConfigType::Float, 0.28, "upper clip range").range(0, 1);
  s.add("grpo.beta", ConfigType::Float, 0.0, "KL coefficient").at_least(0);
  s.add("grpo.lr", ConfigType::Float, 1e-6, "learning rate").greater_than(0);
  s.add("grpo.group_size", ConfigType::Int, 8, "samples per prompt").range(2, 1024);
  s.add("grpo.scale_rewards", ConfigType::Bool, true, "divide advantages by the group std");
  s.add("data.files", ConfigType::StringList, nlohmann::json::array({"train.jsonl"}), "dataset files");
  s.add("eval.k", ConfigType::IntList, nlohmann::json::array({1, 8}), "pass@k values");
  s.add("model.path", ConfigType::String, nullptr, "base model directory");  // required
  s.add("rewards", ConfigType::ObjectList, nlohmann::json::array({{{"name", "accuracy"}}}), "reward terms")
      .items(reward_schema());
  return s;
}

std::string error_of(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  try {
    parse_config(yaml, "configs/x.yaml", test_schema(), overrides);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(Config, DefaultsFillEveryKeyAndValuesKeepTheirTypes) {
  const Config c = parse_config("model:\n  path: models/base\n", "x.yaml", test_schema());
  EXPECT_EQ(c.get_string("model.path"), "models/base");
  EXPECT_EQ(c.get_string("run.name"), "tiny");
  EXPECT_EQ(c.get_int("run.seed"), 1);
  EXPECT_TRUE(c.is_null("run.max_steps"));
  EXPECT_DOUBLE_EQ(c.get_float("grpo.epsilon_high"), 0.28);
  EXPECT_DOUBLE_EQ(c.get_float("grpo.lr"), 1e-6);
  EXPECT_TRUE(c.get_bool("grpo.scale_rewards"));
  EXPECT_EQ(c.get_strings("data.files"), std::vector<std::string>{"train.jsonl"});
  EXPECT_EQ(c.get_ints("eval.k"), (std::vector<int64_t>{1, 8}));
  const auto rewards = c.get_objects("rewards");
  ASSERT_EQ(rewards.size(), 1u);
  EXPECT_EQ(rewards[0].get_string("name"), "accuracy");
  EXPECT_DOUBLE_EQ(rewards[0].get_float("weight"), 1.0);  // the item schema's default
  EXPECT_THROW(c.get_int("grpo.beta"), Error);            // a float is not an int
}

TEST(Config, FileValuesAndNestedListsAreRead) {
  const Config c = parse_config(R"(
run: {name: gsm8k, seed: 7, max_steps: 300}
grpo:
  variant: dapo
  beta: 0.04
  lr: 3e-6
  group_size: 16
  scale_rewards: no
data:
  files: [a.jsonl, b.jsonl]
model.path: m            # dotted keys are accepted too
rewards:
  - name: accuracy
    weight: 2
  - name: format
    weight: 0.5
)",
                                "x.yaml", test_schema());
  EXPECT_EQ(c.get_int("run.seed"), 7);
  EXPECT_EQ(c.get_int("run.max_steps"), 300);
  EXPECT_EQ(c.get_string("grpo.variant"), "dapo");
  EXPECT_DOUBLE_EQ(c.get_float("grpo.lr"), 3e-6);
  EXPECT_FALSE(c.get_bool("grpo.scale_rewards"));
  EXPECT_EQ(c.get_strings("data.files"), (std::vector<std::string>{"a.jsonl", "b.jsonl"}));
  EXPECT_EQ(c.get_string("model.path"), "m");
  const auto rewards = c.get_objects("rewards");
  ASSERT_EQ(rewards.size(), 2u);
  EXPECT_DOUBLE_EQ(rewards[0].get_float("weight"), 2.0);  // an integer is a fine float
  EXPECT_EQ(rewards[1].get_string("name"), "format");
}

TEST(Config, OverridesWinOverTheFileAndParseAsYaml) {
  const Config c = parse_config("grpo: {beta: 0.1}\nmodel: {path: m}\n", "x.yaml", test_schema(),
                                {"grpo.beta=0.04", "run.max_steps=null", "data.files=[x.jsonl, y.jsonl]",
                                 "eval.k=4", "grpo.variant=dr_grpo", "run.name='007'"});
  EXPECT_DOUBLE_EQ(c.get_float("grpo.beta"), 0.04);
  EXPECT_TRUE(c.is_null("run.max_steps"));
  EXPECT_EQ(c.get_strings("data.files"), (std::vector<std::string>{"x.jsonl", "y.jsonl"}));
  EXPECT_EQ(c.get_ints("eval.k"), std::vector<int64_t>{4});  // a lone scalar is a one-element list
  EXPECT_EQ(c.get_string("grpo.variant"), "dr_grpo");
  EXPECT_EQ(c.get_string("run.name"), "007");
  // --set also supplies a required key the file lacks.
  EXPECT_EQ(parse_config("", "x.yaml", test_schema(), {"model.path=p"}).get_string("model.path"), "p");
}

TEST(Config, UnknownKeyNamesFileLineFullPathAndSuggestion) {
  const std::string e = error_of("model: {path: m}\ngrpo:\n  beta: 0.1\n  epsilon_hi: 0.3\n");
  EXPECT_THAT(e, HasSubstr("configs/x.yaml:4"));
  EXPECT_THAT(e, HasSubstr("'grpo.epsilon_hi'"));
  EXPECT_THAT(e, HasSubstr("unknown key"));
  EXPECT_THAT(e, HasSubstr("did you mean 'grpo.epsilon_high'?"));
  // The right name in the wrong section is found too.
  EXPECT_THAT(error_of("model: {path: m}\nbeta: 0.1\n"), HasSubstr("did you mean 'grpo.beta'?"));
  // Nothing close: no suggestion.
  const std::string far = error_of("model: {path: m}\nzzzzzzzzzz: 1\n");
  EXPECT_THAT(far, HasSubstr("'zzzzzzzzzz': unknown key"));
  EXPECT_THAT(far, ::testing::Not(HasSubstr("did you mean")));
  // Unknown keys inside list items carry the item's index.
  EXPECT_THAT(error_of("model: {path: m}\nrewards:\n  - name: format\n    wieght: 1\n"),
              HasSubstr("'rewards[0].wieght': unknown key (did you mean 'rewards[0].weight'?)"));
}

TEST(Config, BadValuesAreRejectedWithTheKeyAndConstraint) {
  EXPECT_THAT(error_of("model: {path: m}\ngrpo: {epsilon_low: 1.5}\n"),
              HasSubstr("configs/x.yaml:2: field 'grpo.epsilon_low': value 1.5 out of range: must be in [0, 1]"));
  EXPECT_THAT(error_of("model: {path: m}\ngrpo: {lr: 0}\n"), HasSubstr("must be > 0"));
  EXPECT_THAT(error_of("model: {path: m}\ngrpo: {group_size: 4.5}\n"),
              HasSubstr("'grpo.group_size': expected an integer, got '4.5'"));
  EXPECT_THAT(error_of("model: {path: m}\ngrpo: {beta: lots}\n"), HasSubstr("expected a number, got 'lots'"));
  EXPECT_THAT(error_of("model: {path: m}\ngrpo: {beta: .nan}\n"), HasSubstr("finite"));
  EXPECT_THAT(error_of("model: {path: m}\ngrpo: {scale_rewards: maybe}\n"), HasSubstr("expected true or false"));
  EXPECT_THAT(error_of("model: {path: m}\ngrpo: {variant: grpoo}\n"),
              HasSubstr("value 'grpoo' is not one of: grpo, dr_grpo, dapo (did you mean 'grpo'?)"));
  EXPECT_THAT(error_of("model: {path: m}\ngrpo: {beta: null}\n"), HasSubstr("got null"));
  EXPECT_THAT(error_of("model: {path: m}\ngrpo: 3\n"), HasSubstr("'grpo': is a section"));
  EXPECT_THAT(error_of("model: {path: m}\ndata: {files: {a: 1}}\n"), HasSubstr("'data.files': expected a list"));
  EXPECT_THAT(error_of("model: {path: m}\nrewards: [{name: fmt}]\n"), HasSubstr("'rewards[0].name'"));
  EXPECT_THAT(error_of("grpo: {beta: 0}\n"), HasSubstr("configs/x.yaml: field 'model.path': required key missing"));
  EXPECT_THAT(error_of("model: {path: m}\ngrpo:\n  beta: 1\n  beta: 2\n"),
              HasSubstr("configs/x.yaml:4: field 'grpo.beta': duplicate key"));
  EXPECT_THAT(error_of("model: {path: m}\ngrpo: [1, 2\n"), HasSubstr("configs/x.yaml:"));
  EXPECT_THAT(error_of("model: {path: m}\ngrpo: [1, 2\n"), HasSubstr("YAML syntax error"));
  EXPECT_THAT(error_of("- a\n- b\n"), HasSubstr("expected a mapping"));
}

TEST(Config, BadOverridesNameTheSetOption) {
  EXPECT_THAT(error_of("model: {path: m}\n", {"grpo.bta=1"}),
              HasSubstr("--set: field 'grpo.bta': unknown key (did you mean 'grpo.beta'?)"));
  EXPECT_THAT(error_of("model: {path: m}\n", {"grpo.beta=-1"}), HasSubstr("--set grpo.beta=-1: field 'grpo.beta'"));
  EXPECT_THAT(error_of("model: {path: m}\n", {"grpo"}), HasSubstr("expected key.path=value"));
  EXPECT_THAT(error_of("model: {path: m}\n", {"grpo=1"}), HasSubstr("is a section"));
}

TEST(Config, ResolvedYamlReadsBackToTheSameValues) {
  const ConfigSchema schema = test_schema();
  const Config a = parse_config(
      "model: {path: 'dir with spaces/m'}\nrun: {name: 'yes', seed: 3}\ngrpo: {lr: 0.1, beta: 1e-300}\n"
      "data: {files: ['a\"b.jsonl', '123']}\nrewards: [{name: format, weight: 0.25}, {name: accuracy}]\n",
      "x.yaml", schema);
  const std::string yaml = config_to_yaml(a, &schema);
  EXPECT_THAT(yaml, HasSubstr("# KL coefficient"));  // help text travels as comments
  EXPECT_THAT(yaml, HasSubstr("epsilon_high: 0.28"));
  const Config b = parse_config(yaml, "config.yaml", schema);
  EXPECT_EQ(a.values(), b.values()) << yaml;
  EXPECT_EQ(b.get_string("run.name"), "yes");  // quoted on the way out, so not read back as a boolean
  EXPECT_EQ(b.get_strings("data.files")[1], "123");
  // Key order follows the schema, so config.yaml reads like the schema's documentation.
  EXPECT_LT(yaml.find("run:"), yaml.find("grpo:"));
  EXPECT_LT(yaml.find("grpo:"), yaml.find("rewards:"));
}

TEST(Config, LoadConfigReadsAFileAndNamesAMissingOne) {
  const auto path = std::filesystem::temp_directory_path() / ("r1_test_config_" + std::to_string(::getpid()) + ".yaml");
  {
    std::ofstream out(path);
    out << "model:\n  path: m\ngrpo:\n  epsilon_hi: 0.3\n";
  }
  try {
    load_config(path.string(), test_schema());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(path.string() + ":4: field 'grpo.epsilon_hi'"));
  }
  std::filesystem::remove(path);
  EXPECT_THAT([&] {
    try {
      load_config(path.string(), test_schema());
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  }(), HasSubstr("cannot open"));
}

TEST(Config, SchemaIncludeMountsAModuleAndDescribeListsKeys) {
  ConfigSchema job;
  job.include("reward", reward_schema());
  EXPECT_NE(job.find("reward.weight"), nullptr);
  EXPECT_TRUE(job.is_section("reward"));
  EXPECT_EQ(job.find("reward.name")->choices.size(), 3u);
  const std::string d = test_schema().describe();
  EXPECT_THAT(d, HasSubstr("grpo.epsilon_low"));
  EXPECT_THAT(d, HasSubstr("in [0, 1]"));
  EXPECT_THAT(d, HasSubstr("model.path"));
  EXPECT_THAT(d, HasSubstr("(required)"));
  EXPECT_THAT(d, HasSubstr("rewards[].weight"));
  EXPECT_THROW(job.add("reward.weight", ConfigType::Float, 1.0, "twice"), Error);
  EXPECT_THROW(job.add("reward.weight.x", ConfigType::Float, 1.0, "inside a key"), Error);
}
