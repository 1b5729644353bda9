// Language-consistency reward: script-based word counting over the chain of thought (see language_reward.h).
#include "rewards/language_reward.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "core/error.h"

namespace r1::rewards {

namespace {

// Decodes one UTF-8 code point at s[i], advancing i; malformed bytes decode to U+FFFD one byte at a time.
char32_t next_code_point(std::string_view s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  int len = b0 < 0x80 ? 1 : (b0 >> 5) == 0x6 ? 2 : (b0 >> 4) == 0xE ? 3 : (b0 >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || i + len > s.size()) {
    ++i;
    return 0xFFFD;
  }
  char32_t cp = len == 1 ? b0 : len == 2 ? (b0 & 0x1F) : len == 3 ? (b0 & 0x0F) : (b0 & 0x07);
  for (int k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b >> 6) != 0x2) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  i += len;
  return cp;
}

bool in(char32_t c, char32_t lo, char32_t hi) { return c >= lo && c <= hi; }

// Combining marks continue the word they follow (accents written as base letter + mark).
bool is_combining(char32_t c) { return in(c, 0x0300, 0x036F) || in(c, 0x1AB0, 0x1AFF) || in(c, 0x20D0, 0x20FF); }

Script script_of(char32_t c) {
  if (in(c, 'A', 'Z') || in(c, 'a', 'z')) return Script::Latin;
  if (c < 0x80) return Script::Other;
  if ((in(c, 0x00C0, 0x024F) && c != 0x00D7 && c != 0x00F7) || in(c, 0x1E00, 0x1EFF)) return Script::Latin;
  if (in(c, 0x0370, 0x03FF) || in(c, 0x1F00, 0x1FFF)) return Script::Greek;
  if (in(c, 0x0400, 0x052F)) return Script::Cyrillic;
  if (in(c, 0x0590, 0x05FF)) return Script::Hebrew;
  if (in(c, 0x0600, 0x06FF) || in(c, 0x0750, 0x077F)) return Script::Arabic;
  if (in(c, 0x0900, 0x097F)) return Script::Devanagari;
  if (in(c, 0x0E00, 0x0E7F)) return Script::Thai;
  if (in(c, 0x1100, 0x11FF) || in(c, 0x3130, 0x318F) || in(c, 0xAC00, 0xD7AF)) return Script::Hangul;
  if (in(c, 0x3040, 0x30FF) || in(c, 0x31F0, 0x31FF)) return Script::Kana;
  if (in(c, 0x4E00, 0x9FFF) || in(c, 0x3400, 0x4DBF) || in(c, 0xF900, 0xFAFF) || in(c, 0x20000, 0x3134F))
    return Script::Han;
  return Script::Other;
}

// Han and kana are counted per character; the other scripts per run of letters.
bool per_character(Script s) { return s == Script::Han || s == Script::Kana; }

}  // namespace

std::vector<Script> scripts_of_language(const std::string& language) {
  std::string l = language;
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return std::tolower(c); });
  if (size_t dash = l.find_first_of("-_"); dash != std::string::npos) l = l.substr(0, dash);  // zh-CN -> zh
  static const char* kLatin[] = {"en", "fr", "de", "es", "it", "pt", "nl", "latin", "vi", "id", "tr", "pl"};
  for (const char* code : kLatin)
    if (l == code) return {Script::Latin};
  if (l == "zh") return {Script::Han};
  if (l == "ja") return {Script::Han, Script::Kana};
  if (l == "ko") return {Script::Hangul, Script::Han};
  if (l == "ru" || l == "uk") return {Script::Cyrillic};
  if (l == "el") return {Script::Greek};
  if (l == "ar") return {Script::Arabic};
  if (l == "he") return {Script::Hebrew};
  if (l == "hi") return {Script::Devanagari};
  if (l == "th") return {Script::Thai};
  throw Error("language reward: unknown language '" + language +
              "' (known: en fr de es it pt nl vi id tr pl latin zh ja ko ru uk el ar he hi th)");
}

WordCounts count_words(std::string_view text, const std::vector<Script>& target) {
  WordCounts counts;
  auto is_target = [&](Script s) { return std::find(target.begin(), target.end(), s) != target.end(); };
  Script run = Script::Other;  // script of the word being read (Other: between words)
  size_t run_letters = 0;
  auto close_run = [&] {
    // A single letter of an alphabetic script is a variable or a symbol, not a word.
    if (run != Script::Other && run_letters >= 2) {
      ++counts.total;
      if (is_target(run)) ++counts.target;
    }
    run = Script::Other;
    run_letters = 0;
  };
  for (size_t i = 0; i < text.size();) {
    const char32_t c = next_code_point(text, i);
    if (is_combining(c) && run != Script::Other) continue;
    const Script s = script_of(c);
    if (s == Script::Other) {
      close_run();
    } else if (per_character(s)) {
      close_run();
      ++counts.total;
      if (is_target(s)) ++counts.target;
    } else {
      if (s != run) close_run();
      run = s;
      ++run_letters;
    }
  }
  close_run();
  return counts;
}

std::string_view chain_of_thought(std::string_view completion, bool think_prefilled) {
  size_t begin = 0;
  if (size_t open = completion.find("<think>"); open != std::string_view::npos) {
    begin = open + 7;
  } else if (!think_prefilled) {
    // No think block: the reasoning is whatever precedes the answer.
    const size_t answer = completion.find("<answer>");
    return completion.substr(0, answer);
  }
  const size_t close = completion.find("</think>", begin);
  return completion.substr(begin, close == std::string_view::npos ? std::string_view::npos : close - begin);
}

LanguageReward::LanguageReward(Options options) : options_(std::move(options)) {
  target_ = scripts_of_language(options_.language);
}

RewardResult LanguageReward::score(const RewardInput& input) const {
  std::vector<Script> target = target_;
  std::string language = options_.language;
  if (input.metadata.is_object() && input.metadata.contains("language") && input.metadata["language"].is_string()) {
    language = input.metadata["language"].get<std::string>();
    target = scripts_of_language(language);
  }
  const std::string_view text =
      options_.whole_completion ? std::string_view(input.completion) : chain_of_thought(input.completion, options_.think_prefilled);
  const WordCounts c = count_words(text, target);
  if (c.total == 0) return {options_.empty_score, "no words"};
  char reason[96];
  std::snprintf(reason, sizeof reason, "%zu/%zu words in %s", c.target, c.total, language.c_str());
  return {double(c.target) / double(c.total), reason};
}

std::unique_ptr<Reward> make_language_reward(RewardParams& params) {
  LanguageReward::Options o;
  o.language = params.get_string("language", "en");
  o.think_prefilled = params.get_bool("think_prefilled", false);
  o.whole_completion = params.get_choice("scope", "think", {"think", "completion"}) == "completion";
  o.empty_score = params.get_number("empty_score", 0.0);
  try {
    scripts_of_language(o.language);
  } catch (const Error& e) {
    params.fail("language", e.what());
  }
  return std::make_unique<LanguageReward>(o);
}

}  // namespace r1::rewards
