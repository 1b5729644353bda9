#include <regex>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "data/dataset.h"
#include "data/jsonl.h"
#include "support/error_of.h"
#include "temp_file.h"

using r1::data::testing::TempFile;
using ::testing::HasSubstr;

namespace r1::data {

namespace {

const std::string kData = R1_SHARED_DATA_DIR;

bool is_integer_text(const std::string& s) { return std::regex_match(s, std::regex("-?[0-9]+")); }

std::set<std::string> keys_of(const nlohmann::json& object) {
  std::set<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.insert(key);
  return keys;
}

std::string error_of(const std::string& path, const std::string& preset) {
  return test::error_of([&] { load_dataset(path, preset); });
}

}  // namespace

TEST(Dataset, Gsm8kTestHas1319ProblemsWithIntegerAnswers) {
  const auto problems = load_dataset(kData + "/gsm8k/test.jsonl", "gsm8k");
  ASSERT_EQ(problems.size(), 1319u);
  EXPECT_EQ(problems[0].answer, "18");
  EXPECT_THAT(problems[0].prompt, HasSubstr("Janet"));
  EXPECT_EQ(problems[0].id, "gsm8k/0");
  EXPECT_EQ(problems[0].task, "gsm8k");
  EXPECT_THAT(problems[0].metadata["solution"].get<std::string>(), HasSubstr("16 - 3 - 4"));
  EXPECT_EQ(problems[146].answer, "2125");  // "#### 2,125" in the file
  for (const auto& p : problems) EXPECT_TRUE(is_integer_text(p.answer)) << p.id << ": " << p.answer;
}

TEST(Dataset, Gsm8kAnswerTakesTextAfterTheLastMarker) {
  EXPECT_EQ(gsm8k_final_answer("a #### 3\n#### 1,234,567 "), "1234567");
  EXPECT_EQ(gsm8k_final_answer("x\n#### -5"), "-5");
  EXPECT_THROW(gsm8k_final_answer("no marker"), Error);
}

TEST(Dataset, Math500HasProblemsAnswersAndSubjects) {
  const auto problems = load_dataset(kData + "/math500/test.jsonl", "math500");
  ASSERT_EQ(problems.size(), 500u);
  EXPECT_EQ(problems[0].id, "test/precalculus/807.json");
  EXPECT_EQ(problems[0].answer, "\\left( 3, \\frac{\\pi}{2} \\right)");
  EXPECT_EQ(problems[0].metadata["subject"], "Precalculus");
  for (const auto& p : problems) {
    EXPECT_FALSE(p.prompt.empty());
    EXPECT_FALSE(p.answer.empty()) << p.id;
  }
}

TEST(Dataset, AimeAnswersLoseZeroPadding) {
  const auto aime24 = load_dataset(kData + "/aime/aime24.jsonl", "aime");
  ASSERT_EQ(aime24.size(), 30u);
  EXPECT_EQ(aime24[0].id, "60");
  EXPECT_EQ(aime24[0].answer, "204");
  EXPECT_EQ(aime24[7].answer, "25");  // "025" in the file
  const auto aime25 = load_dataset(kData + "/aime/aime25.jsonl", "aime");  // answers are JSON integers
  ASSERT_EQ(aime25.size(), 30u);
  EXPECT_EQ(aime25[0].answer, "70");
  for (const auto* set : {&aime24, &aime25})
    for (const auto& p : *set) {
      EXPECT_TRUE(is_integer_text(p.answer)) << p.id;
      EXPECT_TRUE(p.answer == "0" || p.answer[0] != '0') << p.id << ": " << p.answer;
    }
  EXPECT_EQ(strip_integer_padding(" 007 "), "7");
  EXPECT_EQ(strip_integer_padding("000"), "0");
  EXPECT_EQ(strip_integer_padding("0.50"), "0.50");
}

TEST(Dataset, MatharenaAimeAgreesWithAime24) {
  const auto arena = load_dataset(kData + "/aime/matharena_aime_2024_2025.jsonl", "aime");
  const auto aime24 = load_dataset(kData + "/aime/aime24.jsonl", "aime");
  ASSERT_EQ(arena.size(), 60u);
  EXPECT_EQ(arena[0].id, "aime_2024_I/1");
  EXPECT_EQ(arena[0].answer, aime24[0].answer);  // both start with AIME 2024 I problem 1
}

TEST(Dataset, HumanEvalKeepsTestsAndEntryPoint) {
  const auto problems = load_dataset(kData + "/humaneval/HumanEval.jsonl", "humaneval");
  ASSERT_EQ(problems.size(), 164u);
  EXPECT_EQ(problems[0].id, "HumanEval/0");
  EXPECT_EQ(problems[0].metadata["entry_point"], "has_close_elements");
  EXPECT_THAT(problems[0].metadata["test"].get<std::string>(), HasSubstr("def check(candidate)"));
  EXPECT_THAT(problems[0].prompt, HasSubstr("def has_close_elements"));
  EXPECT_TRUE(problems[0].answer.empty());
  // Exactly the keys the code reward's HumanEval mode reads (it rejects unknown keys).
  for (const auto& p : problems) EXPECT_EQ(keys_of(p.metadata), (std::set<std::string>{"prompt", "test", "entry_point"}));
  EXPECT_EQ(problems[0].metadata["prompt"], problems[0].prompt);
}

TEST(Dataset, MbppPromptsCarryTheirAsserts) {
  const auto problems = load_dataset(kData + "/mbpp/mbpp.jsonl", "mbpp");
  ASSERT_EQ(problems.size(), 974u);
  EXPECT_EQ(problems[0].id, "1");
  EXPECT_THAT(problems[0].prompt, HasSubstr("minimum cost path"));
  EXPECT_THAT(problems[0].prompt, HasSubstr("assert min_cost("));
  EXPECT_EQ(problems[0].metadata["test_list"].size(), 3u);
  EXPECT_TRUE(problems[0].metadata.contains("test_setup_code"));
  for (const auto& p : problems)
    EXPECT_EQ(keys_of(p.metadata), (std::set<std::string>{"test_list", "test_setup_code", "challenge_test_list"}));
}

TEST(Dataset, MbppSanitizedLoadsFromAJsonArray) {
  const auto problems = load_dataset(kData + "/mbpp/sanitized-mbpp.json", "mbpp-sanitized");
  ASSERT_EQ(problems.size(), 427u);
  EXPECT_EQ(problems[0].id, "2");
  EXPECT_EQ(problems[0].task, "mbpp");
  EXPECT_THAT(problems[0].prompt, HasSubstr("assert set(similar_elements("));
  EXPECT_EQ(problems[36].id, "82");
  EXPECT_EQ(problems[36].metadata["test_setup_code"], "import math\n");  // from test_imports
  for (const auto& p : problems) EXPECT_EQ(keys_of(p.metadata), (std::set<std::string>{"test_list", "test_setup_code"}));
}

TEST(Dataset, MissingFieldNamesFileLineAndField) {
  TempFile f("missing.jsonl", "{\"question\": \"q1\", \"answer\": \"#### 1\"}\n{\"question\": \"q2\"}\n");
  const std::string msg = error_of(f.path(), "gsm8k");
  EXPECT_THAT(msg, HasSubstr(f.path() + ":2:"));
  EXPECT_THAT(msg, HasSubstr("'answer'"));
}

TEST(Dataset, Gsm8kAnswerWithoutMarkerNamesLine) {
  TempFile f("nomarker.jsonl", "{\"question\": \"q\", \"answer\": \"42\"}\n");
  EXPECT_THAT(error_of(f.path(), "gsm8k"), HasSubstr(f.path() + ":1:"));
}

TEST(Dataset, WrongFieldTypeIsAnError) {
  TempFile f("type.jsonl", "{\"prompt\": [1], \"answer\": \"1\"}\n");
  const std::string msg = error_of(f.path(), "prompt");
  EXPECT_THAT(msg, HasSubstr(f.path() + ":1:"));
  EXPECT_THAT(msg, HasSubstr("'prompt'"));
}

TEST(Dataset, PlainFileKeepsExtraFieldsAsMetadata) {
  TempFile f("plain.jsonl", "{\"prompt\": \"2+2?\", \"answer\": 4, \"nums\": [2, 2]}\n{\"prompt\": \"p\", \"answer\": \" x \"}\n");
  const auto problems = load_dataset(f.path(), "prompt");
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].answer, "4");
  EXPECT_EQ(problems[0].metadata["nums"], nlohmann::json({2, 2}));
  EXPECT_EQ(problems[1].answer, "x");
  EXPECT_EQ(problems[1].id, "prompt/1");
}

TEST(Dataset, ProblemJsonlReadsBackAsWritten) {
  Problem a;
  a.id = "countdown/train/3";
  a.prompt = "Using the numbers [1, 2, 3] ...";
  a.answer = "(1 + 2) * 3";
  a.task = "countdown";
  a.metadata = {{"nums", {1, 2, 3}}, {"target", 9}};
  Problem b;
  b.prompt = "p";
  b.answer = "1";
  b.task = "mine";
  TempFile f("problems.jsonl", "");
  write_jsonl(f.path(), {to_json(a), to_json(b)});
  const auto back = load_dataset(f.path(), "prompt");
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(to_json(back[0]), to_json(a));
  EXPECT_EQ(back[1].task, "mine");
  EXPECT_EQ(back[1].id, "");  // an empty id stays empty: it was present in the file
}

TEST(Dataset, CustomFieldMapReadsOtherNames) {
  TempFile f("custom.jsonl", "{\"q\": \"What?\", \"gold\": \"\\\\frac{1}{2}\", \"uid\": 7}\n");
  FieldMap fields;
  fields.task = "mine";
  fields.prompt_field = "q";
  fields.answer_field = "gold";
  fields.id_field = "uid";
  const auto problems = load_dataset(f.path(), fields);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].id, "7");
  EXPECT_EQ(problems[0].answer, "\\frac{1}{2}");
  EXPECT_EQ(problems[0].task, "mine");
}

TEST(Dataset, UnknownPresetListsTheKnownOnes) {
  try {
    dataset_preset("gsm9k");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("gsm9k"));
    EXPECT_THAT(e.what(), HasSubstr("math500"));
  }
}

}  // namespace r1::data
