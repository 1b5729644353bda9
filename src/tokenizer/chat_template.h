// Prompt templates: render a conversation the way each model family's Jinja chat template does, without
// a Jinja engine, and encode it with a per-token mask of the assistant's tokens (for SFT loss masking).
//
// Families (byte-exact with the HF templates in shared/data/tokenizers/templates for the features below;
// tools are not supported):
//   R1-Zero   the DeepSeek-R1 paper's Table 1 prompt: "<preamble> User: {prompt}. Assistant:" (with the
//             option of prefilling " <think>")
//   ChatML    Qwen2/2.5(-Math)-Instruct: <|im_start|>role\n...<|im_end|>\n, default system prompt
//   Qwen3     ChatML without a default system prompt, reasoning kept only after the last user turn,
//             enable_thinking=false adds an empty think block to the generation prompt
//   DeepSeek-R1-Distill  BOS + last system text + <｜User｜>...<｜Assistant｜>...<｜end▁of▁sentence｜>,
//             history stripped of reasoning; the 2025-02 version opens generation with "<think>\n"
//   Llama-3   <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> with the 3.1 date preamble
//   Custom    a user string with {system}, {prompt} and {response} placeholders: the text up to and
//             including {system} is written once, the rest once per user turn; a conversation that
//             ends with a user turn ends where {response} goes (that is the generation prompt)
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace r1 {

class ConfigSchema;

class Tokenizer;

// The plain pattern of the built-in tiny model ("User: ...\nAssistant:"): the default template of every job.
inline constexpr const char* kPlainChatPattern = "User: {prompt}\nAssistant:{response}";
// The template names ChatTemplate::resolve knows, as the errors and the config help list them.
inline constexpr const char* kChatTemplateNames =
    "r1-zero, r1-zero-think, chatml, qwen2.5, qwen2.5-math, qwen3, deepseek-r1, deepseek-r1-legacy, llama3, "
    "llama3-meta, auto";

// Declares a job's `model.template` key (default kPlainChatPattern, the tiny model's); `role` adds what the
// template means to that job, e.g. which tokens the loss covers.
void add_template_key(ConfigSchema& schema, const std::string& role = "");

struct ChatMessage {
  std::string role;     // "system", "user" or "assistant"
  std::string content;
};

enum class ChatFamily { kR1Zero, kChatML, kQwen3, kDeepSeekR1, kLlama3, kCustom };

// The R1-Zero preamble, DeepSeek-R1 arXiv v1 Table 1, verbatim.
extern const char* const kR1ZeroPreamble;

struct ChatTemplate {
  ChatFamily family = ChatFamily::kChatML;
  std::string name;             // "chatml", "qwen2.5-math", "deepseek-r1", ... (for logs)
  std::string default_system;   // ChatML: system prompt when none is given ("" = no system turn);
                                // R1-Zero: the preamble
  bool think_prefill = false;   // R1-Zero: " <think>" after "Assistant:"; DeepSeek-R1: "<think>\n" after
                                // the generation prompt's <｜Assistant｜> (the template of 2025-02)
  bool keep_reasoning = false;  // DeepSeek-R1 / Qwen3: keep "<think>...</think>" in assistant turns
                                // (for SFT on reasoning traces); false = exactly what HF renders
  bool enable_thinking = true;  // Qwen3's template variable
  std::string date_string = "26 Jul 2024";  // Llama-3.1's template default
  std::string custom;           // kCustom: "{system}...{prompt}...{response}"
  std::string bos_token, eos_token;  // text of the BOS/EOS tokens (from the tokenizer's config)

  // By name: "r1-zero", "r1-zero-think", "chatml" / "qwen2.5", "qwen2.5-math", "qwen3",
  // "deepseek-r1" (2025-02: generation opens with <think>\n), "deepseek-r1-legacy", "llama3".
  // Throws r1::Error listing the names for an unknown one.
  static ChatTemplate from_name(std::string_view name);
  // Recognises the family of a tokenizer_config.json chat_template (Jinja source). Throws r1::Error
  // when it matches no family we implement.
  static ChatTemplate from_jinja(std::string_view jinja);
  // A template string with {system}, {prompt} and {response}; must contain {prompt} and {response},
  // with {response} after {prompt}.
  static ChatTemplate from_custom(std::string_view pattern);
  // The tokenizer's own template (tokenizer_config.json chat_template) with its BOS/EOS texts.
  static ChatTemplate for_tokenizer(const Tokenizer& tokenizer);
  // name == "auto": for_tokenizer; a known name: from_name; anything with "{prompt}": from_custom.
  // BOS/EOS texts are taken from the tokenizer in every case.
  static ChatTemplate resolve(std::string_view name_or_pattern, const Tokenizer& tokenizer);
};

struct RenderedChat {
  std::string text;
  // Byte ranges [begin, end) of text written by the assistant (its content and the end-of-turn marker
  // that the model must learn to emit), in order.
  std::vector<std::pair<size_t, size_t>> assistant_spans;
};

// Renders the conversation. add_generation_prompt appends the opening of an assistant turn.
// Throws r1::Error for roles the family does not know.
RenderedChat render_chat(const ChatTemplate& tmpl, const std::vector<ChatMessage>& messages,
                         bool add_generation_prompt);
inline std::string apply_chat_template(const ChatTemplate& tmpl, const std::vector<ChatMessage>& messages,
                                       bool add_generation_prompt) {
  return render_chat(tmpl, messages, add_generation_prompt).text;
}

struct EncodedChat {
  std::vector<int32_t> ids;
  std::vector<uint8_t> assistant_mask;  // 1 where the token overlaps an assistant span
};

// Renders and encodes (add_special_tokens=false: the templates write BOS themselves, as transformers'
// apply_chat_template(tokenize=True) does). A token straddling a span edge counts as the assistant's.
EncodedChat encode_chat(const Tokenizer& tokenizer, const ChatTemplate& tmpl, const std::vector<ChatMessage>& messages,
                        bool add_generation_prompt);

}  // namespace r1
