// `r1 eval`'s runner: the built-in addition benchmark is the held-out set, samples do not depend on batching,
// worst/best examples are ranked by c/n, and on a tiny model the written tables equal a direct computation from
// the written samples (pass@1 = mean c/n, pass@k with k = n, cons@k by majority vote).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <map>

#include "core/config.h"
#include "core/error.h"
#include "data/jsonl.h"
#include "data/reasoning_corpus.h"
#include "eval/judge.h"
#include "eval/majority_vote.h"
#include "eval/runner.h"
#include "support/micro_model.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "rewards/math_verifier.h"
#include "tokenizer/tokenizer.h"

using namespace r1;
using namespace r1::eval;
namespace fs = std::filesystem;

TEST(EvalRunner, AdditionBenchmarkIsTheHeldOutSplit) {
  const auto ps = load_eval_problems("addition", "", {}, {40, 1, 2}, 0);
  ASSERT_EQ(ps.size(), 40u);
  const auto expected = data::addition_problems({1, 2, 7}, data::Split::HeldOut, 40);
  for (size_t i = 0; i < ps.size(); i++) {
    EXPECT_EQ(ps[i].prompt, expected[i].question());
    EXPECT_EQ(ps[i].answer, std::to_string(expected[i].answer()));
    EXPECT_EQ(data::split_of(expected[i]), data::Split::HeldOut);
    EXPECT_EQ(ps[i].task, "addition");
  }
  EXPECT_EQ(load_eval_problems("addition", "", {}, {40, 1, 2}, 7).size(), 7u);
  try {
    load_eval_problems("gsm9k", "", {}, {}, 0);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gsm9k"), std::string::npos) << e.what();
  }
}

TEST(EvalRunner, WorstAndBestAreRankedByPassRate) {
  BenchmarkRun run;
  const std::vector<std::vector<bool>> verdicts = {{true, false}, {false, false}, {true, true}, {false, false}, {true, false}};
  for (size_t i = 0; i < verdicts.size(); i++) {
    SampledProblem p;
    p.problem.id = std::string("p").append(std::to_string(i));
    p.completions = {"c0", "c1"};
    p.judged.answers = {"a", "b"};
    p.judged.correct = verdicts[i];
    run.problems.push_back(p);
  }
  EXPECT_EQ(worst_problems(run, 3), (std::vector<size_t>{1, 3, 0}));  // ties keep problem order
  EXPECT_EQ(best_problems(run, 2), (std::vector<size_t>{2, 0}));
  const auto worst = example_record("b", run.problems[0], false), best = example_record("b", run.problems[0], true);
  EXPECT_EQ(worst["completion"], "c1");  // the wrong one
  EXPECT_EQ(best["completion"], "c0");   // the right one
  EXPECT_EQ(best["correct"], 1);
}

TEST(EvalRunner, SamplesDoNotDependOnBatching) {
  const fs::path root = test::temp_dir("eval_batching");
  const std::string dir = test::make_micro_model(root / "m");
  const Tokenizer tok = Tokenizer::from_dir(dir);
  Transformer model(load_model_config(dir + "/config.json"));
  load_hf_weights(dir, model.layout(), model.params());
  const ChatTemplate tmpl = ChatTemplate::resolve("User: {prompt}\nAssistant:{response}", tok);
  const auto problems = load_eval_problems("addition", "", {}, {10, 1, 2}, 0);
  EvalSampling s;
  s.samples = 3, s.max_new_tokens = 12, s.seed = 5;
  s.batch_prompts = 3;
  const BenchmarkRun a = evaluate_benchmark(model, tok, tmpl, "addition", problems, s, {});
  s.batch_prompts = 10;
  const BenchmarkRun b = evaluate_benchmark(model, tok, tmpl, "addition", problems, s, {});
  ASSERT_EQ(a.problems.size(), 10u);
  for (size_t i = 0; i < a.problems.size(); i++) {
    EXPECT_EQ(a.problems[i].completions, b.problems[i].completions) << i;
    EXPECT_EQ(a.problems[i].completions.size(), 3u);
  }
  s.seed = 6;  // and the seed matters
  const BenchmarkRun c = evaluate_benchmark(model, tok, tmpl, "addition", problems, s, {});
  bool differs = false;
  for (size_t i = 0; i < a.problems.size(); i++) differs = differs || a.problems[i].completions != c.problems[i].completions;
  EXPECT_TRUE(differs);
  fs::remove_all(root);
}

namespace {

double choose(int n, int k) {
  if (k < 0 || k > n) return 0;
  double r = 1;
  for (int i = 1; i <= k; i++) r = r * double(n - k + i) / double(i);
  return r;
}

}  // namespace

TEST(EvalRunner, TablesOnTinyModelEqualDirectComputation) {
  const fs::path root = test::temp_dir("eval_tables");
  const std::string model = test::make_sft_trained_model(root);
  const fs::path out = root / "eval";
  const Config c = parse_config("model: {path: " + model +
                                    "}\n"
                                    "benchmarks: [addition]\n"
                                    "limit: 8\n"
                                    "addition: {max_digits: 1}\n"
                                    "sampling: {samples: 8, max_new_tokens: 40, stop: [\"</answer>\"]}\n"
                                    "metrics: {pass_k: [4, 8], cons_k: [4, 8]}\n"
                                    "output: {dir: " + out.string() + ", examples: 2}\n",
                                "eval.yaml", eval_config_schema());
  const EvalRunResult r = run_eval(c);
  ASSERT_EQ(r.results.size(), 1u);
  const BenchmarkResult& res = r.results[0];
  const int N = 8, n = 8;
  EXPECT_EQ(res.problems, N);
  for (const char* m : {"pass@1", "pass@4", "pass@8", "cons@4", "cons@8"}) {
    const MetricEstimate* e = res.metric(m);
    ASSERT_NE(e, nullptr) << m;
    EXPECT_LE(e->ci_low, e->value) << m;
    EXPECT_GE(e->ci_high, e->value) << m;
  }

  // Recompute every metric from samples.jsonl: pass@k = 1 - C(n-c, k) / C(n, k); cons@k votes over the first k.
  std::map<std::string, std::vector<nlohmann::json>> by_problem;
  for (const auto& j : data::read_jsonl((out / "samples.jsonl").string())) by_problem[j["id"]].push_back(j);
  ASSERT_EQ(int(by_problem.size()), N);
  double pass1 = 0, pass4 = 0, pass8 = 0, cons4 = 0, cons8 = 0;
  for (const auto& [id, samples] : by_problem) {
    ASSERT_EQ(int(samples.size()), n);
    std::vector<std::string> answers;
    std::vector<bool> correct;
    int c_ok = 0;
    for (const auto& s : samples) {
      answers.push_back(s["answer"]);
      correct.push_back(s["correct"]);
      c_ok += s["correct"].get<bool>();
      // The verdict is the verifier's on the completion.
      EXPECT_EQ(rewards::verify_math(s["completion"].get<std::string>(), s["gold"].get<std::string>()).correct,
                s["correct"].get<bool>());
    }
    pass1 += double(c_ok) / n;
    pass4 += 1 - choose(n - c_ok, 4) / choose(n, 4);
    pass8 += c_ok > 0;  // k = n: some sample is correct
    cons4 += cons_at_k(answers, correct, equivalence_for("addition"), 4);
    cons8 += cons_at_k(answers, correct, equivalence_for("addition"), 8);
  }
  EXPECT_NEAR(res.metric("pass@1")->value, pass1 / N, 1e-12);
  EXPECT_NEAR(res.metric("pass@4")->value, pass4 / N, 1e-12);
  EXPECT_NEAR(res.metric("pass@8")->value, pass8 / N, 1e-12);
  EXPECT_NEAR(res.metric("cons@4")->value, cons4 / N, 1e-12);
  EXPECT_NEAR(res.metric("cons@8")->value, cons8 / N, 1e-12);
  EXPECT_GT(pass1, 0) << "the SFT-trained model should solve some one-digit sums";
  EXPECT_LT(pass1, N) << "and miss some, or this checks little";

  // The files.
  std::ifstream jf(out / "results.json");
  const auto j = nlohmann::json::parse(jf);
  EXPECT_DOUBLE_EQ(j["benchmarks"][0]["metrics"]["pass@1"]["value"].get<double>(), res.metric("pass@1")->value);
  EXPECT_EQ(j["samples"], n);
  std::ifstream mf(out / "results.md");
  const std::string md((std::istreambuf_iterator<char>(mf)), std::istreambuf_iterator<char>());
  EXPECT_NE(md.find("addition"), std::string::npos) << md;
  EXPECT_NE(md.find("pass@1"), std::string::npos) << md;
  EXPECT_NE(md.find("cons@8"), std::string::npos) << md;
  const auto examples = data::read_jsonl((out / "examples.jsonl").string());
  ASSERT_EQ(examples.size(), 4u);  // 2 worst, 2 best
  EXPECT_EQ(examples[0]["kind"], "worst");
  EXPECT_EQ(examples[3]["kind"], "best");
  EXPECT_LE(examples[0]["correct"].get<int>(), examples[3]["correct"].get<int>());
  EXPECT_TRUE(fs::exists(out / "examples.md"));
  if (!HasFailure()) fs::remove_all(root);
}

TEST(EvalRunner, ConfigMistakesNameTheKey) {
  const fs::path root = test::temp_dir("eval_config");
  const std::string model = test::make_micro_model(root / "m");
  const Config c = parse_config("model: {path: " + model + "}\nsampling: {samples: 2}\nmetrics: {pass_k: [4]}\n",
                                "k.yaml", eval_config_schema());
  try {
    run_eval(c);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("metrics.pass_k"), std::string::npos) << e.what();
  }
  try {
    parse_config("model: {path: x}\nsampling: {top_p: 1.5}\n", "p.yaml", eval_config_schema());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sampling.top_p"), std::string::npos) << e.what();
  }
  fs::remove_all(root);
}
