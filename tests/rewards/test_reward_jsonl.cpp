// JSONL scoring for `r1 reward`: rows in, scored rows and statistics out; bad lines name file:line.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "core/error.h"
#include "rewards/reward_jsonl.h"

namespace r1::rewards {
namespace {

struct TempFile {
  std::string path;
  explicit TempFile(const std::string& content) {
    char tmpl[] = "/tmp/r1-reward-jsonl-XXXXXX";
    const int fd = mkstemp(tmpl);
    path = tmpl;
    const ssize_t n = write(fd, content.data(), content.size());
    (void)n;
    close(fd);
  }
  ~TempFile() { std::remove(path.c_str()); }
};

TEST(Reward, JsonlRowsAreScoredAndSummarised) {
  TempFile data(
      R"({"prompt": "2+2?", "completion": "<think>a</think><answer>4</answer>", "answer": "4"})" "\n"
      "\n"
      R"({"prompt": "2+3?", "completion": "<think>a</think><answer>6</answer>", "answer": "5"})" "\n"
      R"({"prompt": "2+5?", "completion": "the answer is 7", "reference": 7})" "\n");
  TempFile out("");
  const CompositeReward reward = CompositeReward::from_list("accuracy,format:0.5");
  const RewardSummary s = score_jsonl(data.path, out.path, reward, RewardFields{}, 2);
  ASSERT_EQ(s.parts.size(), 2u);
  EXPECT_EQ(s.total.count, 3u);
  EXPECT_NEAR(s.parts[0].mean, 2.0 / 3.0, 1e-12);  // rows 1 and 3 right ("reference" fallback, number dumped)
  EXPECT_NEAR(s.parts[0].pass_rate, 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(s.parts[0].std, std::sqrt(2.0 / 9.0), 1e-12);
  EXPECT_NEAR(s.parts[1].mean, 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(s.total.mean, (1.5 + 0.5 + 1.0) / 3.0, 1e-12);
  EXPECT_NEAR(s.total.pass_rate, 1.0 / 3.0, 1e-12);  // only row 1 earns the full 1.5

  std::ifstream in(out.path);
  std::string line;
  std::vector<nlohmann::json> rows;
  while (std::getline(in, line)) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_DOUBLE_EQ(rows[0]["reward"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(rows[1]["rewards"]["accuracy"].get<double>(), 0.0);
  EXPECT_EQ(rows[2]["prompt"], "2+5?");
  EXPECT_TRUE(rows[2]["reward_reasons"]["format"].is_string());
  EXPECT_NE(format_reward_summary(s).find("accuracy"), std::string::npos);
}

TEST(Reward, JsonlBadLinesNameFileAndLine) {
  TempFile bad(R"({"completion": "a", "answer": "1"})" "\n" R"({"completion": "a", "answer": )" "\n");
  try {
    read_reward_inputs(bad.path, RewardFields{});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(bad.path + ":2: invalid JSON"), std::string::npos) << e.what();
  }
  TempFile missing(R"({"completion": "a"})" "\n" R"({"text": "a"})" "\n");
  try {
    read_reward_inputs(missing.path, RewardFields{});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(missing.path + ":2: field 'completion' is missing"), std::string::npos);
  }
  TempFile array("[1, 2]\n");
  EXPECT_THROW(read_reward_inputs(array.path, RewardFields{}), Error);
  EXPECT_THROW(read_reward_inputs("/nonexistent/x.jsonl", RewardFields{}), Error);
}

TEST(Reward, JsonlFieldsAreConfigurableAndMetadataDefaultsToTheRow) {
  TempFile data(R"({"response": "<answer>3 * 8</answer>", "target": 24, "nums": [8, 3]})" "\n");
  RewardFields f;
  f.completion = "response";
  const auto inputs = read_reward_inputs(data.path, f);
  ASSERT_EQ(inputs.size(), 1u);
  EXPECT_EQ(inputs[0].metadata["target"], 24);
  const RewardSummary s = score_jsonl(data.path, "", CompositeReward::from_list("countdown"), f, 1);
  EXPECT_DOUBLE_EQ(s.parts[0].mean, 1.0);
}

}  // namespace
}  // namespace r1::rewards
