// Final-answer extraction (see math_extract.h). Works on byte strings: every anchor is ASCII, and UTF-8
// continuation bytes never equal an ASCII delimiter, so multi-byte text passes through untouched.
#include "rewards/math_extract.h"

#include <algorithm>
#include <cctype>

namespace r1::rewards::math {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool starts_with_at(std::string_view s, size_t pos, std::string_view word) {
  return pos <= s.size() && s.substr(pos, word.size()) == word;
}

// Case-insensitive rfind.
size_t rfind_nocase(std::string_view s, std::string_view needle, size_t before = std::string_view::npos) {
  if (needle.size() > s.size()) return std::string_view::npos;
  size_t start = std::min(before == std::string_view::npos ? s.size() : before, s.size() - needle.size());
  for (size_t i = start + 1; i-- > 0;) {
    bool match = true;
    for (size_t j = 0; j < needle.size() && match; ++j)
      match = std::tolower(static_cast<unsigned char>(s[i + j])) == std::tolower(static_cast<unsigned char>(needle[j]));
    if (match) return i;
  }
  return std::string_view::npos;
}

struct Box {
  size_t start = 0;  // index of the backslash
  size_t end = 0;    // one past the box
  bool terminated = false;
  std::string content;
};

// Every \boxed / \fbox / \framebox in s, in order. "\boxed 5" (no brace) runs to the next '$' or end of line.
std::vector<Box> find_boxes(std::string_view s) {
  std::vector<Box> boxes;
  for (size_t i = s.find('\\'); i != std::string_view::npos; i = s.find('\\', i + 1)) {
    size_t name_end;
    if (starts_with_at(s, i, "\\boxed")) name_end = i + 6;
    else if (starts_with_at(s, i, "\\fbox")) name_end = i + 5;
    else if (starts_with_at(s, i, "\\framebox")) name_end = i + 9;
    else continue;
    if (name_end < s.size() && std::isalpha(static_cast<unsigned char>(s[name_end]))) continue;  // \boxedfoo
    Box box;
    box.start = i;
    size_t p = name_end;
    while (p < s.size() && (s[p] == ' ' || s[p] == '\t')) ++p;
    if (p < s.size() && s[p] == '{') {
      size_t end = 0;
      if (auto group = brace_group(s, p, &end)) {
        box.terminated = true;
        box.content = std::string(trim(*group));
        box.end = end;
      } else {
        box.end = s.size();
      }
    } else {
      size_t stop = p;
      while (stop < s.size() && s[stop] != '$' && s[stop] != '\n') ++stop;
      std::string_view body = trim(s.substr(p, stop - p));
      while (!body.empty() && body.back() == '.') body.remove_suffix(1);
      box.terminated = true;
      box.content = std::string(trim(body));
      box.end = stop;
    }
    boxes.push_back(std::move(box));
    i = name_end - 1;
  }
  return boxes;
}

// Region the rules apply to: the last <answer> block (to </answer> or the end of text), else everything.
std::string_view answer_region(std::string_view response, bool* in_block) {
  size_t open = response.rfind("<answer>");
  *in_block = open != std::string_view::npos;
  if (!*in_block) return response;
  std::string_view rest = response.substr(open + 8);
  size_t close = rest.find("</answer>");
  return close == std::string_view::npos ? rest : rest.substr(0, close);
}

// Drops markdown bold, math delimiters and a trailing sentence period around an anchored answer.
std::string clean_anchored(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '*' && i + 1 < s.size() && s[i + 1] == '*') { ++i; continue; }
    out += s[i];
  }
  std::string_view v = trim(out);
  for (bool changed = true; changed && !v.empty();) {
    changed = false;
    while (!v.empty() && (v.back() == '.' || v.back() == ',' || v.back() == ';')) { v.remove_suffix(1); changed = true; }
    v = trim(v);
    for (auto [l, r] : {std::pair<std::string_view, std::string_view>{"$$", "$$"}, {"$", "$"}, {"\\(", "\\)"}, {"\\[", "\\]"}}) {
      if (v.size() >= l.size() + r.size() && v.substr(0, l.size()) == l && v.substr(v.size() - r.size()) == r) {
        v = trim(v.substr(l.size(), v.size() - l.size() - r.size()));
        changed = true;
      }
    }
  }
  return std::string(v);
}

// Cuts an "answer is ..." tail at the end of its sentence: a '.' followed by white space outside math
// ('$' parity) and braces; also at "I hope it is correct".
std::string_view sentence(std::string_view s) {
  size_t hope = rfind_nocase(s, "i hope it is correct");
  if (hope != std::string_view::npos) s = s.substr(0, hope);
  size_t nl = s.find('\n');
  if (nl != std::string_view::npos) s = s.substr(0, nl);
  bool in_math = false;
  int depth = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size()) { ++i; continue; }
    // "The answer is 5 because ...": an explanation after the answer is not part of it.
    if (!in_math && depth <= 0 && c == ' ') {
      for (std::string_view connector : {" because ", " since ", " as ", " which ", " so ", " for "}) {
        if (s.substr(i, connector.size()) == connector && i > 0) return s.substr(0, i);
      }
    }
    if (c == '$') in_math = !in_math;
    else if (c == '{') ++depth;
    else if (c == '}') --depth;
    else if (c == '.' && !in_math && depth <= 0 && (i + 1 == s.size() || std::isspace(static_cast<unsigned char>(s[i + 1]))))
      return s.substr(0, i);
  }
  return s;
}

// Rule 3: the last "answer is X" / "answer: X" (covers "The final answer is X. I hope it is correct.").
std::optional<std::string> answer_phrase(std::string_view s) {
  size_t best = std::string_view::npos, best_len = 0;
  for (std::string_view needle : {"answer is", "answer:"}) {
    size_t at = rfind_nocase(s, needle);
    if (at != std::string_view::npos && (best == std::string_view::npos || at > best)) { best = at; best_len = needle.size(); }
  }
  if (best == std::string_view::npos) return std::nullopt;
  std::string_view rest = s.substr(best + best_len);
  // "The answer is: X", "**Answer:** X".
  while (!rest.empty() && (rest.front() == ':' || rest.front() == '*' || rest.front() == ' ' || rest.front() == '\t'))
    rest.remove_prefix(1);
  // "the answer is\n\n$$x$$": the answer sits on the next non-empty line.
  while (!rest.empty() && (rest.front() == '\n' || rest.front() == '\r' || rest.front() == ' ')) rest.remove_prefix(1);
  std::string answer = clean_anchored(sentence(rest));
  if (answer.empty()) return std::nullopt;
  return answer;
}

// Rule 4: the last "#### X".
std::optional<std::string> hash_answer(std::string_view s) {
  size_t at = s.rfind("####");
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = s.substr(at + 4);
  size_t nl = rest.find('\n');
  if (nl != std::string_view::npos) rest = rest.substr(0, nl);
  std::string answer = clean_anchored(rest);
  if (answer.empty()) return std::nullopt;
  return answer;
}

// Rule 2 on a region: nullopt = no box at all; "" = the final box is empty or unterminated (no answer).
std::optional<std::string> last_box(std::string_view s) {
  std::vector<Box> boxes = find_boxes(s);
  if (boxes.empty()) return std::nullopt;
  const Box& last = boxes.back();
  if (!last.terminated) return std::string();
  return last.content;
}

// Separator between adjacent boxes: only spaces, math delimiters, commas, semicolons, "and", spacing macros.
bool is_list_gap(std::string_view gap) {
  std::string g(gap);
  for (std::string_view noise : {"\\text{and}", "\\text{ and }", "\\quad", "\\qquad", "\\;", "\\,", "\\(", "\\)",
                                 "\\[", "\\]", "and", "$", ",", ";", "\n", " ", "\t"}) {
    for (size_t at; (at = g.find(noise)) != std::string::npos;) g.erase(at, noise.size());
  }
  return g.empty() && gap.size() < 70;
}

}  // namespace

std::optional<std::string_view> brace_group(std::string_view s, size_t open, size_t* end) {
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size() && (s[i + 1] == '{' || s[i + 1] == '}' || s[i + 1] == '\\')) { ++i; continue; }
    if (c == '{') ++depth;
    else if (c == '}' && --depth == 0) {
      if (end) *end = i + 1;
      return s.substr(open + 1, i - open - 1);
    }
  }
  return std::nullopt;
}

std::optional<std::string> extract_final_answer(std::string_view response) {
  bool in_block = false;
  std::string_view region = answer_region(response, &in_block);
  if (auto box = last_box(region)) {
    if (box->empty()) return std::nullopt;  // empty / unterminated final box: never fall back
    return box;
  }
  if (auto phrase = answer_phrase(region)) return phrase;
  if (in_block) {
    std::string whole = clean_anchored(region);
    if (whole.empty()) return std::nullopt;
    return whole;
  }
  return hash_answer(region);
}

std::optional<std::vector<std::string>> extract_adjacent_boxes(std::string_view response, size_t count) {
  if (count < 2) return std::nullopt;
  bool in_block = false;
  std::string_view region = answer_region(response, &in_block);
  std::vector<Box> boxes = find_boxes(region);
  if (boxes.size() < count) return std::nullopt;
  std::vector<std::string> out;
  size_t first = boxes.size() - count;
  for (size_t i = first; i < boxes.size(); ++i) {
    if (!boxes[i].terminated || boxes[i].content.empty()) return std::nullopt;
    if (i > first && !is_list_gap(region.substr(boxes[i - 1].end, boxes[i].start - boxes[i - 1].end)))
      return std::nullopt;
    out.push_back(boxes[i].content);
  }
  // The run must be exactly `count` long: "\boxed{1}, \boxed{2}, \boxed{3}" is not the answer {2, 3}.
  if (first > 0 && is_list_gap(region.substr(boxes[first - 1].end, boxes[first].start - boxes[first - 1].end)))
    return std::nullopt;
  return out;
}

std::string gold_from_field(std::string_view field) {
  size_t hash = field.rfind("####");
  if (hash != std::string_view::npos) {
    std::string_view rest = field.substr(hash + 4);
    size_t nl = rest.find('\n');
    if (nl != std::string_view::npos) rest = rest.substr(0, nl);
    return std::string(trim(rest));
  }
  if (field.find("\\boxed") != std::string_view::npos || field.find("\\fbox") != std::string_view::npos ||
      field.find("\\framebox") != std::string_view::npos) {
    if (auto box = last_box(field); box && !box->empty()) return *box;
  }
  return std::string(trim(field));
}

}  // namespace r1::rewards::math
