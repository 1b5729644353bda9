// String-level answer normalisation (see math_normalize.h). Each step is a small function so the order of
// the pipeline in normalize_answer reads as the list of rules it applies.
#include "rewards/math_normalize.h"

#include <array>
#include <cctype>
#include <vector>

#include "rewards/math_extract.h"

namespace r1::rewards::math {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
}

// Replaces the control word `name` (e.g. "\left") only where it is not the prefix of a longer control word
// (\left but not \leftarrow).
void replace_command(std::string& s, std::string_view name, std::string_view to) {
  for (size_t at = s.find(name); at != std::string::npos;) {
    size_t end = at + name.size();
    if (end < s.size() && is_alpha(s[end])) {
      at = s.find(name, end);
      continue;
    }
    s.replace(at, name.size(), to);
    at = s.find(name, at + to.size());
  }
}

// UTF-8 symbols models emit in place of LaTeX.
void replace_unicode(std::string& s) {
  replace_all(s, "\xE2\x88\x92", "-");          // U+2212 minus
  replace_all(s, "\xC3\x97", "\\times ");        // multiplication sign
  replace_all(s, "\xC2\xB7", "\\cdot ");         // middle dot
  replace_all(s, "\xCF\x80", "\\pi ");           // pi
  replace_all(s, "\xE2\x88\x9E", "\\infty ");    // infinity
  replace_all(s, "\xE2\x88\x9A", "\\sqrt ");     // square root
  replace_all(s, "\xC2\xB0", "^\\circ");         // degree sign
  replace_all(s, "\xC2\xB1", "\\pm ");           // plus-minus
  replace_all(s, "\xE2\x88\xAA", "\\cup ");      // union
  replace_all(s, "\xE2\x88\x85", "\\emptyset "); // empty set
  replace_all(s, "\xE2\x88\x88", "\\in ");       // element of
  replace_all(s, "\xE2\x89\xA4", "\\le ");
  replace_all(s, "\xE2\x89\xA5", "\\ge ");
}

// Strips enclosing math delimiters and every bare '$' (currency "\$" is dropped first).
void drop_delimiters(std::string& s) {
  replace_all(s, "\\$", "");
  std::string out;
  for (char c : s)
    if (c != '$') out += c;
  s = trim(out);
  for (auto [l, r] : std::array<std::pair<std::string_view, std::string_view>, 2>{{{"\\(", "\\)"}, {"\\[", "\\]"}}}) {
    if (s.size() >= 4 && s.compare(0, 2, l) == 0 && s.compare(s.size() - 2, 2, r) == 0) s = trim(s.substr(2, s.size() - 4));
  }
}

void drop_sizing(std::string& s) {
  // \left. and \right. are invisible delimiters.
  replace_all(s, "\\left.", "");
  replace_all(s, "\\right.", "");
  for (std::string_view cmd : {"\\left", "\\right", "\\bigl", "\\bigr", "\\Bigl", "\\Bigr", "\\biggl", "\\biggr",
                               "\\Biggl", "\\Biggr", "\\big", "\\Big", "\\bigg", "\\Bigg", "\\displaystyle",
                               "\\textstyle", "\\limits"})
    replace_command(s, cmd, "");
  replace_command(s, "\\dfrac", "\\frac");
  replace_command(s, "\\tfrac", "\\frac");
  replace_command(s, "\\cfrac", "\\frac");
  replace_command(s, "\\dbinom", "\\binom");
  replace_command(s, "\\tbinom", "\\binom");
  replace_command(s, "\\lbrace", "\\{");
  replace_command(s, "\\rbrace", "\\}");
  replace_command(s, "\\lvert", "|");
  replace_command(s, "\\rvert", "|");
  replace_command(s, "\\vert", "|");
  replace_command(s, "\\varnothing", "\\emptyset");
  replace_command(s, "\\leq", "\\le");
  replace_command(s, "\\geq", "\\ge");
  replace_command(s, "\\leqslant", "\\le");
  replace_command(s, "\\geqslant", "\\ge");
}

// ^\circ, ^{\circ}, \degree: degrees are a unit here (never converted to radians).
void drop_degrees(std::string& s) {
  for (std::string_view d : {"^{\\circ}", "^{\\circ }", "^{ \\circ}", "^\\circ", "^{\\degree}", "^\\degree", "\\degree"})
    replace_all(s, d, "");
  replace_command(s, "\\circ", "");
}

void drop_percent(std::string& s) {
  replace_all(s, "\\%", "");
  replace_all(s, "%", "");
}

bool is_unit_text(std::string_view t) {
  bool letter = false;
  for (char c : t) {
    if (is_alpha(c)) letter = true;
    else if (!(c == ' ' || c == '.' || c == '/' || c == '-' || c == '^' || is_digit(c) || c == '{' || c == '}' || c == '\\'))
      return false;
  }
  return letter;
}

constexpr std::array<std::string_view, 9> kTextWrappers = {"\\text", "\\textbf", "\\textit", "\\textrm", "\\mbox",
                                                           "\\mathrm", "\\mathbf", "\\mathit", "\\textsf"};

// A trailing \text{ unit} (optionally squared/cubed) after a value is a unit: "15\mbox{ cm}^2" -> "15".
void drop_trailing_text_unit(std::string& s) {
  for (bool changed = true; changed;) {
    changed = false;
    std::string t = trim(s);
    // Optional ^2 / ^{3} after the unit.
    size_t cut = t.size();
    if (cut >= 2 && t[cut - 2] == '^' && is_digit(t[cut - 1])) cut -= 2;
    else if (cut >= 4 && t.compare(cut - 4, 2, "^{") == 0 && is_digit(t[cut - 2]) && t[cut - 1] == '}') cut -= 4;
    if (cut == 0 || t[cut - 1] != '}') return;
    for (std::string_view w : kTextWrappers) {
      // Find the wrapper whose group ends at cut.
      for (size_t at = t.rfind(w); at != std::string::npos; at = at == 0 ? std::string::npos : t.rfind(w, at - 1)) {
        size_t open = at + w.size();
        while (open < t.size() && t[open] == ' ') ++open;
        if (open >= t.size() || t[open] != '{') continue;
        size_t end = 0;
        auto group = brace_group(t, open, &end);
        if (!group || end != cut) continue;
        std::string before = trim(std::string_view(t).substr(0, at));
        if (before.empty() || !is_unit_text(*group)) break;
        std::string body = trim(*group);
        if (body == "and" || body == "or" || body == "thousand" || body == "million" || body == "billion" ||
            body == "trillion" || body == "dozen")
          break;
        char last = before.back();
        if (!(is_digit(last) || last == '}' || last == ')' || last == '.' || is_alpha(last))) break;
        s = before;
        changed = true;
        break;
      }
      if (changed) break;
    }
  }
}

// \text{X} -> X (and the other font wrappers); \text{ and } -> ", ".
void unwrap_text(std::string& s) {
  for (bool changed = true; changed;) {
    changed = false;
    for (std::string_view w : kTextWrappers) {
      for (size_t at = s.find(w); at != std::string::npos; at = s.find(w, at + 1)) {
        size_t open = at + w.size();
        if (open < s.size() && is_alpha(s[open])) continue;  // \textbackslash etc.
        while (open < s.size() && s[open] == ' ') ++open;
        if (open >= s.size() || s[open] != '{') continue;
        size_t end = 0;
        auto group = brace_group(s, open, &end);
        if (!group) continue;
        std::string body = trim(*group);
        bool conjunction = body == "and" || body == "or";
        // Keep word boundaries: "\text{and}5" must not fuse.
        std::string spaced(1, ' ');
        if (conjunction) spaced.push_back(',');
        else spaced.append(body);
        spaced.push_back(' ');
        s.replace(at, end - at, spaced);
        changed = true;
        break;
      }
    }
  }
}

// Words that only name a unit (or currency) of a numeric answer; removed when they trail a value.
constexpr std::array<std::string_view, 84> kUnitWords = {
    "cm", "mm", "km", "m", "ft", "feet", "foot", "inch", "inches", "in", "yd", "yard", "yards", "mile", "miles",
    "meter", "meters", "metre", "metres", "centimeter", "centimeters", "kilometer", "kilometers", "millimeter",
    "millimeters", "kg", "g", "gram", "grams", "kilogram", "kilograms", "pound", "pounds", "lb", "lbs", "ounce",
    "ounces", "oz", "second", "seconds", "sec", "minute", "minutes", "min", "hour", "hours", "hr", "hrs", "day",
    "days", "week", "weeks", "month", "months", "year", "years", "degree", "degrees", "deg", "radian", "radians",
    "dollar", "dollars", "cent", "cents", "percent", "unit", "units", "square", "sq", "cubic", "mph", "liter",
    "liters", "litre", "litres", "gallon", "gallons", "ml", "people", "students", "ways", "times", "points"};

bool is_unit_word(std::string_view w) {
  std::string lower;
  for (char c : w) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view u : kUnitWords)
    if (lower == u) return true;
  return false;
}

// A value with no letters outside control words ("18", "\frac{1}{2}", "3.5"): any word after it is a unit.
bool is_plain_number_text(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\') {
      while (i + 1 < s.size() && is_alpha(s[i + 1])) ++i;
      continue;
    }
    if (is_alpha(s[i])) return false;
  }
  return true;
}

// "12 inches", "5 square units", "18.90 dollars", "18 apples": trailing unit words after a number (a space is
// required so that "5m" or "2x" keep their letters). Known unit words after any value; other words of three or
// more letters only after a plain number.
void drop_trailing_unit_words(std::string& s) {
  for (;;) {
    std::string t = trim(s);
    size_t cut = t.size();
    if (cut >= 2 && t[cut - 2] == '^' && is_digit(t[cut - 1])) cut -= 2;
    size_t start = cut;
    while (start > 0 && is_alpha(t[start - 1])) --start;
    if (start == cut || start == 0 || t[start - 1] != ' ') return;
    std::string before = trim(std::string_view(t).substr(0, start));
    if (before.empty()) return;
    char last = before.back();
    if (!(is_digit(last) || last == '}' || last == ')')) return;
    if (!is_unit_word(std::string_view(t).substr(start, cut - start)) &&
        !(cut - start >= 3 && is_plain_number_text(before)))
      return;
    s = before;
  }
}

// "5 million" is 5 x 10^6, never 5 with a unit dropped.
void scale_words(std::string& s) {
  static constexpr std::pair<std::string_view, std::string_view> kScales[] = {
      {"thousand", "\\times 10^{3}"}, {"million", "\\times 10^{6}"}, {"billion", "\\times 10^{9}"},
      {"trillion", "\\times 10^{12}"}, {"dozen", "\\times 12"}};
  for (auto [word, power] : kScales) {
    for (size_t at = s.find(word); at != std::string::npos; at = s.find(word, at + 1)) {
      size_t end = at + word.size();
      if (at == 0 || s[at - 1] != ' ' || (end < s.size() && is_alpha(s[end]))) continue;
      size_t k = at - 1;
      while (k > 0 && s[k - 1] == ' ') --k;
      if (k == 0 || !(is_digit(s[k - 1]) || s[k - 1] == '}')) continue;
      s.replace(at, word.size(), power);
    }
  }
}

// " and " / " or " between list items -> ", ".
void words_to_commas(std::string& s) {
  for (std::string_view w : {" and ", " or ", " \\text{and} ", " \\text{or} "}) replace_all(s, w, ", ");
}

void collapse_spaces(std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    out += c;
  }
  s = trim(out);
}

void drop_trailing_punctuation(std::string& s) {
  for (;;) {
    s = trim(s);
    if (s.empty()) return;
    char c = s.back();
    if (c == '.' || c == ';' || c == ',' || c == ':') {
      // "\!." or "\." are not sentence ends, but a trailing '.' after "\\" is never part of the value either.
      s.pop_back();
      continue;
    }
    if (s.size() >= 2 && (s.compare(s.size() - 2, 2, "\\\\") == 0 || s.compare(s.size() - 2, 2, "\\ ") == 0)) {
      s.resize(s.size() - 2);
      continue;
    }
    return;
  }
}

// \! is removed, \, \; \: \(space) ~ \quad become a space; a row break "\\\\" is kept whole.
void spacing_to_space(std::string& s) {
  for (std::string_view sp : {"\\qquad", "\\quad"}) replace_command(s, sp, " ");
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '~') {
      out += ' ';
    } else if (s[i] == '\\' && i + 1 < s.size()) {
      char n = s[i + 1];
      if (n == '!') {
      } else if (n == ',' || n == ';' || n == ':' || n == ' ') {
        out += ' ';
      } else {
        out += s[i];
        out += n;
      }
      ++i;
    } else {
      out += s[i];
    }
  }
  s = out;
}

// Words for infinity and the empty set.
void canonical_words(std::string& s) {
  std::string t = trim(s);
  if (t == "infinity" || t == "inf" || t == "\\inf") s = "\\infty";
  if (t == "-infinity" || t == "-inf") s = "-\\infty";
  if (t == "\\{\\}" || t == "\\{ \\}" || t == "{}") s = "\\emptyset";
  replace_command(s, "\\infin", "\\infty");
}

}  // namespace

std::string strip_thousands_separators(std::string_view in) {
  std::string s(in);
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    bool can_start = is_digit(s[i]) && (i == 0 || !(is_digit(s[i - 1]) || s[i - 1] == '.' || is_alpha(s[i - 1]) || s[i - 1] == '_'));
    if (!can_start) {
      out += s[i++];
      continue;
    }
    size_t j = i;
    while (j < s.size() && is_digit(s[j])) ++j;
    std::string digits = s.substr(i, j - i);
    bool grouped = false;
    if (digits.size() <= 3) {
      for (;;) {
        // Separator forms: ",", "{,}", ",\!" (+ spaces), "\," (thin space); a plain ", " is a list comma.
        size_t k = j;
        if (s.compare(k, 3, "{,}") == 0) k += 3;
        else if (s.compare(k, 3, ",\\!") == 0) {
          k += 3;
          while (k < s.size() && s[k] == ' ') ++k;
        } else if (s.compare(k, 2, "\\,") == 0) k += 2;
        else if (k < s.size() && s[k] == ',') k += 1;
        else break;
        if (k + 3 > s.size() || !is_digit(s[k]) || !is_digit(s[k + 1]) || !is_digit(s[k + 2])) break;
        if (k + 3 < s.size() && is_digit(s[k + 3])) break;
        digits += s.substr(k, 3);
        j = k + 3;
        grouped = true;
      }
    }
    (void)grouped;
    out += digits;
    i = j;
  }
  return out;
}

bool looks_like_words(std::string_view s) {
  static constexpr std::array<std::string_view, 20> kFunctionWords = {
      "sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "exp", "sqrt", "pi", "arcsin", "arccos", "arctan",
      "sinh", "cosh", "tanh", "inf", "infinity", "lim"};
  bool has_word = false;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (is_alpha(c)) {
      size_t j = i;
      while (j < s.size() && is_alpha(s[j])) ++j;
      std::string run;
      for (size_t k = i; k < j; ++k) run += static_cast<char>(std::tolower(static_cast<unsigned char>(s[k])));
      if (run.size() >= 3 || run == "no") {
        bool function = false;
        for (std::string_view f : kFunctionWords)
          if (run == f) function = true;
        if (!function) has_word = true;
      }
      i = j;
      continue;
    }
    if (!(c == ' ' || c == '-' || c == '\'' || c == '.')) return false;
    ++i;
  }
  return has_word;
}

std::string normalize_answer(std::string_view raw) {
  std::string s(raw);
  replace_unicode(s);
  for (char& c : s)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  drop_delimiters(s);
  drop_sizing(s);
  s = strip_thousands_separators(s);
  spacing_to_space(s);
  drop_degrees(s);
  drop_percent(s);
  drop_trailing_punctuation(s);
  drop_trailing_text_unit(s);
  unwrap_text(s);
  collapse_spaces(s);
  drop_trailing_punctuation(s);
  scale_words(s);
  drop_trailing_unit_words(s);
  words_to_commas(s);
  canonical_words(s);
  collapse_spaces(s);
  drop_trailing_punctuation(s);
  return s;
}

}  // namespace r1::rewards::math
