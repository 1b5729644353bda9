// Reward registry, params validation and the weighted composite scored on a thread pool.
#include <gtest/gtest.h>

#include <atomic>

#include "core/error.h"
#include "rewards/reward.h"
#include "rewards/thread_pool.h"
#include "support/error_of.h"

namespace r1::rewards {
namespace {

using r1::test::error_of;

const char* kGood = "<think>2 + 2 = 4</think>\n<answer>4</answer>";

TEST(Reward, RegistryKnowsTheBuiltins) {
  const auto names = reward_names();
  for (const char* n : {"accuracy", "format", "language", "countdown", "code"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  EXPECT_EQ(create_reward("format")->name(), "format");
}

TEST(Reward, UnknownNamesAndKeysAreErrorsNamingTheKey) {
  EXPECT_NE(error_of([] { create_reward("acuracy", nullptr, "cfg.yaml", "rewards[0]"); }).find("rewards[0]"), std::string::npos);
  const std::string e = error_of([] { create_reward("format", {{"mdoe", "soft"}}, "cfg.yaml", "rewards[1].params"); });
  EXPECT_NE(e.find("cfg.yaml: field 'rewards[1].params.mdoe'"), std::string::npos) << e;
  EXPECT_NE(error_of([] { create_reward("format", {{"mode", "fuzzy"}}); }).find("not one of: strict, soft"), std::string::npos);
  EXPECT_NE(error_of([] { create_reward("format", {{"think_prefilled", "yes"}}); }).find("true or false"), std::string::npos);
  const std::string y = error_of([] {
    CompositeReward::from_yaml("rewards:\n  - {name: format, wieght: 0.1}\n", "run.yaml");
  });
  EXPECT_NE(y.find("run.yaml: field 'rewards[0].wieght': unknown key"), std::string::npos) << y;
  EXPECT_NE(error_of([] { CompositeReward::from_yaml("rewardz: []", "run.yaml"); }).find("'rewardz'"), std::string::npos);
  const std::string n = error_of([] { CompositeReward::from_yaml("rewards: [{name: acc}]", "run.yaml"); });
  EXPECT_NE(n.find("run.yaml: field 'rewards[0].name': unknown reward 'acc'"), std::string::npos) << n;
}

TEST(Reward, CompositeFromYamlWeighsParts) {
  const CompositeReward c = CompositeReward::from_yaml(
      "rewards:\n"
      "  - {name: accuracy, weight: 1}\n"
      "  - {name: format, weight: 0.1}\n"
      "  - {name: format, label: soft_format, weight: 0.5, params: {mode: soft}}\n",
      "run.yaml");
  ASSERT_EQ(c.parts().size(), 3u);
  EXPECT_EQ(c.labels(), (std::vector<std::string>{"accuracy", "format", "soft_format"}));
  const ScoredInput right = c.score({"What is 2+2?", kGood, "4", nullptr});
  EXPECT_DOUBLE_EQ(right.parts[0].score, 1.0);
  EXPECT_DOUBLE_EQ(right.parts[1].score, 1.0);
  EXPECT_DOUBLE_EQ(right.total, 1.0 + 0.1 + 0.5);
  const ScoredInput wrong = c.score({"What is 2+2?", "<think>x</think><answer>5</answer> bye", "4", nullptr});
  EXPECT_DOUBLE_EQ(wrong.parts[0].score, 0.0);
  EXPECT_DOUBLE_EQ(wrong.parts[1].score, 0.0);
  EXPECT_DOUBLE_EQ(wrong.total, 0.5 * 0.8);
}

TEST(Reward, DuplicateLabelsAreRejected) {
  EXPECT_NE(error_of([] { CompositeReward::from_list("format,format"); }).find("appears twice"), std::string::npos);
}

TEST(Reward, ListSyntaxCarriesWeights) {
  const CompositeReward c = CompositeReward::from_list("accuracy, format:0.25");
  ASSERT_EQ(c.parts().size(), 2u);
  EXPECT_DOUBLE_EQ(c.parts()[1].weight, 0.25);
  EXPECT_DOUBLE_EQ(c.score({"", kGood, "4", nullptr}).total, 1.25);
  EXPECT_THROW(CompositeReward::from_list("format:heavy"), Error);
}

TEST(Reward, AccuracyParamsSetTheScoreScheme) {
  auto r = create_reward("accuracy", {{"correct", 1.0}, {"wrong", -1.0}, {"no_answer", -0.5}});
  EXPECT_DOUBLE_EQ(r->score({"", "<answer>4</answer>", "4", nullptr}).score, 1.0);
  EXPECT_DOUBLE_EQ(r->score({"", "<answer>5</answer>", "4", nullptr}).score, -1.0);
  EXPECT_DOUBLE_EQ(r->score({"", "I do not know", "4", nullptr}).score, -0.5);
}

TEST(Reward, BatchOnAThreadPoolMatchesSequentialScoring) {
  const CompositeReward c = CompositeReward::from_list("accuracy,format:0.1,countdown:0.5");
  std::vector<RewardInput> inputs;
  for (int i = 0; i < 64; ++i) {
    const int a = i % 7, b = i % 5;
    const std::string answer = (i % 3 == 0) ? std::to_string(a + b + 1) : std::to_string(a + b);
    inputs.push_back({"", "<think>add</think><answer>" + answer + "</answer>", std::to_string(a + b),
                      {{"target", a + b}, {"nums", {a, b}}}});
  }
  // The countdown part reads the expression "a+b" only when it is one; here answers are plain numbers, so
  // it scores the format score or 0 — what matters is that the batch equals the sequential result.
  ThreadPool pool(2);
  const auto batch = c.score_batch(inputs, pool);
  ASSERT_EQ(batch.size(), inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const ScoredInput one = c.score(inputs[i]);
    EXPECT_DOUBLE_EQ(batch[i].total, one.total) << i;
    EXPECT_DOUBLE_EQ(batch[i].parts[0].score, (i % 3 == 0) ? 0.0 : 1.0) << i;
  }
}

TEST(Reward, BatchPropagatesRewardErrors) {
  const CompositeReward c = CompositeReward::from_list("countdown");
  std::vector<RewardInput> inputs(4, RewardInput{"", "<answer>1</answer>", "not a task", nullptr});
  EXPECT_THROW(c.score_batch(inputs, 2), Error);
}

TEST(Reward, ThreadPoolRunsEveryTaskAndRethrows) {
  ThreadPool pool(3);
  std::atomic<int> sum{0};
  pool.parallel_for(100, [&](size_t i) { sum += static_cast<int>(i); });
  EXPECT_EQ(sum.load(), 4950);
  EXPECT_THROW(pool.parallel_for(10, [](size_t i) {
    if (i == 7) throw Error("seven");
  }), Error);
  auto f = pool.submit([] { return 42; });
  EXPECT_EQ(f.get(), 42);
}

TEST(Reward, YamlScalarsKeepTheirTypes) {
  const nlohmann::json j = yaml_to_json("a: 1\nb: 0.5\nc: true\nd: soft\ne: '1'\nf: [x, 2]\n", "t.yaml");
  EXPECT_TRUE(j["a"].is_number_integer());
  EXPECT_TRUE(j["b"].is_number_float());
  EXPECT_TRUE(j["c"].is_boolean());
  EXPECT_EQ(j["d"], "soft");
  EXPECT_TRUE(j["e"].is_string());
  EXPECT_EQ(j["f"][1], 2);
  EXPECT_NE(error_of([] { yaml_to_json("a: [1, 2\n", "bad.yaml"); }).find("bad.yaml:"), std::string::npos);
}

}  // namespace
}  // namespace r1::rewards
