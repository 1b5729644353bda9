// SFT: the loss and its gradients see the assistant's tokens only (exactly), the loss falls on a tiny dataset,
// a killed-and-resumed run reproduces the uninterrupted one, and bad data or config names the line or key.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <utility>

#include "core/error.h"
#include "core/rng.h"
#include "support/micro_model.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/transformer.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "train/run_dir.h"
#include "train/sft.h"

using namespace r1;
namespace fs = std::filesystem;

namespace {

const char* kTemplate = "User: {prompt}\nAssistant:{response}";

// A micro model loaded in memory; its files are removed when it goes.
struct Micro {
  fs::path dir;
  std::unique_ptr<Tokenizer> tok;
  std::unique_ptr<Transformer> model;
  ChatTemplate tmpl;
  Micro() = default;
  Micro(Micro&& o) noexcept
      : dir(std::exchange(o.dir, {})), tok(std::move(o.tok)), model(std::move(o.model)), tmpl(std::move(o.tmpl)) {}
  ~Micro() {
    if (!dir.empty()) fs::remove_all(dir);
  }
};

Micro load_micro(const fs::path& dir) {
  Micro m;
  m.dir = dir;
  test::make_micro_model(dir);
  m.tok = std::make_unique<Tokenizer>(Tokenizer::from_dir(dir.string()));
  m.model = std::make_unique<Transformer>(load_model_config((dir / "config.json").string()));
  load_hf_weights(dir.string(), m.model->layout(), m.model->params());
  m.model->reserve(512);
  m.tmpl = ChatTemplate::resolve(kTemplate, *m.tok);
  return m;
}

std::vector<SftExample> three_examples(const Micro& m) {
  return {encode_sft_example(*m.tok, m.tmpl, {{"user", "What is 3 + 4?"}, {"assistant", " <think> 3+4=7 </think> <answer>7</answer>"}}, "a"),
          encode_sft_example(*m.tok, m.tmpl,
                             {{"user", "What is 12 + 9?"}, {"assistant", " 2+9=11, 1+0+1=2, so 21. The answer is 21."}}, "b"),
          encode_sft_example(*m.tok, m.tmpl,
                             {{"user", "What is 5 + 5?"}, {"assistant", " 10"}, {"user", "And 6 + 6?"}, {"assistant", " 12"}},
                             "c")};
}

}  // namespace

TEST(SftMasking, TargetsAreExactlyTheAssistantTokens) {
  const Micro m = load_micro(test::temp_dir("mask_targets"));
  const auto ex = three_examples(m);
  const PackedBatch b = pack_sft_batch(ex, {0, 1, 2});
  ASSERT_EQ(b.num_sequences(), 3);
  for (int s = 0; s < 3; s++) {
    const SftExample& e = ex[size_t(s)];
    std::vector<int32_t> learned;
    for (size_t i = 0; i < e.tokens.size(); i++) {
      const int32_t t = b.targets[size_t(b.cu_seqlens[size_t(s)]) + i];
      const bool next_is_assistant = i + 1 < e.tokens.size() && e.assistant_mask[i + 1];
      EXPECT_EQ(t >= 0, next_is_assistant) << "sequence " << s << " position " << i;
      if (t >= 0) {
        EXPECT_EQ(t, e.tokens[i + 1]);
        learned.push_back(t);
      }
    }
    // The learned tokens spell the assistant's replies and the end-of-turn token, nothing of the prompt.
    const std::string text = m.tok->decode(learned, false);
    if (s == 0) {
      EXPECT_EQ(text, " <think> 3+4=7 </think> <answer>7</answer><|endoftext|>");
    } else if (s == 2) {
      EXPECT_EQ(text, " 10<|endoftext|> 12<|endoftext|>");
    }
    EXPECT_EQ(text.find("User"), std::string::npos) << text;
  }
}

// The SFT loss through cross_entropy_step (prompt targets -1) against a reference that computes log-probs at
// EVERY position (prompt positions given real, and then random, targets) and back-propagates only the assistant
// positions: losses and gradients agree, and the prompt targets change nothing.
TEST(SftMasking, LossAndGradientsIgnorePromptTargetsExactly) {
  Micro m = load_micro(test::temp_dir("mask_grads"));
  const auto ex = three_examples(m);
  Transformer& model = *m.model;
  const int64_t P = model.num_params();

  const PackedBatch sft = pack_sft_batch(ex, {0, 1, 2});
  model.zero_grads();
  const double loss = model.cross_entropy_step(sft, true);
  const std::vector<float> g_sft(model.grads(), model.grads() + P);
  ASSERT_TRUE(std::isfinite(loss));

  auto reference = [&](bool random_prompt_targets, double* ref_loss) {
    PackedBatch all;
    for (const auto& e : ex) all.add_sequence(e.tokens, std::vector<uint8_t>(e.tokens.size(), 1));
    std::vector<uint8_t> is_assistant_target(size_t(all.num_tokens()), 0);
    for (int s = 0, t = 0; s < 3; s++)
      for (size_t i = 0; i < ex[size_t(s)].tokens.size(); i++, t++)
        is_assistant_target[size_t(t)] = i + 1 < ex[size_t(s)].tokens.size() && ex[size_t(s)].assistant_mask[i + 1];
    Philox rng(5, 1);
    int n = 0;
    for (int t = 0; t < all.num_tokens(); t++) {
      if (is_assistant_target[size_t(t)]) n++;
      else if (random_prompt_targets && all.targets[size_t(t)] >= 0)
        all.targets[size_t(t)] = int32_t(rng.below(uint64_t(model.config().vocab_size)));
    }
    model.forward(all);
    std::vector<float> lp(size_t(all.num_tokens()));
    model.head_forward(all, lp.data(), nullptr);
    std::vector<float> dlp(size_t(all.num_tokens()), 0.0f);
    double sum = 0;
    for (int t = 0; t < all.num_tokens(); t++)
      if (is_assistant_target[size_t(t)]) sum -= lp[size_t(t)], dlp[size_t(t)] = -1.0f / float(n);
    *ref_loss = sum / n;
    model.zero_grads();
    model.backward(all, dlp.data(), nullptr);
    return std::vector<float>(model.grads(), model.grads() + P);
  };
  double l_true = 0, l_random = 0;
  const auto g_true = reference(false, &l_true);
  const auto g_random = reference(true, &l_random);

  EXPECT_NEAR(loss, l_true, 1e-5 * std::abs(l_true));
  EXPECT_EQ(l_true, l_random);  // what the prompt positions would predict plays no part
  double gmax = 0;
  for (float g : g_sft) gmax = std::max(gmax, double(std::abs(g)));
  ASSERT_GT(gmax, 0);
  for (int64_t i = 0; i < P; i++) {
    ASSERT_NEAR(g_sft[size_t(i)], g_true[size_t(i)], 1e-5 * gmax) << "parameter " << i;
    ASSERT_EQ(g_true[size_t(i)], g_random[size_t(i)]) << "parameter " << i;
  }
}

// Finite differences of the masked loss agree with its gradient: the gradient is that of the assistant-only loss.
TEST(SftMasking, MaskedGradientMatchesFiniteDifferences) {
  Micro m = load_micro(test::temp_dir("mask_fd"));
  const auto ex = three_examples(m);
  Transformer& model = *m.model;
  const PackedBatch sft = pack_sft_batch(ex, {0, 1, 2});
  model.zero_grads();
  model.cross_entropy_step(sft, true);
  const int64_t P = model.num_params();
  // The 6 largest gradient entries: well above float32 finite-difference noise.
  std::vector<int64_t> idx(static_cast<size_t>(P));
  for (int64_t i = 0; i < P; i++) idx[size_t(i)] = i;
  std::partial_sort(idx.begin(), idx.begin() + 6, idx.end(),
                    [&](int64_t a, int64_t b) { return std::abs(model.grads()[a]) > std::abs(model.grads()[b]); });
  const std::vector<float> grads(model.grads(), model.grads() + P);
  for (int k = 0; k < 6; k++) {
    const int64_t i = idx[size_t(k)];
    const float saved = model.params()[i], h = 1e-2f;
    model.params()[i] = saved + h;
    const double up = model.cross_entropy_step(sft, false);
    model.params()[i] = saved - h;
    const double down = model.cross_entropy_step(sft, false);
    model.params()[i] = saved;
    const double fd = (up - down) / (2.0 * h);
    EXPECT_NEAR(fd, grads[size_t(i)], 0.03 * std::abs(grads[size_t(i)]) + 1e-4) << "parameter " << i;
  }
}

TEST(SftData, ReadsMessagesAndPromptResponseRecords) {
  const fs::path dir = test::temp_dir("jsonl");
  const fs::path file = dir / "data.jsonl";
  std::ofstream(file) << R"({"prompt": "What is 1 + 1?", "response": " 2"})" "\n\n"
                      << R"({"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, )"
                         R"({"role": "assistant", "content": "Hello"}]})" "\n";
  std::vector<std::string> ids;
  SftJsonlFields f;
  f.system = "Default.";
  const auto convs = read_sft_conversations(file.string(), f, &ids);
  ASSERT_EQ(convs.size(), 2u);
  ASSERT_EQ(convs[0].size(), 3u);  // the default system prompt was added
  EXPECT_EQ(convs[0][0].content, "Default.");
  EXPECT_EQ(convs[0][2].role, "assistant");
  EXPECT_EQ(convs[0][2].content, " 2");
  ASSERT_EQ(convs[1].size(), 3u);  // it had its own
  EXPECT_EQ(convs[1][0].content, "Be brief.");
  EXPECT_EQ(ids[1], file.string() + ":3");

  std::ofstream(file) << R"({"prompt": "a", "response": "b"})" "\n"
                      << R"({"messages": [{"role": "user", "content": "Hi"}, {"role": "robot", "content": "x"}]})" "\n";
  try {
    read_sft_conversations(file.string(), {});
    FAIL() << "a bad role must be an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("data.jsonl:2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("messages[1].role"), std::string::npos) << e.what();
  }
  std::ofstream(file) << R"({"prompt": "a"})" "\n";
  try {
    read_sft_conversations(file.string(), {});
    FAIL() << "a missing response must be an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("data.jsonl:1: missing field 'response'"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(SftData, EpochPlanPacksWithinBudgetAndCoversEveryExampleOnce) {
  std::vector<SftExample> ex;
  for (int i = 0; i < 40; i++) ex.push_back({std::to_string(i), std::vector<int32_t>(size_t(5 + i % 13), 1), {}});
  const auto a = plan_sft_epoch(ex, 64, 1, 0, true), b = plan_sft_epoch(ex, 64, 1, 1, true);
  for (const auto* plan : {&a, &b}) {
    std::vector<int> seen(ex.size(), 0);
    for (const auto& batch : *plan) {
      int64_t tokens = 0;
      for (size_t i : batch) seen[i]++, tokens += int64_t(ex[i].tokens.size());
      EXPECT_LE(tokens, 64);
    }
    for (int s : seen) EXPECT_EQ(s, 1);
  }
  EXPECT_NE(a, b);  // epochs are shuffled differently
  EXPECT_EQ(a, plan_sft_epoch(ex, 64, 1, 0, true));  // and reproducibly
  ex.push_back({"huge", std::vector<int32_t>(100, 1), {}});
  try {
    plan_sft_epoch(ex, 64, 1, 0, true);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("huge"), std::string::npos) << e.what();
  }
}

TEST(SftTrainer, LossFallsOnTinyDataset) {
  const fs::path root = test::temp_dir("falls");
  const std::string base = test::make_micro_model(root / "base");
  const Config c = parse_config("model: {path: " + base +
                                    "}\n"
                                    "data: {source: addition, count: 400, eval_count: 16, max_digits: 2}\n"
                                    "train: {max_steps: 40, batch_tokens: 1024}\n"
                                    "optim: {lr: 0.01, warmup_steps: 4}\n"
                                    "eval: {every: 20}\ncheckpoint: {every: 20}\n",
                                "falls.yaml", sft_config_schema());
  SftRunOptions o;
  o.run_dir = (root / "run").string();
  const SftSummary s = run_sft(c, o);
  EXPECT_EQ(s.steps, 40);
  EXPECT_GT(s.train_examples, 0);
  EXPECT_EQ(s.eval_examples, 16);
  EXPECT_LT(s.final_eval_loss, 0.5 * s.base_eval_loss) << s.base_eval_loss << " -> " << s.final_eval_loss;
  EXPECT_LT(s.final_loss, 0.5 * s.first_loss);
  EXPECT_TRUE(fs::exists(fs::path(s.model_dir) / "model.safetensors"));
  EXPECT_TRUE(fs::exists(fs::path(s.model_dir) / "tokenizer.json"));
  EXPECT_TRUE(fs::exists(root / "run" / "report.html"));
  EXPECT_TRUE(fs::exists(root / "run" / "config.yaml"));
  const auto metrics = test::deterministic_metrics(root / "run");
  EXPECT_EQ(metrics.size(), 41u);  // step 0 (the base model's held-out loss) and steps 1..40
  EXPECT_TRUE(metrics.at(20).count("eval/loss"));
  if (!HasFailure()) fs::remove_all(root);
}

TEST(SftTrainer, ResumeAfterKillMatchesUninterruptedRun) {
  const fs::path root = test::temp_dir("resume");
  const std::string base = test::make_micro_model(root / "base");
  const Config c = parse_config("model: {path: " + base +
                                    "}\n"
                                    "data: {source: addition, count: 60, eval_count: 8}\n"
                                    "train: {epochs: 2, batch_tokens: 512}\n"
                                    "optim: {lr: 0.005, weight_decay: 0.01}\n"
                                    "eval: {every: 2}\ncheckpoint: {every: 2, keep: 3}\n",
                                "resume.yaml", sft_config_schema());
  SftRunOptions full;
  full.run_dir = (root / "full").string();
  const SftSummary a = run_sft(c, full);
  ASSERT_GE(a.steps, 6);  // two epochs of several batches each

  SftRunOptions killed;
  killed.run_dir = (root / "killed").string();
  killed.max_steps_this_run = 3;  // its last checkpoint is step 2; step 3 was logged
  run_sft(c, killed);
  const fs::path half = root / "killed" / "checkpoints" / (checkpoint_dir_name(4) + ".tmp");
  fs::create_directories(half / "model");
  std::ofstream(half / "optimizer.safetensors") << "garbage";
  SftRunOptions resumed;
  resumed.run_dir = killed.run_dir;
  resumed.resume = true;
  const SftSummary b = run_sft(c, resumed);
  EXPECT_EQ(b.steps, a.steps);
  EXPECT_EQ(b.final_eval_loss, a.final_eval_loss);
  EXPECT_EQ(b.first_loss, a.first_loss);  // step 1 ran before the kill; its loss is read back
  EXPECT_EQ(b.final_loss, a.final_loss);

  const auto ma = test::deterministic_metrics(root / "full"), mb = test::deterministic_metrics(root / "killed");
  ASSERT_EQ(ma.size(), size_t(a.steps) + 1);
  ASSERT_EQ(mb.size(), ma.size());
  for (const auto& [step, values] : ma)
    for (const auto& [k, v] : values) {
      ASSERT_TRUE(mb.at(step).count(k)) << step << " " << k;
      EXPECT_EQ(v, mb.at(step).at(k)) << "step " << step << " " << k;
    }
  // The final weights are bit-identical.
  const std::string fa = read_file(fs::path(a.model_dir) / "model.safetensors"),
                    fb = read_file(fs::path(b.model_dir) / "model.safetensors");
  EXPECT_TRUE(fa == fb);

  // Resuming a finished run does nothing more and still reports the final numbers.
  const SftSummary again = run_sft(c, resumed);
  EXPECT_EQ(again.steps, a.steps);
  EXPECT_EQ(again.final_eval_loss, a.final_eval_loss);
  EXPECT_EQ(test::deterministic_metrics(root / "killed").size(), ma.size());
  if (!HasFailure()) fs::remove_all(root);
}

TEST(SftTrainer, ConfigMistakesNameTheKey) {
  try {
    parse_config("model: {path: x}\ntrain: {batch_token: 5}\n", "bad.yaml", sft_config_schema());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("train.batch_token"), std::string::npos) << e.what();
  }
  const fs::path root = test::temp_dir("badcfg");
  const std::string base = test::make_micro_model(root / "base");
  SftRunOptions o;
  o.run_dir = (root / "run").string();
  try {
    run_sft(parse_config("model: {path: " + base + "}\ndata: {source: jsonl}\n", "nodata.yaml", sft_config_schema()), o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("data.path"), std::string::npos) << e.what();
  }
  try {
    run_sft(parse_config("model: {path: /nonexistent}\n", "nomodel.yaml", sft_config_schema()), o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.path"), std::string::npos) << e.what();
  }
  fs::remove_all(root);
}
