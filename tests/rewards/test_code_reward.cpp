// Code reward: stdin/stdout cases (Python and C++), MBPP asserts, HumanEval checks; fraction and
// all-or-nothing scoring; real dataset solutions pass and wrong ones fail.
#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "rewards/code_reward.h"
#include "rewards/thread_pool.h"

namespace r1::rewards {
namespace {

std::vector<nlohmann::json> read_jsonl(const std::string& path, size_t limit) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(path);
  std::string line;
  while (rows.size() < limit && std::getline(in, line))
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

std::unique_ptr<Reward> code_reward(nlohmann::json params = nlohmann::json::object()) {
  if (!params.contains("wall_seconds")) params["wall_seconds"] = 5.0;
  return create_reward("code", params);
}

TEST(CodeReward, ExtractsTheLastFencedBlock) {
  EXPECT_EQ(extract_code("text\n```python\nprint(1)\n```\nmore\n```py\nprint(2)\n```\n"), "print(2)\n");
  EXPECT_EQ(extract_code("<think>```python\nprint(0)\n```</think>just code"), "just code");
  EXPECT_EQ(extract_code("    return x + 1\n"), "    return x + 1\n");
  EXPECT_EQ(extract_code("```\nx = 1\n```"), "x = 1\n");
}

TEST(CodeReward, OutputsCompareTokenByToken) {
  EXPECT_TRUE(outputs_match("1 2\n3\n", "1 2 3"));
  EXPECT_TRUE(outputs_match("  42  \r\n\n", "42\n"));
  EXPECT_FALSE(outputs_match("42", "43"));
  EXPECT_FALSE(outputs_match("4 2", "42"));
}

TEST(CodeReward, StdinStdoutCasesScoreTheFractionPassed) {
  const nlohmann::json tests = {{"tests",
                                 {{{"input", "1 2\n"}, {"output", "3\n"}},
                                  {{"input", "10 -4\n"}, {"output", "6"}},
                                  {{"input", "5 5\n"}, {"output", "11\n"}}}}};  // deliberately wrong expectation
  const std::string completion = "```python\na, b = map(int, input().split())\nprint(a + b)\n```";
  const RewardResult r = code_reward()->score({"", completion, tests.dump(), nullptr});
  EXPECT_NEAR(r.score, 2.0 / 3.0, 1e-12) << r.reason;
  EXPECT_NE(r.reason.find("test 3: wrong answer"), std::string::npos) << r.reason;
  const RewardResult all = code_reward({{"scoring", "all"}})->score({"", completion, tests.dump(), nullptr});
  EXPECT_DOUBLE_EQ(all.score, 0.0);
}

TEST(CodeReward, CppIsCompiledOnceAndRunPerCase) {
  const nlohmann::json tests = {{"language", "cpp"},
                                {"inputs", {"3\n1 2 3\n", "2\n-5 5\n"}},
                                {"outputs", {"6\n", "0\n"}}};
  const std::string good =
      "```cpp\n#include <iostream>\nint main(){int n;long long s=0,x;std::cin>>n;while(n--){std::cin>>x;s+=x;}"
      "std::cout<<s<<\"\\n\";}\n```";
  const RewardResult r = code_reward()->score({"", good, tests.dump(), nullptr});
  EXPECT_DOUBLE_EQ(r.score, 1.0) << r.reason;
  const RewardResult bad = code_reward()->score({"", "```cpp\nint main( { return 0; }\n```", tests.dump(), nullptr});
  EXPECT_DOUBLE_EQ(bad.score, 0.0);
  EXPECT_NE(bad.reason.find("compile error"), std::string::npos) << bad.reason;
}

TEST(CodeReward, AssertsScoreFractionOrAllOrNothing) {
  const nlohmann::json tests = {{"test_list", {"assert sq(1) == 1", "assert sq(2) == 4", "assert sq(3) == 9"}}};
  const std::string partial = "```python\ndef sq(x):\n    return x * x if x < 3 else 0\n```";
  EXPECT_NEAR(code_reward()->score({"", partial, tests.dump(), nullptr}).score, 2.0 / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(code_reward({{"scoring", "all"}})->score({"", partial, tests.dump(), nullptr}).score, 0.0);
  const std::string right = "```python\ndef sq(x):\n    return x * x\n```";
  EXPECT_DOUBLE_EQ(code_reward({{"scoring", "all"}})->score({"", right, tests.dump(), nullptr}).score, 1.0);
}

TEST(CodeReward, HostileCompletionScoresZero) {
  const nlohmann::json tests = {{"tests", {{{"input", ""}, {"output", "1"}}}}};
  auto r = code_reward({{"wall_seconds", 1.0}});
  EXPECT_DOUBLE_EQ(r->score({"", "```python\nwhile True: pass\n```", tests.dump(), nullptr}).score, 0.0);
  EXPECT_DOUBLE_EQ(r->score({"", "```python\nimport os\nos.system('rm -rf ~')\n```", tests.dump(), nullptr}).score, 0.0);
}

TEST(CodeReward, BadTestSpecsAreErrorsNamingTheField) {
  auto r = code_reward();
  try {
    r->score({"", "x", R"({"tests": [{"input": "1"}]})", nullptr});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tests[0]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(r->score({"", "x", R"({"tset_list": ["assert 1"]})", nullptr}), Error);
  EXPECT_THROW(r->score({"", "x", R"({"language": "rust", "inputs": ["1"], "outputs": ["1"]})", nullptr}), Error);
  EXPECT_THROW(r->score({"", "x", R"({})", nullptr}), Error);
  EXPECT_THROW(r->score({"", "x", "42", nullptr}), Error);  // neither reference nor metadata holds tests
}

TEST(CodeReward, TestsMayComeFromMetadata) {
  const nlohmann::json meta = {{"test_list", {"assert f() == 1"}}};
  EXPECT_DOUBLE_EQ(code_reward()->score({"", "```python\ndef f():\n    return 1\n```", "", meta}).score, 1.0);
  EXPECT_THROW(create_reward("code", {{"scoring", "most"}}), Error);
}

TEST(CodeReward, HumanEvalCanonicalSolutionsPassAndWrongOnesFail) {
  const auto rows = read_jsonl(std::string(R1_SHARED_DATA_DIR) + "/humaneval/HumanEval.jsonl", 10);
  ASSERT_EQ(rows.size(), 10u);
  auto reward = code_reward({{"wall_seconds", 10.0}, {"cpu_seconds", 5.0}});
  std::vector<RewardInput> inputs;
  for (const auto& row : rows) {
    inputs.push_back({"", row["canonical_solution"].get<std::string>(), row.dump(), nullptr});
    inputs.push_back({"", "    return None\n", row.dump(), nullptr});
  }
  // A chat-style answer: the whole function in a fence, after the reasoning.
  const auto& first = rows[0];
  inputs.push_back({"", "<think>compare all pairs</think>\n```python\n" + first["prompt"].get<std::string>() +
                            first["canonical_solution"].get<std::string>() + "```",
                    first.dump(), nullptr});
  std::vector<RewardResult> results(inputs.size());
  ThreadPool pool(2);
  pool.parallel_for(inputs.size(), [&](size_t i) { results[i] = reward->score(inputs[i]); });
  for (size_t t = 0; t < rows.size(); ++t) {
    EXPECT_DOUBLE_EQ(results[2 * t].score, 1.0) << rows[t]["task_id"] << ": " << results[2 * t].reason;
    EXPECT_DOUBLE_EQ(results[2 * t + 1].score, 0.0) << rows[t]["task_id"] << ": " << results[2 * t + 1].reason;
  }
  EXPECT_DOUBLE_EQ(results.back().score, 1.0) << results.back().reason;
}

TEST(CodeReward, MbppReferenceCodePassesAndWrongCodeFails) {
  const auto rows = read_jsonl(std::string(R1_SHARED_DATA_DIR) + "/mbpp/mbpp.jsonl", 5);
  ASSERT_EQ(rows.size(), 5u);
  auto reward = code_reward({{"wall_seconds", 10.0}, {"cpu_seconds", 5.0}});
  std::vector<RewardResult> right(rows.size()), wrong(rows.size());
  ThreadPool pool(2);
  pool.parallel_for(rows.size(), [&](size_t i) {
    right[i] = reward->score({"", "```python\n" + rows[i]["code"].get<std::string>() + "\n```", rows[i].dump(), nullptr});
    // Same function names, wrong bodies: every name the tests call returns None.
    std::string stub;
    for (const auto& a : rows[i]["test_list"]) {
      const std::string s = a.get<std::string>();
      const size_t open = s.find('(');
      const std::string name = s.substr(7, open - 7);  // "assert name(..."
      if (stub.find("def " + name + "(") == std::string::npos) stub += "def " + name + "(*a, **k):\n    return None\n";
    }
    wrong[i] = reward->score({"", "```python\n" + stub + "```", rows[i].dump(), nullptr});
  });
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_DOUBLE_EQ(right[i].score, 1.0) << rows[i]["task_id"] << ": " << right[i].reason;
    EXPECT_LT(wrong[i].score, 1.0) << rows[i]["task_id"] << ": " << wrong[i].reason;
  }
}

}  // namespace
}  // namespace r1::rewards
