// Chat template families implemented directly; each render function mirrors its Jinja template line by
// line (shared/data/tokenizers/templates and the tokenizer_config.json files), with the string methods
// it uses (Python split / strip semantics) written out below.
#include "tokenizer/chat_template.h"

#include "core/config.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace r1 {

const char* const kR1ZeroPreamble =
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The "
    "assistant first thinks about the reasoning process in the mind and then provides the user with the answer. "
    "The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, "
    "respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>.";

namespace {

constexpr const char* kQwenDefaultSystem = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";
constexpr const char* kQwenMathSystem =
    "Please reason step by step, and put your final answer within \\boxed{}.";
constexpr const char* kDeepSeekUser = "<｜User｜>";
constexpr const char* kDeepSeekAssistant = "<｜Assistant｜>";
constexpr const char* kDeepSeekEnd = "<｜end▁of▁sentence｜>";

// ---- Python string helpers (the templates call these on message content) ----

// str.split(sep)[-1]: the text after the last sep (all of s when sep is absent).
std::string_view after_last(std::string_view s, std::string_view sep) {
  const size_t p = s.rfind(sep);
  return p == std::string_view::npos ? s : s.substr(p + sep.size());
}
// str.split(sep)[0]: the text before the first sep.
std::string_view before_first(std::string_view s, std::string_view sep) {
  const size_t p = s.find(sep);
  return p == std::string_view::npos ? s : s.substr(0, p);
}
std::string_view lstrip_newlines(std::string_view s) {
  while (!s.empty() && s.front() == '\n') s.remove_prefix(1);
  return s;
}
std::string_view rstrip_newlines(std::string_view s) {
  while (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  return s;
}
// Python str.strip() with no argument, which Jinja's |trim calls: str.isspace() characters.
bool python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}
std::string_view python_strip(std::string_view s) {
  char32_t cp;
  while (!s.empty()) {
    const size_t len = tok::utf8_decode(s, 0, &cp);
    if (!python_space(cp)) break;
    s.remove_prefix(len);
  }
  while (!s.empty()) {
    const size_t len = tok::utf8_last_char_len(s);
    tok::utf8_decode(s, s.size() - len, &cp);
    if (!python_space(cp)) break;
    s.remove_suffix(len);
  }
  return s;
}

// Accumulates the rendered text and the assistant spans.
struct Writer {
  RenderedChat out;
  void text(std::string_view s) { out.text.append(s); }
  void assistant(std::string_view s) {
    if (s.empty()) return;
    const size_t begin = out.text.size();
    out.text.append(s);
    if (!out.assistant_spans.empty() && out.assistant_spans.back().second == begin)
      out.assistant_spans.back().second = out.text.size();
    else
      out.assistant_spans.emplace_back(begin, out.text.size());
  }
};

[[noreturn]] void unsupported_role(const ChatTemplate& t, const std::string& role) {
  throw Error("chat template '" + t.name + "': unsupported message role '" + role +
              "' (supported: system, user, assistant)");
}

// ---- families ----

RenderedChat render_chatml(const ChatTemplate& t, const std::vector<ChatMessage>& m, bool gen) {
  Writer w;
  if (!m.empty() && m[0].role == "system") {
    w.text("<|im_start|>system\n" + m[0].content + "<|im_end|>\n");
  } else if (!t.default_system.empty()) {
    w.text("<|im_start|>system\n" + t.default_system + "<|im_end|>\n");
  }
  for (size_t i = 0; i < m.size(); ++i) {
    const ChatMessage& msg = m[i];
    if (msg.role == "user" || (msg.role == "system" && i > 0)) {
      w.text("<|im_start|>" + msg.role + "\n" + msg.content + "<|im_end|>\n");
    } else if (msg.role == "assistant") {
      w.text("<|im_start|>assistant\n");
      w.assistant(msg.content);
      w.assistant("<|im_end|>");
      w.text("\n");
    } else if (msg.role != "system") {
      unsupported_role(t, msg.role);
    }
  }
  if (gen) w.text("<|im_start|>assistant\n");
  return std::move(w.out);
}

RenderedChat render_qwen3(const ChatTemplate& t, const std::vector<ChatMessage>& m, bool gen) {
  Writer w;
  if (!m.empty() && m[0].role == "system") w.text("<|im_start|>system\n" + m[0].content + "<|im_end|>\n");
  // Index of the last real user query (not a tool response wrapped as a user turn).
  size_t last_query = m.empty() ? 0 : m.size() - 1;
  for (size_t k = m.size(); k-- > 0;) {
    const std::string& c = m[k].content;
    const bool tool_response = c.rfind("<tool_response>", 0) == 0 && c.size() >= 16 &&
                               c.compare(c.size() - 16, 16, "</tool_response>") == 0;
    if (m[k].role == "user" && !tool_response) {
      last_query = k;
      break;
    }
  }
  for (size_t i = 0; i < m.size(); ++i) {
    const ChatMessage& msg = m[i];
    if (msg.role == "user" || (msg.role == "system" && i > 0)) {
      w.text("<|im_start|>" + msg.role + "\n" + msg.content + "<|im_end|>\n");
    } else if (msg.role == "assistant") {
      std::string_view content = msg.content;
      std::string_view reasoning;
      if (content.find("</think>") != std::string_view::npos) {
        content = lstrip_newlines(after_last(msg.content, "</think>"));
        reasoning = lstrip_newlines(after_last(rstrip_newlines(before_first(msg.content, "</think>")), "<think>"));
      }
      w.text("<|im_start|>assistant\n");
      const bool after_query = i > last_query || (t.keep_reasoning && !reasoning.empty());
      if (after_query && (i + 1 == m.size() || !reasoning.empty())) {
        w.assistant("<think>\n" + std::string(rstrip_newlines(lstrip_newlines(reasoning))) + "\n</think>\n\n" +
                    std::string(lstrip_newlines(content)));
      } else {
        w.assistant(content);
      }
      w.assistant("<|im_end|>");
      w.text("\n");
    } else if (msg.role != "system") {
      unsupported_role(t, msg.role);
    }
  }
  if (gen) {
    w.text("<|im_start|>assistant\n");
    if (!t.enable_thinking) w.text("<think>\n\n</think>\n\n");
  }
  return std::move(w.out);
}

RenderedChat render_deepseek_r1(const ChatTemplate& t, const std::vector<ChatMessage>& m, bool gen) {
  Writer w;
  std::string system;  // the last system message wins, glued after BOS with no marker
  for (const ChatMessage& msg : m)
    if (msg.role == "system") system = msg.content;
  w.text(t.bos_token);
  w.text(system);
  for (const ChatMessage& msg : m) {
    if (msg.role == "user") {
      w.text(kDeepSeekUser + msg.content);
    } else if (msg.role == "assistant") {
      std::string_view content = msg.content;
      if (!t.keep_reasoning && content.find("</think>") != std::string_view::npos)
        content = after_last(content, "</think>");
      w.text(kDeepSeekAssistant);
      w.assistant(content);
      w.assistant(kDeepSeekEnd);
    } else if (msg.role != "system") {
      unsupported_role(t, msg.role);
    }
  }
  if (gen) w.text(t.think_prefill ? std::string(kDeepSeekAssistant) + "<think>\n" : std::string(kDeepSeekAssistant));
  return std::move(w.out);
}

RenderedChat render_llama3(const ChatTemplate& t, const std::vector<ChatMessage>& m, bool gen) {
  Writer w;
  w.text(t.bos_token);
  size_t first = 0;
  // date_string empty: Meta's own ChatFormat (meta-llama/llama3), with no system preamble.
  if (!t.date_string.empty()) {
    std::string system;
    if (!m.empty() && m[0].role == "system") {
      system = std::string(python_strip(m[0].content));
      first = 1;
    }
    w.text("<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: " +
           t.date_string + "\n\n" + system + "<|eot_id|>");
  }
  for (size_t i = first; i < m.size(); ++i) {
    const ChatMessage& msg = m[i];
    if (msg.role == "tool" || msg.role == "ipython") unsupported_role(t, msg.role);
    w.text("<|start_header_id|>" + msg.role + "<|end_header_id|>\n\n");
    const std::string_view content = python_strip(msg.content);
    if (msg.role == "assistant") {
      w.assistant(content);
      w.assistant("<|eot_id|>");
    } else {
      w.text(content);
      w.text("<|eot_id|>");
    }
  }
  if (gen) w.text("<|start_header_id|>assistant<|end_header_id|>\n\n");
  return std::move(w.out);
}

RenderedChat render_r1_zero(const ChatTemplate& t, const std::vector<ChatMessage>& m, bool gen) {
  Writer w;
  std::string preamble = t.default_system;
  for (const ChatMessage& msg : m)
    if (msg.role == "system") preamble = msg.content;
  w.text(preamble);
  const std::string opener = t.think_prefill ? " Assistant: <think>" : " Assistant:";
  for (const ChatMessage& msg : m) {
    if (msg.role == "user") {
      w.text((w.out.text.empty() ? "User: " : " User: ") + msg.content + ".");
    } else if (msg.role == "assistant") {
      w.text(opener);
      std::string_view content = msg.content;
      if (t.think_prefill && content.rfind("<think>", 0) == 0) content.remove_prefix(7);  // already in the prompt
      else if (!t.think_prefill && !content.empty() && !python_space(static_cast<unsigned char>(content[0])))
        w.text(" ");
      w.assistant(content);
      w.assistant(t.eos_token);
    } else if (msg.role != "system") {
      unsupported_role(t, msg.role);
    }
  }
  if (gen) w.text(opener);
  return std::move(w.out);
}

RenderedChat render_custom(const ChatTemplate& t, const std::vector<ChatMessage>& m, bool gen) {
  // header = the pattern up to and including {system}; the rest repeats once per user turn.
  const std::string& p = t.custom;
  const size_t sys = p.find("{system}");
  const size_t turn_begin = sys == std::string::npos ? 0 : sys + 8;
  const size_t prompt_at = p.find("{prompt}", turn_begin);
  const size_t response_at = p.find("{response}", prompt_at);
  const std::string before_prompt = p.substr(turn_begin, prompt_at - turn_begin);
  const std::string between = p.substr(prompt_at + 8, response_at - prompt_at - 8);
  const std::string after_response = p.substr(response_at + 10);
  std::string system;
  for (const ChatMessage& msg : m)
    if (msg.role == "system") system = msg.content;
  Writer w;
  if (sys != std::string::npos) w.text(p.substr(0, sys) + system);
  bool open_turn = false;  // a user turn is waiting for its response
  for (const ChatMessage& msg : m) {
    if (msg.role == "user") {
      if (open_turn) w.text(after_response);
      w.text(before_prompt + msg.content + between);
      open_turn = true;
    } else if (msg.role == "assistant") {
      if (!open_turn) throw Error("chat template '" + t.name + "': an assistant message must follow a user message");
      w.assistant(msg.content);
      w.assistant(t.eos_token);
      w.text(after_response);
      open_turn = false;
    } else if (msg.role != "system") {
      unsupported_role(t, msg.role);
    }
  }
  (void)gen;  // the generation prompt is the open turn itself: it ends right where {response} goes
  return std::move(w.out);
}

// Jinja string-literal unescaping for the default system prompt we lift out of a ChatML template.
std::string jinja_unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      const char e = s[++i];
      out += e == 'n' ? '\n' : e == 't' ? '\t' : e;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The default system text of a ChatML template: the `'<|im_start|>system\n<literal><|im_end|>\n'` output
// statement (the other branch concatenates messages[0]['content'] instead of a literal).
std::string chatml_default_system(std::string_view jinja) {
  for (const std::string_view marker : {std::string_view("<|im_start|>system\\n"), std::string_view("<|im_start|>system\n")}) {
    for (size_t at = jinja.find(marker); at != std::string_view::npos; at = jinja.find(marker, at + 1)) {
      const size_t begin = at + marker.size();
      const size_t end = jinja.find("<|im_end|>", begin);
      if (end == std::string_view::npos) continue;
      const std::string_view literal = jinja.substr(begin, end - begin);
      if (literal.empty() || literal.find('\'') != std::string_view::npos || literal.find('"') != std::string_view::npos ||
          literal.find("{{") != std::string_view::npos || literal.find("{%") != std::string_view::npos)
        continue;
      return jinja_unescape(literal);
    }
  }
  return "";
}

}  // namespace

ChatTemplate ChatTemplate::from_name(std::string_view name) {
  ChatTemplate t;
  t.name = std::string(name);
  if (name == "r1-zero" || name == "r1-zero-think") {
    t.family = ChatFamily::kR1Zero;
    t.default_system = kR1ZeroPreamble;
    t.think_prefill = name == "r1-zero-think";
  } else if (name == "chatml" || name == "qwen2.5") {
    t.family = ChatFamily::kChatML;
    t.default_system = kQwenDefaultSystem;
  } else if (name == "qwen2.5-math") {
    t.family = ChatFamily::kChatML;
    t.default_system = kQwenMathSystem;
  } else if (name == "qwen3") {
    t.family = ChatFamily::kQwen3;
  } else if (name == "deepseek-r1" || name == "deepseek-r1-legacy") {
    t.family = ChatFamily::kDeepSeekR1;
    t.think_prefill = name == "deepseek-r1";
    t.bos_token = "<｜begin▁of▁sentence｜>";
    t.eos_token = kDeepSeekEnd;
  } else if (name == "llama3" || name == "llama3-meta") {
    t.family = ChatFamily::kLlama3;
    t.bos_token = "<|begin_of_text|>";
    t.eos_token = "<|eot_id|>";
    if (name == "llama3-meta") t.date_string.clear();
  } else {
    throw Error("unknown chat template '" + std::string(name) + "' (known: " + kChatTemplateNames +
                ", or a string with {prompt} and {response})");
  }
  return t;
}

ChatTemplate ChatTemplate::from_jinja(std::string_view j) {
  auto has = [&](std::string_view s) { return j.find(s) != std::string_view::npos; };
  ChatTemplate t;
  if (has("<｜Assistant｜>") && has("<｜User｜>")) {
    t = from_name("deepseek-r1");
    t.think_prefill = has("<｜Assistant｜><think>\\n") || has("<｜Assistant｜><think>\n");
    t.name = t.think_prefill ? "deepseek-r1" : "deepseek-r1-legacy";
  } else if (has("<|start_header_id|>") && has("<|eot_id|>")) {
    t = from_name(has("Cutting Knowledge Date") ? "llama3" : "llama3-meta");
  } else if (has("<|im_start|>")) {
    if (has("enable_thinking") || has("reasoning_content")) {
      t = from_name("qwen3");
    } else {
      t = from_name("chatml");
      t.default_system = chatml_default_system(j);
    }
  } else {
    throw Error("unrecognised chat template (not ChatML, Qwen3, DeepSeek-R1 or Llama-3); name a family "
                "(r1-zero, chatml, qwen3, deepseek-r1, llama3, ...) or give a {prompt}/{response} template");
  }
  return t;
}

ChatTemplate ChatTemplate::from_custom(std::string_view pattern) {
  const size_t prompt = pattern.find("{prompt}");
  const size_t response = prompt == std::string_view::npos ? prompt : pattern.find("{response}", prompt);
  if (prompt == std::string_view::npos || response == std::string_view::npos)
    throw Error("chat template '" + std::string(pattern) + "': needs {prompt} followed by {response}");
  const size_t system = pattern.find("{system}");
  if (system != std::string_view::npos && system > prompt)
    throw Error("chat template '" + std::string(pattern) + "': {system} must come before {prompt}");
  ChatTemplate t;
  t.family = ChatFamily::kCustom;
  t.name = "custom";
  t.custom = std::string(pattern);
  return t;
}

ChatTemplate ChatTemplate::for_tokenizer(const Tokenizer& tokenizer) {
  if (tokenizer.chat_template().empty())
    throw Error(tokenizer.source() + ": no chat_template in tokenizer_config.json; name a template family");
  ChatTemplate t = from_jinja(tokenizer.chat_template());
  if (!tokenizer.bos_token().empty() || t.family != ChatFamily::kDeepSeekR1) t.bos_token = tokenizer.bos_token();
  if (!tokenizer.eos_token().empty()) t.eos_token = tokenizer.eos_token();
  return t;
}

ChatTemplate ChatTemplate::resolve(std::string_view name_or_pattern, const Tokenizer& tokenizer) {
  if (name_or_pattern == "auto") return for_tokenizer(tokenizer);
  ChatTemplate t = name_or_pattern.find("{prompt}") != std::string_view::npos ? from_custom(name_or_pattern)
                                                                              : from_name(name_or_pattern);
  if (!tokenizer.bos_token().empty()) t.bos_token = tokenizer.bos_token();
  if (!tokenizer.eos_token().empty()) t.eos_token = tokenizer.eos_token();
  return t;
}

RenderedChat render_chat(const ChatTemplate& t, const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
  switch (t.family) {
    case ChatFamily::kR1Zero: return render_r1_zero(t, messages, add_generation_prompt);
    case ChatFamily::kChatML: return render_chatml(t, messages, add_generation_prompt);
    case ChatFamily::kQwen3: return render_qwen3(t, messages, add_generation_prompt);
    case ChatFamily::kDeepSeekR1: return render_deepseek_r1(t, messages, add_generation_prompt);
    case ChatFamily::kLlama3: return render_llama3(t, messages, add_generation_prompt);
    case ChatFamily::kCustom: return render_custom(t, messages, add_generation_prompt);
  }
  R1_CHECK(false, "unhandled chat family");
}

EncodedChat encode_chat(const Tokenizer& tokenizer, const ChatTemplate& tmpl, const std::vector<ChatMessage>& messages,
                        bool add_generation_prompt) {
  const RenderedChat r = render_chat(tmpl, messages, add_generation_prompt);
  EncodedChat out;
  out.ids = tokenizer.encode(r.text, false);
  // Token byte ranges from the decode table; valid when the tokens spell the text byte for byte (no
  // normalization changed it, which is the case for NFC text).
  std::string spelled;
  spelled.reserve(r.text.size());
  for (int32_t id : out.ids) spelled += tokenizer.token_bytes(id);
  if (spelled == r.text) {
    out.assistant_mask.assign(out.ids.size(), 0);
    size_t pos = 0, span = 0;
    for (size_t k = 0; k < out.ids.size(); ++k) {
      const size_t b = pos, e = pos + tokenizer.token_bytes(out.ids[k]).size();
      pos = e;
      while (span < r.assistant_spans.size() && r.assistant_spans[span].second <= b) ++span;
      if (span < r.assistant_spans.size() && b < r.assistant_spans[span].second && e > r.assistant_spans[span].first)
        out.assistant_mask[k] = 1;
    }
    return out;
  }
  // Otherwise encode piece by piece, each piece wholly inside or outside the assistant's text.
  out.ids.clear();
  size_t pos = 0;
  auto add = [&](size_t b, size_t e, uint8_t flag) {
    if (e <= b) return;
    const auto ids = tokenizer.encode(std::string_view(r.text).substr(b, e - b), false);
    out.ids.insert(out.ids.end(), ids.begin(), ids.end());
    out.assistant_mask.insert(out.assistant_mask.end(), ids.size(), flag);
  };
  for (const auto& [b, e] : r.assistant_spans) {
    add(pos, b, 0);
    add(b, e, 1);
    pos = e;
  }
  add(pos, r.text.size(), 0);
  return out;
}

void add_template_key(ConfigSchema& schema, const std::string& role) {
  schema.add("model.template", ConfigType::String, kPlainChatPattern,
             std::string("Chat template: a name (") + kChatTemplateNames + ") or a pattern with {prompt} and {response}" +
                 (role.empty() ? "" : "; " + role));
}

}  // namespace r1
