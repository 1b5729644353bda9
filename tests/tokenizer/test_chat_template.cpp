// Prompt templates: byte-exact renders and ids against the rendered examples (templates rendered with a
// Jinja engine and tokenized, shared/data/tokenizers/templates/rendered-examples.SECONDARY.json), Meta's
// ChatFormat ids, the R1-Zero prompt of the paper, and the assistant-token mask.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "tokenizer/chat_template.h"
#include "tokenizer_test_util.h"

using namespace r1;
using namespace r1::test;
using nlohmann::json;

namespace {

std::vector<ChatMessage> messages_of(const json& j) {
  std::vector<ChatMessage> m;
  for (const json& x : j) m.push_back({x["role"].get<std::string>(), x["content"].get<std::string>()});
  return m;
}

// The template and tokenizer a rendered example was produced with.
std::pair<ChatTemplate, const Tokenizer*> template_for(const json& ex) {
  const std::string file = ex["template_file"].get<std::string>();
  const Tokenizer* tok = &qwen25();
  if (file.find("DeepSeek") != std::string::npos) tok = &r1_distill();
  if (file.find("llama") != std::string::npos || file.find("Llama") != std::string::npos) tok = &llama32();
  if (file.find("qwen3") != std::string::npos) tok = &qwen3();
  std::string jinja;
  const size_t hash = file.find("#chat_template");
  if (hash != std::string::npos)
    jinja = read_json(shared_path(file.substr(0, hash)))["chat_template"].get<std::string>();
  else
    jinja = read_text(shared_path(file));
  ChatTemplate t = ChatTemplate::from_jinja(jinja);
  const json& vars = ex["extra_vars"];
  t.bos_token = vars["bos_token"].is_null() ? "" : vars["bos_token"].get<std::string>();
  t.eos_token = vars["eos_token"].get<std::string>();
  if (vars.contains("date_string")) t.date_string = vars["date_string"].get<std::string>();
  if (vars.contains("enable_thinking")) t.enable_thinking = vars["enable_thinking"].get<bool>();
  return {t, tok};
}

std::string masked_text(const Tokenizer& tok, const EncodedChat& e, uint8_t flag) {
  std::string s;
  for (size_t i = 0; i < e.ids.size(); ++i)
    if (e.assistant_mask[i] == flag) s += tok.token_bytes(e.ids[i]);
  return s;
}

}  // namespace

TEST(ChatTemplate, RenderedExamplesMatchTextAndIds) {
  R1_REQUIRE_SHARED_TOKENIZERS();
  const json doc = read_json(shared_path("templates/rendered-examples.SECONDARY.json"));
  int checked = 0;
  for (const json& ex : doc["results"]) {
    const auto [tmpl, tok] = template_for(ex);
    const auto messages = messages_of(ex["messages"]);
    const bool gen = ex["add_generation_prompt"].get<bool>();
    const std::string label = ex["template"].get<std::string>() + " / " + ex["conversation"].get<std::string>() +
                              (gen ? " / gen" : "") + " / " + ex["extra_vars"].dump();
    EXPECT_EQ(apply_chat_template(tmpl, messages, gen), ex["rendered"].get<std::string>()) << label;
    const EncodedChat enc = encode_chat(*tok, tmpl, messages, gen);
    EXPECT_EQ(enc.ids, ex["ids_add_special_tokens_false"].get<std::vector<int32_t>>()) << label;
    ++checked;
  }
  EXPECT_EQ(checked, 48);
}

TEST(ChatTemplate, FamiliesRecognisedFromTokenizerConfigs) {
  R1_REQUIRE_SHARED_TOKENIZERS();
  const ChatTemplate q = ChatTemplate::for_tokenizer(qwen25());
  EXPECT_EQ(q.family, ChatFamily::kChatML);
  EXPECT_EQ(q.default_system, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
  EXPECT_EQ(q.eos_token, "<|im_end|>");
  EXPECT_EQ(ChatTemplate::for_tokenizer(qwen3()).family, ChatFamily::kQwen3);
  const ChatTemplate r = ChatTemplate::for_tokenizer(r1_distill());
  EXPECT_EQ(r.family, ChatFamily::kDeepSeekR1);
  EXPECT_TRUE(r.think_prefill);
  EXPECT_EQ(r.bos_token, "<｜begin▁of▁sentence｜>");
  EXPECT_EQ(ChatTemplate::for_tokenizer(llama32()).family, ChatFamily::kLlama3);
  const ChatTemplate math = ChatTemplate::from_jinja(read_text(shared_path("templates/Qwen-Qwen2.5-Math-Instruct.RECONSTRUCTED.jinja")));
  EXPECT_EQ(math.default_system, "Please reason step by step, and put your final answer within \\boxed{}.");
  const ChatTemplate legacy = ChatTemplate::from_jinja(
      read_text(shared_path("templates/deepseek-ai-DeepSeek-R1-Distill-Qwen.pre-2025-02.RECONSTRUCTED.jinja")));
  EXPECT_FALSE(legacy.think_prefill);
  EXPECT_THROW(ChatTemplate::from_jinja("{{ messages[0].content }}"), Error);
  EXPECT_THROW(ChatTemplate::from_name("vicuna"), Error);
}

TEST(ChatTemplate, MetaChatFormatIdsForLlama3Meta) {
  R1_REQUIRE_SHARED_TOKENIZERS();
  const json doc = read_json(shared_path("llama-3.2/test-vectors/meta-llama3-test_tokenizer.json"));
  ChatTemplate t = ChatTemplate::resolve("llama3-meta", llama32());
  int checked = 0;
  for (const json& c : doc["cases"]) {
    if (c["kind"] == "encode_dialog_prompt") {
      EXPECT_EQ(encode_chat(llama32(), t, messages_of(c["dialog"]), true).ids, c["ids"].get<std::vector<int32_t>>());
      ++checked;
    } else if (c["kind"] == "encode_message") {
      // One message without BOS: render with an empty BOS text.
      ChatTemplate no_bos = t;
      no_bos.bos_token.clear();
      EXPECT_EQ(encode_chat(llama32(), no_bos, messages_of(json::array({c["message"]})), false).ids,
                c["ids"].get<std::vector<int32_t>>());
      ++checked;
    }
  }
  EXPECT_EQ(checked, 2);
}

TEST(ChatTemplate, R1ZeroPromptIsThePapersTable1) {
  const ChatTemplate t = ChatTemplate::from_name("r1-zero");
  const std::string text = apply_chat_template(t, {{"user", "What is 2+3?"}}, true);
  EXPECT_EQ(text,
            "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The "
            "assistant first thinks about the reasoning process in the mind and then provides the user with the "
            "answer. The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> "
            "tags, respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>. "
            "User: What is 2+3?. Assistant:");
  const ChatTemplate think = ChatTemplate::from_name("r1-zero-think");
  EXPECT_THAT(apply_chat_template(think, {{"user", "q"}}, true), ::testing::EndsWith("User: q. Assistant: <think>"));
  // A completed turn: the response follows the prompt, then EOS (when known), and is the assistant's.
  ChatTemplate with_eos = t;
  with_eos.eos_token = "<|endoftext|>";
  const RenderedChat r = render_chat(with_eos, {{"user", "q"}, {"assistant", "<think> 5 </think> <answer> 5 </answer>"}}, false);
  ASSERT_EQ(r.assistant_spans.size(), 1u);
  EXPECT_EQ(r.text.substr(r.assistant_spans[0].first), "<think> 5 </think> <answer> 5 </answer><|endoftext|>");
  EXPECT_THAT(r.text, ::testing::EndsWith(". Assistant: <think> 5 </think> <answer> 5 </answer><|endoftext|>"));
}

TEST(ChatTemplate, AssistantMaskCoversContentAndEndOfTurnOnly) {
  R1_REQUIRE_SHARED_TOKENIZERS();
  const std::vector<ChatMessage> conv = {{"user", "What is 1+1?"},
                                         {"assistant", "It is 2."},
                                         {"user", "And 2+2?"},
                                         {"assistant", "It is 4."}};
  const EncodedChat q = encode_chat(qwen25(), ChatTemplate::for_tokenizer(qwen25()), conv, false);
  ASSERT_EQ(q.ids.size(), q.assistant_mask.size());
  EXPECT_EQ(masked_text(qwen25(), q, 1), "It is 2.<|im_end|>It is 4.<|im_end|>");
  EXPECT_THAT(masked_text(qwen25(), q, 0), ::testing::HasSubstr("<|im_start|>assistant\n"));
  const EncodedChat l = encode_chat(llama32(), ChatTemplate::for_tokenizer(llama32()), conv, false);
  EXPECT_EQ(masked_text(llama32(), l, 1), "It is 2.<|eot_id|>It is 4.<|eot_id|>");
  const EncodedChat d = encode_chat(r1_distill(), ChatTemplate::for_tokenizer(r1_distill()), conv, false);
  EXPECT_EQ(masked_text(r1_distill(), d, 1), "It is 2.<｜end▁of▁sentence｜>It is 4.<｜end▁of▁sentence｜>");
  EXPECT_EQ(d.ids.front(), 151646);  // the template's BOS text, encoded once (no double BOS)
  EXPECT_NE(d.ids[1], 151646);
}

TEST(ChatTemplate, DeepSeekKeepReasoningForSft) {
  R1_REQUIRE_SHARED_TOKENIZERS();
  ChatTemplate t = ChatTemplate::for_tokenizer(r1_distill());
  const std::vector<ChatMessage> conv = {{"user", "1+1?"}, {"assistant", "<think>\nadd\n</think>\n\n2"}};
  // HF's template drops the reasoning from history...
  EXPECT_EQ(apply_chat_template(t, conv, false), "<｜begin▁of▁sentence｜><｜User｜>1+1?<｜Assistant｜>\n\n2<｜end▁of▁sentence｜>");
  // ...keep_reasoning trains on it, and the prompt part equals the generation prompt minus "<think>\n".
  t.keep_reasoning = true;
  const EncodedChat e = encode_chat(r1_distill(), t, conv, false);
  EXPECT_EQ(masked_text(r1_distill(), e, 1), "<think>\nadd\n</think>\n\n2<｜end▁of▁sentence｜>");
}

TEST(ChatTemplate, CustomTemplateWithPlaceholders) {
  ChatTemplate t = ChatTemplate::from_custom("{system}\nQ: {prompt}\nA: {response}\n");
  t.eos_token = "</s>";
  const RenderedChat r = render_chat(t, {{"system", "Be brief."}, {"user", "2+2?"}, {"assistant", "4"}, {"user", "3+3?"}}, true);
  EXPECT_EQ(r.text, "Be brief.\nQ: 2+2?\nA: 4</s>\n\nQ: 3+3?\nA: ");
  ASSERT_EQ(r.assistant_spans.size(), 1u);
  EXPECT_EQ(r.text.substr(r.assistant_spans[0].first, r.assistant_spans[0].second - r.assistant_spans[0].first), "4</s>");
  EXPECT_THROW(ChatTemplate::from_custom("{response} then {prompt}"), Error);
  EXPECT_THROW(render_chat(t, {{"tool", "x"}}, false), Error);
}
