// PCRE2-backed regex splitting with HF/Oniguruma semantics.
#include "tokenizer/regex_split.h"

#include <pcre2.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace r1::tok {

const char* const kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

// Unicode White_Space, which is what Oniguruma's \s matches in UTF-8 mode.
constexpr const char* kWhiteSpaceClassBody =
    R"(\t-\r\x{20}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";
constexpr const char* kHexClassBody = "0-9a-fA-F";
// Oniguruma's Unicode \w (measured on the regex oracle): letters, marks, decimal and letter numbers,
// connector punctuation, the Latin-1 superscripts and fractions (² ³ ¹ ¼ ½ ¾) and the circled letters
// (Other_Alphabetic), but not other numbers such as ①. PCRE2 14.0's UCP \w has no marks, so "नमस्ते"
// would split at its vowel signs.
constexpr const char* kWordClassBody =
    R"(\p{L}\p{M}\p{Nd}\p{Nl}\p{Pc}\x{B2}\x{B3}\x{B9}\x{BC}-\x{BE}\x{24B6}-\x{24E9})";

// JIT stack for pathological inputs (a million-character run): the default 32 KiB machine stack is
// enough for the tokenizer patterns, but a user pattern with nested groups may need more.
constexpr size_t kJitStackMax = 64u << 20;

}  // namespace

bool parse_split_behavior(std::string_view name, SplitBehavior* out) {
  if (name == "Removed") *out = SplitBehavior::kRemoved;
  else if (name == "Isolated") *out = SplitBehavior::kIsolated;
  else if (name == "MergedWithPrevious") *out = SplitBehavior::kMergedWithPrevious;
  else if (name == "MergedWithNext") *out = SplitBehavior::kMergedWithNext;
  else if (name == "Contiguous") *out = SplitBehavior::kContiguous;
  else return false;
  return true;
}

namespace {

// Length of the escape sequence starting at p[i] == '\\' (2, or more for \p{..}, \x{..}, \uHHHH).
size_t escape_length(std::string_view p, size_t i) {
  if (i + 1 >= p.size()) return 1;
  const char e = p[i + 1];
  if ((e == 'p' || e == 'P' || e == 'x' || e == 'N' || e == 'o') && i + 2 < p.size() && p[i + 2] == '{') {
    const size_t close = p.find('}', i + 3);
    if (close != std::string_view::npos) return close + 1 - i;
  }
  return 2;
}

// Length of an interval quantifier {n}, {n,}, {n,m}, {,m} starting at p[i] == '{', or 0 if it is not one
// (then '{' is a literal, in both engines).
size_t interval_length(std::string_view p, size_t i) {
  size_t j = i + 1, digits_before = 0, digits_after = 0;
  while (j < p.size() && std::isdigit(static_cast<unsigned char>(p[j]))) ++j, ++digits_before;
  bool comma = false;
  if (j < p.size() && p[j] == ',') {
    comma = true;
    ++j;
    while (j < p.size() && std::isdigit(static_cast<unsigned char>(p[j]))) ++j, ++digits_after;
  }
  if (j >= p.size() || p[j] != '}') return 0;
  if (digits_before == 0 && (!comma || digits_after == 0)) return 0;
  return j + 1 - i;
}

bool is_hex4(std::string_view p, size_t i) {
  if (i + 4 > p.size()) return false;
  for (size_t k = i; k < i + 4; ++k)
    if (!std::isxdigit(static_cast<unsigned char>(p[k]))) return false;
  return true;
}

// The body (no brackets) of the class an escape stands for, when we spell it out; "" to keep it.
std::string class_body_for_escape(std::string_view esc) {
  if (esc == "\\s") return kWhiteSpaceClassBody;
  if (esc == "\\h") return kHexClassBody;
  if (esc == "\\w" || esc == "\\p{Word}") return kWordClassBody;
  return "";
}
std::string negated_class_body_for_escape(std::string_view esc) {
  if (esc == "\\S") return kWhiteSpaceClassBody;
  if (esc == "\\H") return kHexClassBody;
  if (esc == "\\W" || esc == "\\P{Word}") return kWordClassBody;
  return "";
}

}  // namespace

std::string onig_to_pcre2(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 64);
  size_t atom_start = 0;             // where the last complete atom begins in `out`
  std::vector<size_t> group_starts;  // '(' positions in `out`
  for (size_t i = 0; i < p.size();) {
    const char c = p[i];
    if (c == '\\') {
      const size_t len = escape_length(p, i);
      std::string_view esc = p.substr(i, len);
      atom_start = out.size();
      if (len == 2 && esc[1] == 'u' && is_hex4(p, i + 2)) {
        out.append("\\x{").append(p.substr(i + 2, 4)).append("}");  // Ruby-syntax \uHHHH
        i += 6;
        continue;
      }
      if (std::string body = class_body_for_escape(esc); !body.empty()) {
        out.append("[").append(body).append("]");
      } else if (std::string nbody = negated_class_body_for_escape(esc); !nbody.empty()) {
        out.append("[^").append(nbody).append("]");
      } else {
        out.append(esc);
      }
      i += len;
      continue;
    }
    if (c == '[') {
      // A character class, copied with its escapes spelled out and nested positive classes flattened
      // (Oniguruma's [a[bc]] is the union [abc]; PCRE2 would end the class at the first ']').
      atom_start = out.size();
      out += '[';
      ++i;
      if (i < p.size() && p[i] == '^') out += p[i++];
      if (i < p.size() && p[i] == ']') out += p[i++];  // a leading ']' is a member
      std::vector<bool> kept;  // per nesting level below the outer class: bracket kept in the output?
      while (i < p.size()) {
        const char d = p[i];
        if (d == '\\') {
          const size_t len = escape_length(p, i);
          std::string_view esc = p.substr(i, len);
          if (len == 2 && esc[1] == 'u' && is_hex4(p, i + 2)) {
            out.append("\\x{").append(p.substr(i + 2, 4)).append("}");
            i += 6;
            continue;
          }
          if (std::string body = class_body_for_escape(esc); !body.empty()) out += body;
          else out.append(esc);  // negated shorthands stay PCRE2's (cannot be unioned in a class)
          i += len;
          continue;
        }
        if (d == '[' && i + 1 < p.size() && p[i + 1] == ':') {  // POSIX [:name:]
          const size_t close = p.find(":]", i + 2);
          if (close != std::string_view::npos) {
            out.append(p.substr(i, close + 2 - i));
            i = close + 2;
            continue;
          }
        }
        if (d == '[') {
          const bool negated = i + 1 < p.size() && p[i + 1] == '^';
          kept.push_back(negated);  // a negated nested class cannot be flattened: leave it to PCRE2
          if (negated) out += d;
          ++i;
          continue;
        }
        if (d == ']') {
          ++i;
          if (kept.empty()) {
            out += ']';
            break;
          }
          if (kept.back()) out += ']';
          kept.pop_back();
          continue;
        }
        out += d;
        ++i;
      }
      continue;
    }
    if (c == '(') {
      group_starts.push_back(out.size());
      out += c;
      ++i;
      continue;
    }
    if (c == ')') {
      atom_start = group_starts.empty() ? out.size() : group_starts.back();
      if (!group_starts.empty()) group_starts.pop_back();
      out += c;
      ++i;
      continue;
    }
    if (c == '{') {
      const size_t len = interval_length(p, i);
      if (len > 0) {
        std::string interval = "{";
        if (p[i + 1] == ',') interval += '0';  // {,n} -> {0,n}
        interval.append(p.substr(i + 1, len - 1));
        i += len;
        if (i < p.size() && p[i] == '+') {
          // Oniguruma (Ruby syntax) reads X{n}+ as (?:X{n})+, PCRE2 as possessive.
          out.insert(atom_start, "(?:");
          out.append(interval).append(")+");
          ++i;
        } else {
          out += interval;
        }
        continue;
      }
    }
    if (c != '*' && c != '+' && c != '?' && c != '|') atom_start = out.size();
    out += c;
    ++i;
  }
  return out;
}

struct Regex::Impl {
  pcre2_code* code = nullptr;
  bool jit = false;
  // Lazily created large JIT stack, shared under a mutex (used only after a stack-limit failure).
  mutable std::mutex big_stack_mutex;
  mutable pcre2_jit_stack* big_stack = nullptr;
  mutable pcre2_match_context* big_context = nullptr;

  ~Impl() {
    if (big_context) pcre2_match_context_free(big_context);
    if (big_stack) pcre2_jit_stack_free(big_stack);
    if (code) pcre2_code_free(code);
  }

  // One match attempt from `start`; returns the pcre2 result code.
  int match(std::string_view text, size_t start, pcre2_match_data* md, pcre2_match_context* ctx) const {
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    if (jit) return pcre2_jit_match(code, subject, text.size(), start, 0, md, ctx);
    return pcre2_match(code, subject, text.size(), start, PCRE2_NO_UTF_CHECK, md, ctx);
  }
};

Regex::Regex(std::string_view pattern, bool literal) : impl_(std::make_unique<Impl>()), pattern_(pattern) {
  const std::string translated = literal ? std::string(pattern) : onig_to_pcre2(pattern);
  int error = 0;
  PCRE2_SIZE offset = 0;
  // Ruby syntax: ^ and $ are line anchors, always.
  uint32_t options = PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK | PCRE2_MULTILINE;
  if (literal) options = PCRE2_UTF | PCRE2_LITERAL;
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(), options, &error,
                              &offset, nullptr);
  if (!impl_->code) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    throw Error("invalid regex '" + std::string(pattern) + "': " + reinterpret_cast<const char*>(message) +
                " at offset " + std::to_string(offset));
  }
  impl_->jit = pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() = default;

void Regex::find_all(std::string_view text, std::vector<Span>& out) const {
  // Match data is per call: a Regex is shared by threads that encode concurrently.
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(impl_->code, nullptr);
  R1_CHECK(md != nullptr, "pcre2_match_data_create_from_pattern");
  std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data*)> guard(md, pcre2_match_data_free);
  size_t last_end = 0;
  bool have_last = false;
  size_t last_match_end = 0;
  std::unique_lock<std::mutex> big_lock;  // held once we switch to the large JIT stack
  pcre2_match_context* ctx = nullptr;
  while (last_end <= text.size()) {
    int rc = impl_->match(text, last_end, md, ctx);
    if ((rc == PCRE2_ERROR_JIT_STACKLIMIT || rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT) &&
        ctx == nullptr) {
      big_lock = std::unique_lock<std::mutex>(impl_->big_stack_mutex);
      if (!impl_->big_stack) {
        impl_->big_stack = pcre2_jit_stack_create(32 * 1024, kJitStackMax, nullptr);
        impl_->big_context = pcre2_match_context_create(nullptr);
        pcre2_jit_stack_assign(impl_->big_context, nullptr, impl_->big_stack);
      }
      ctx = impl_->big_context;
      continue;
    }
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(rc, message, sizeof(message));
      throw Error("regex '" + pattern_ + "' failed on a " + std::to_string(text.size()) +
                  "-byte input: " + reinterpret_cast<const char*>(message));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const size_t s = ov[0], e = ov[1];
    if (s == e && have_last && last_match_end == e) {
      // onig find_iter: no empty match right after the previous match; step one character.
      if (last_end >= text.size()) break;
      char32_t cp;
      last_end += utf8_decode(text, last_end, &cp);
      continue;
    }
    last_end = e;
    have_last = true;
    last_match_end = e;
    out.push_back({s, e});
    if (s == e && e == text.size()) break;
  }
}

void RegexSplit::split(std::string_view text, std::vector<Span>& out) const {
  if (text.empty()) return;
  if (behavior == SplitBehavior::kIsolated) {
    // Every match and every gap is a piece (invert changes nothing): skip the general bookkeeping.
    thread_local std::vector<Span> found;
    found.clear();
    regex->find_all(text, found);
    size_t prev = 0;
    for (const Span& m : found) {
      if (prev != m.begin) out.push_back({prev, m.begin});
      if (m.end > m.begin) out.push_back(m);
      prev = m.end;
    }
    if (prev != text.size()) out.push_back({prev, text.size()});
    return;
  }
  // (span, is_match) covering the whole text, as HF's Pattern::find_matches.
  thread_local std::vector<Span> matches;
  thread_local std::vector<std::pair<Span, bool>> parts;
  matches.clear();
  parts.clear();
  regex->find_all(text, matches);
  size_t prev = 0;
  for (const Span& m : matches) {
    if (prev != m.begin) parts.push_back({{prev, m.begin}, false});
    parts.push_back({m, true});
    prev = m.end;
  }
  if (prev != text.size()) parts.push_back({{prev, text.size()}, false});
  if (invert)
    for (auto& p : parts) p.second = !p.second;

  auto emit = [&out](Span s) {
    if (s.end > s.begin) out.push_back(s);
  };
  switch (behavior) {
    case SplitBehavior::kRemoved:
      for (const auto& [s, is_match] : parts)
        if (!is_match) emit(s);
      break;
    case SplitBehavior::kIsolated:
      for (const auto& [s, is_match] : parts) emit(s);
      break;
    case SplitBehavior::kContiguous:
    case SplitBehavior::kMergedWithPrevious: {
      // Contiguous: runs of equal is_match merge; MergedWithPrevious: a match joins the piece before it.
      std::vector<Span> acc;
      bool previous_match = false;
      for (const auto& [s, is_match] : parts) {
        const bool merge = behavior == SplitBehavior::kContiguous ? is_match == previous_match
                                                                   : is_match && !previous_match;
        if (merge && !acc.empty())
          acc.back().end = s.end;
        else
          acc.push_back(s);
        previous_match = is_match;
      }
      for (const Span& s : acc) emit(s);
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      std::vector<Span> acc;
      bool previous_match = false;
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        const auto& [s, is_match] = *it;
        if (is_match && !previous_match && !acc.empty())
          acc.back().begin = s.begin;
        else
          acc.push_back(s);
        previous_match = is_match;
      }
      for (auto it = acc.rbegin(); it != acc.rend(); ++it) emit(*it);
      break;
    }
  }
}

}  // namespace r1::tok
