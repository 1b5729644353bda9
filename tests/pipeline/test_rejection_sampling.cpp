// Rejection sampling keeps only samples that pass every reward and the length filters, drops duplicates, caps
// what each prompt keeps, and reports statistics that add up; end to end on a micro model the written JSONL is
// exactly the kept samples, each of which re-verifies.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>

#include "core/config.h"
#include "core/error.h"
#include "data/jsonl.h"
#include "support/micro_model.h"
#include "rewards/format_reward.h"
#include "rewards/math_verifier.h"
#include "rl/rejection_sampling.h"
#include "train/sft.h"

using namespace r1;
using namespace r1::rl;
namespace fs = std::filesystem;

namespace {

Candidate cand(int prompt, std::string text, std::vector<double> scores, int tokens = 10, std::string finish = "eos") {
  return {prompt, std::move(text), tokens, std::move(finish), std::move(scores)};
}

RejectionFilter two_rewards() {
  RejectionFilter f;
  f.reward_labels = {"accuracy", "format"};
  f.min_scores = {1.0, 1.0};
  return f;
}

}  // namespace

TEST(RejectionSelect, KeepsOnlySamplesPassingEveryReward) {
  RejectionFilter f = two_rewards();
  const std::vector<Candidate> c = {cand(0, "a", {1, 1}), cand(0, "b", {1, 0}), cand(0, "c", {0, 1}),
                                    cand(1, "d", {0, 0}), cand(1, "e", {1, 1})};
  RejectionStats s;
  const auto fate = select_samples(c, 2, f, &s);
  EXPECT_EQ(fate, (std::vector<Rejection>{Rejection::Kept, Rejection::FailedReward, Rejection::FailedReward,
                                          Rejection::FailedReward, Rejection::Kept}));
  EXPECT_EQ(s.kept, 2);
  EXPECT_EQ(s.reward_passes, (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(s.all_rewards_passed, 2);
  EXPECT_EQ(s.kept_per_prompt, (std::vector<int>{1, 1}));
  const auto j = s.to_json();
  EXPECT_DOUBLE_EQ(j["pass_rates"]["accuracy"].get<double>(), 0.6);
  EXPECT_DOUBLE_EQ(j["pass_rates"]["all"].get<double>(), 0.4);
}

TEST(RejectionSelect, DropsDuplicatesOfTheSamePromptOnly) {
  RejectionFilter f = two_rewards();
  const std::vector<Candidate> c = {cand(0, "x = 1", {1, 1}), cand(0, "  x  =\n1 ", {1, 1}), cand(0, "x = 2", {1, 1}),
                                    cand(1, "x = 1", {1, 1}), cand(0, "x = 1", {0, 1})};
  RejectionStats s;
  const auto fate = select_samples(c, 2, f, &s);
  EXPECT_EQ(fate[0], Rejection::Kept);
  EXPECT_EQ(fate[1], Rejection::Duplicate);  // whitespace-insensitive
  EXPECT_EQ(fate[2], Rejection::Kept);
  EXPECT_EQ(fate[3], Rejection::Kept);          // another prompt's sample is not a duplicate
  EXPECT_EQ(fate[4], Rejection::FailedReward);  // a failing repeat counts as failing
  EXPECT_EQ(s.duplicates, 1);
  EXPECT_EQ(dedupe_key("  a \t b\n\nc  "), "a b c");
}

TEST(RejectionSelect, CapKeepsFirstOrShortestPerPrompt) {
  RejectionFilter f = two_rewards();
  f.max_per_prompt = 2;
  std::vector<Candidate> c;
  for (int i = 0; i < 5; i++) c.push_back(cand(0, std::string("s").append(std::to_string(i)), {1, 1}, 50 - 10 * i));
  c.push_back(cand(1, "t", {1, 1}, 5));
  RejectionStats s;
  auto fate = select_samples(c, 3, f, &s);
  EXPECT_EQ(fate[0], Rejection::Kept);
  EXPECT_EQ(fate[1], Rejection::Kept);
  for (int i = 2; i < 5; i++) EXPECT_EQ(fate[size_t(i)], Rejection::OverCap);
  EXPECT_EQ(s.kept_per_prompt, (std::vector<int>{2, 1, 0}));
  EXPECT_EQ(s.prompts_with_kept, 2);
  EXPECT_EQ(s.over_cap, 3);
  EXPECT_EQ(s.to_json()["kept_per_prompt"]["histogram"], (nlohmann::json{{"0", 1}, {"1", 1}, {"2", 1}}));

  f.prefer_shortest = true;
  fate = select_samples(c, 3, f, &s);
  EXPECT_EQ(fate[3], Rejection::Kept);  // 20 tokens
  EXPECT_EQ(fate[4], Rejection::Kept);  // 10 tokens
  EXPECT_EQ(fate[0], Rejection::OverCap);
  EXPECT_DOUBLE_EQ(s.kept_tokens_mean, (20 + 10 + 5) / 3.0);
}

TEST(RejectionSelect, LengthFiltersApplyBeforeRewards) {
  RejectionFilter f = two_rewards();
  f.min_tokens = 3, f.max_tokens = 100;
  const std::vector<Candidate> c = {cand(0, "a", {1, 1}, 50, "length"), cand(0, "b", {1, 1}, 2),
                                    cand(0, "c", {0, 0}, 101), cand(0, "d", {1, 1}, 100)};
  RejectionStats s;
  const auto fate = select_samples(c, 1, f, &s);
  EXPECT_EQ(fate, (std::vector<Rejection>{Rejection::Truncated, Rejection::TooShort, Rejection::TooLong, Rejection::Kept}));
  EXPECT_EQ(s.truncated + s.too_short + s.too_long + s.kept, 4);
  f.drop_truncated = false;
  EXPECT_EQ(select_samples(c, 1, f, &s)[0], Rejection::Kept);
  EXPECT_THROW(select_samples({cand(3, "x", {1, 1})}, 1, f, &s), Error);  // prompt out of range
  EXPECT_THROW(select_samples({cand(0, "x", {1})}, 1, f, &s), Error);     // a score missing
}

TEST(RejectionSelect, SftRecordForms) {
  const data::Problem p{"addition/1+2", "What is 1 + 2?", "3", "addition", nlohmann::json::object()};
  const auto a = sft_record(p, " <answer>3</answer>", "prompt_response", {{"tokens", 5}});
  EXPECT_EQ(a, (nlohmann::json{{"id", "addition/1+2"}, {"prompt", "What is 1 + 2?"}, {"response", " <answer>3</answer>"},
                               {"tokens", 5}}));
  const auto m = sft_record(p, "3", "messages");
  ASSERT_EQ(m["messages"].size(), 2u);
  EXPECT_EQ(m["messages"][1]["role"], "assistant");
  EXPECT_THROW(sft_record(p, "3", "chat"), Error);
}

// End to end: a micro model taught the format by SFT; its kept samples are exactly the passing, distinct ones.
TEST(RejectionSampling, WritesOnlyPassingDistinctCappedSamples) {
  const fs::path root = test::temp_dir("rejection");
  const std::string model = test::make_sft_trained_model(root);
  const std::string out = (root / "kept.jsonl").string();
  const Config c = parse_config("model: {path: " + model +
                                    "}\n"
                                    "problems: {source: addition, count: 24, max_digits: 1}\n"
                                    "sampling: {n: 6, temperature: 1.0, max_new_tokens: 40}\n"
                                    "filter: {max_per_prompt: 2}\n"
                                    "output: {path: " + out + "}\n",
                                "rs.yaml", rejection_sampling_config_schema());
  const RejectionRunResult r = run_rejection_sampling(c);
  const RejectionStats& s = r.stats;
  EXPECT_EQ(s.prompts, 24);
  EXPECT_EQ(s.samples, 24 * 6);
  EXPECT_GT(s.kept, 0) << "the SFT-trained model should get some sums right";
  EXPECT_LT(s.all_rewards_passed, s.samples) << "and some wrong, or the test checks nothing";
  EXPECT_EQ(s.kept + s.truncated + s.too_short + s.too_long + s.failed_reward + s.duplicates + s.over_cap, s.samples);

  const auto records = data::read_jsonl(out);
  EXPECT_EQ(int64_t(records.size()), s.kept);
  std::map<std::string, std::set<std::string>> per_prompt;
  for (const auto& j : records) {
    const std::string prompt = j.at("prompt"), response = j.at("response");
    // "What is a + b?" -> a + b
    int a = 0, b = 0;
    ASSERT_EQ(std::sscanf(prompt.c_str(), "What is %d + %d?", &a, &b), 2) << prompt;
    EXPECT_TRUE(rewards::verify_math(response, std::to_string(a + b)).correct) << response;
    EXPECT_TRUE(rewards::has_strict_format(response, false)) << response;
    EXPECT_TRUE(per_prompt[prompt].insert(dedupe_key(response)).second) << "duplicate: " << response;
    EXPECT_LE(per_prompt[prompt].size(), 2u);
  }
  EXPECT_EQ(int64_t(per_prompt.size()), s.prompts_with_kept);
  std::ifstream stats_file(r.stats_path);
  const auto stats = nlohmann::json::parse(stats_file);
  EXPECT_EQ(stats["kept"], s.kept);
  EXPECT_EQ(stats["samples_per_prompt"], 6);
  if (!HasFailure()) fs::remove_all(root);
}
