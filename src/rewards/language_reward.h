// "language": the language-consistency reward of DeepSeek-R1 (stage-2 RL): the proportion of the chain of
// thought's words that are in the target language, Num(Words_target) / Num(Words). Language is judged by
// script, which is what separates the mixing R1 fights (Chinese in an English CoT and vice versa); languages
// that share a script (English / French) are not told apart.
// Words: a run of letters of one alphabetic script (Latin, Greek, Cyrillic, Arabic, Hebrew, Devanagari, Thai,
// Hangul) is one word; each Han / kana character is one word, since Chinese and Japanese do not space words.
// Digits, punctuation and symbols are not words, and a one-letter run of an alphabetic script is treated as a
// math variable (x, π) rather than a word, so formulas do not count against a Chinese CoT.
// The CoT is the text inside <think>...</think> (from the start when the template prefilled <think>, up to the
// end when </think> is missing); without think tags, the text before <answer> (or the whole completion).
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rewards/reward.h"

namespace r1::rewards {

enum class Script { Latin, Greek, Cyrillic, Arabic, Hebrew, Devanagari, Thai, Hangul, Han, Kana, Other };

struct WordCounts {
  size_t target = 0, total = 0;
};

// The scripts of a language code: en/fr/de/es/it/pt/latin -> Latin, zh -> Han, ja -> Han + Kana,
// ko -> Hangul + Han, ru/uk -> Cyrillic, el -> Greek, ar -> Arabic, he -> Hebrew, hi -> Devanagari, th -> Thai.
// Unknown codes throw r1::Error.
std::vector<Script> scripts_of_language(const std::string& language);
// Counts the words of `text` and those in `target` scripts.
WordCounts count_words(std::string_view text, const std::vector<Script>& target);
// The chain of thought of a completion (see above).
std::string_view chain_of_thought(std::string_view completion, bool think_prefilled);

class LanguageReward : public Reward {
 public:
  struct Options {
    std::string language = "en";
    bool think_prefilled = false;
    bool whole_completion = false;  // score the whole completion rather than the CoT
    double empty_score = 0.0;       // score when the CoT has no words
  };
  explicit LanguageReward(Options options);
  std::string name() const override { return "language"; }
  // metadata.language (a string), when present, overrides the configured target for that input.
  RewardResult score(const RewardInput& input) const override;

 private:
  Options options_;
  std::vector<Script> target_;
};

// params: language (default en), think_prefilled, scope (think | completion), empty_score
std::unique_ptr<Reward> make_language_reward(RewardParams& params);

}  // namespace r1::rewards
