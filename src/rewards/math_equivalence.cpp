// Equivalence of answers (see math_equivalence.h). Order of tests: cheap string and integer checks run
// without GiNaC (and without its lock); everything else parses both sides and compares the values.
#include "rewards/math_equivalence.h"

#include <array>
#include <cctype>
#include <optional>

#include "rewards/math_normalize.h"
#include "rewards/math_parse.h"

namespace r1::rewards::math {
namespace {

using GiNaC::ex;
using GiNaC::ex_to;
using GiNaC::is_a;
using GiNaC::numeric;

constexpr double kInexactTolerance = 1e-6;  // relative, only when a side carries a decimal approximation
constexpr double kExactTolerance = 1e-30;   // relative, for exact irrational values evaluated at kDigits
constexpr int kDigits = 50;
constexpr size_t kMaxExpandNodes = 4000;
constexpr long kMaxExpandExponent = 12;  // larger powers go to the random-point test (expansion can explode)
constexpr size_t kMaxAnswerBytes = 8192;

std::string compact(std::string_view s) {
  std::string out;
  for (char c : s)
    if (c != ' ') out += c;
  return out;
}

// "-007" -> "-7"; nullopt if s is not a plain integer.
std::optional<std::string> canonical_integer(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty() || s.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  size_t nz = s.find_first_not_of('0');
  std::string digits = nz == std::string_view::npos ? "0" : std::string(s.substr(nz));
  if (digits == "0") negative = false;
  return (negative ? "-" : "") + digits;
}

// Multiple-choice letter: "(C)", "C"; an answer may also be "(C) 12" (letter with its value).
std::optional<char> choice_letter(std::string_view s, bool allow_tail) {
  std::string c = compact(s);
  if (c.size() == 1 && std::isalpha(static_cast<unsigned char>(c[0]))) return static_cast<char>(std::toupper(c[0]));
  if (c.size() >= 3 && c[0] == '(' && c[2] == ')' && std::isalpha(static_cast<unsigned char>(c[1])) &&
      (c.size() == 3 || allow_tail))
    return static_cast<char>(std::toupper(c[1]));
  return std::nullopt;
}

bool is_gold_choice(std::string_view gold) {
  std::string c = compact(gold);
  return (c.size() == 3 && c[0] == '(' && c[2] == ')' && c[1] >= 'A' && c[1] <= 'E');
}

std::string lower(std::string_view s) {
  std::string out;
  for (char c : s) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// ---- scalar comparison ----

struct Scope {
  // GiNaC::Digits is global; restore it after each comparison.
  long saved = GiNaC::Digits;
  Scope() { GiNaC::Digits = kDigits; }
  ~Scope() { GiNaC::Digits = saved; }
};

std::optional<numeric> evaluate(const ex& e) {
  try {
    ex v = e.evalf();
    if (is_a<numeric>(v)) return ex_to<numeric>(v);
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

bool relatively_close(const numeric& a, const numeric& b, double tolerance) {
  numeric scale = std::max(GiNaC::abs(a), GiNaC::abs(b));
  if (scale.is_zero()) return true;
  return GiNaC::abs(a - b) <= scale * numeric(tolerance);
}

void collect_symbols(const ex& e, std::vector<GiNaC::symbol>& out) {
  for (auto it = e.preorder_begin(); it != e.preorder_end(); ++it) {
    if (is_a<GiNaC::symbol>(*it)) {
      const auto& s = ex_to<GiNaC::symbol>(*it);
      bool seen = false;
      for (const auto& t : out) seen = seen || t.is_equal(s);
      if (!seen) out.push_back(s);
    }
  }
}

// expand(normal(.)) is safe when the expression is small and has no large symbolic powers.
bool safe_to_expand(const ex& e) {
  size_t nodes = 0;
  for (auto it = e.preorder_begin(); it != e.preorder_end(); ++it) {
    if (++nodes > kMaxExpandNodes) return false;
    if (is_a<GiNaC::power>(*it)) {
      ex exponent = it->op(1);
      if (is_a<numeric>(exponent) && GiNaC::abs(ex_to<numeric>(exponent)) > kMaxExpandExponent &&
          !is_a<numeric>(it->op(0)))
        return false;
    }
  }
  return true;
}

// Points for the random-substitution test: fixed, irregular rationals of both signs (a polynomial identity
// that is false is almost never true at three such points).
numeric sample_value(size_t symbol_index, int point) {
  static constexpr std::array<std::pair<int, int>, 12> kValues = {{{7, 11},
                                                                   {-13, 17},
                                                                   {19, 23},
                                                                   {29, 13},
                                                                   {-31, 37},
                                                                   {41, 43},
                                                                   {53, 19},
                                                                   {-59, 61},
                                                                   {67, 29},
                                                                   {71, 73},
                                                                   {-79, 47},
                                                                   {83, 89}}};
  auto [p, q] = kValues[(symbol_index * 5 + static_cast<size_t>(point) * 7) % kValues.size()];
  return numeric(p + point, q);
}

bool scalar_equal(const ex& a, const ex& b, bool inexact, MatchKind* kind);

bool matrix_equal(const ex& a, const ex& b, bool inexact, MatchKind* kind) {
  const auto& ma = ex_to<GiNaC::matrix>(a);
  const auto& mb = ex_to<GiNaC::matrix>(b);
  if (ma.rows() != mb.rows() || ma.cols() != mb.cols()) return false;
  for (unsigned r = 0; r < ma.rows(); ++r)
    for (unsigned c = 0; c < ma.cols(); ++c)
      if (!scalar_equal(ma(r, c), mb(r, c), inexact, kind)) return false;
  return true;
}

bool scalar_equal(const ex& a, const ex& b, bool inexact, MatchKind* kind) {
  bool ma = is_a<GiNaC::matrix>(a), mb = is_a<GiNaC::matrix>(b);
  if (ma || mb) return ma && mb && matrix_equal(a, b, inexact, kind);
  const double tolerance = inexact ? kInexactTolerance : kExactTolerance;
  const ex& inf = infinity_symbol();
  if (a.has(inf) || b.has(inf)) {
    // Infinity only equals itself (with the same sign): compare structurally.
    if ((a - b).expand().is_zero()) {
      *kind = std::max(*kind, MatchKind::Symbolic);
      return true;
    }
    return false;
  }
  ex d = a - b;
  if (is_a<numeric>(d)) {
    // Both sides exact numbers (GiNaC folds rationals and complex rationals exactly).
    if (d.is_zero()) {
      // Exact numbers agree: numeric when both are plain numbers, symbolic when radicals / pi were folded.
      bool plain = is_a<numeric>(a) && is_a<numeric>(b);
      *kind = std::max(*kind, plain ? MatchKind::Numeric : MatchKind::Symbolic);
      return true;
    }
    if (!inexact) return false;
    auto va = evaluate(a), vb = evaluate(b);
    if (va && vb && relatively_close(*va, *vb, kInexactTolerance)) {
      *kind = std::max(*kind, MatchKind::Numeric);
      return true;
    }
    return false;
  }
  std::vector<GiNaC::symbol> symbols;
  collect_symbols(d, symbols);
  collect_symbols(a, symbols);
  collect_symbols(b, symbols);
  if (safe_to_expand(d)) {
    try {
      if (GiNaC::expand(GiNaC::normal(d)).is_zero()) {
        *kind = std::max(*kind, MatchKind::Symbolic);
        return true;
      }
    } catch (const std::exception&) {
    }
  }
  if (symbols.empty()) {
    // Constants only (radicals, pi, e, logs): compare 50-digit values.
    auto va = evaluate(a), vb = evaluate(b);
    if (va && vb && relatively_close(*va, *vb, tolerance)) {
      *kind = std::max(*kind, inexact ? MatchKind::Numeric : MatchKind::Symbolic);
      return true;
    }
    return false;
  }
  // Identity test at random rational points.
  int agreed = 0;
  for (int point = 0; point < 4 && agreed < 3; ++point) {
    GiNaC::lst substitution;
    for (size_t k = 0; k < symbols.size(); ++k) substitution.append(symbols[k] == sample_value(k, point));
    std::optional<numeric> va, vb;
    try {
      va = evaluate(a.subs(substitution));
      vb = evaluate(b.subs(substitution));
    } catch (const std::exception&) {
      continue;
    }
    if (!va || !vb) continue;
    if (!relatively_close(*va, *vb, tolerance)) return false;
    ++agreed;
  }
  if (agreed >= 2) {
    *kind = std::max(*kind, MatchKind::Symbolic);
    return true;
  }
  return false;
}

// ---- structural comparison ----

bool values_equal(const Answer& a, const Answer& g, MatchKind* kind);

// Unordered: every element of one side equals some element of the other (duplicates collapse).
bool sets_equal(const std::vector<Answer>& a, const std::vector<Answer>& g, MatchKind* kind) {
  auto covered = [kind](const std::vector<Answer>& from, const std::vector<Answer>& to) {
    for (const Answer& x : from) {
      bool found = false;
      for (const Answer& y : to) {
        if (values_equal(x, y, kind)) {
          found = true;
          break;
        }
      }
      if (!found) return false;
    }
    return true;
  };
  return covered(a, g) && covered(g, a);
}

bool all_scalar(const Answer& eq) {
  for (const Answer& side : eq.items)
    if (side.kind != AnswerKind::Scalar || is_a<GiNaC::matrix>(side.value)) return false;
  return true;
}

bool equations_equal(const Answer& a, const Answer& g, MatchKind* kind) {
  if (a.items.size() != g.items.size()) return false;
  if (a.items.size() == 2 && all_scalar(a) && all_scalar(g)) {
    // Same equation up to term order and sides: lhs - rhs agree up to sign.
    bool inexact = a.inexact || g.inexact;
    ex da = a.items[0].value - a.items[1].value;
    ex dg = g.items[0].value - g.items[1].value;
    return scalar_equal(da, dg, inexact, kind) || scalar_equal(da, -dg, inexact, kind);
  }
  for (size_t i = 0; i < a.items.size(); ++i)
    if (!values_equal(a.items[i], g.items[i], kind)) return false;
  return true;
}

bool values_equal(const Answer& a, const Answer& g, MatchKind* kind) {
  if (a.kind == AnswerKind::Equation && g.kind == AnswerKind::Equation) return equations_equal(a, g, kind);
  // "x = 5" vs "5": an assignment is its value; a chain "a = b = 101" ends in its value.
  if (a.kind == AnswerKind::Equation)
    return (a.assignment || a.items.size() > 2) && values_equal(a.items.back(), g, kind);
  if (g.kind == AnswerKind::Equation) return g.assignment && g.items.size() == 2 && values_equal(a, g.items.back(), kind);
  if (a.kind != g.kind) return false;
  switch (a.kind) {
    case AnswerKind::Scalar: return scalar_equal(a.value, g.value, a.inexact || g.inexact, kind);
    case AnswerKind::Text: return a.text == g.text;
    case AnswerKind::Tuple:
      if (a.open != g.open || a.close != g.close || a.items.size() != g.items.size()) return false;
      for (size_t i = 0; i < a.items.size(); ++i)
        if (!values_equal(a.items[i], g.items[i], kind)) return false;
      return true;
    case AnswerKind::Set:
    case AnswerKind::Union: return sets_equal(a.items, g.items, kind);
    case AnswerKind::Equation: break;
  }
  return false;
}

const char* reason_of(MatchKind kind) {
  switch (kind) {
    case MatchKind::Exact: return "exact match";
    case MatchKind::Numeric: return "numeric match";
    case MatchKind::Symbolic: return "symbolic match";
    case MatchKind::Structural: return "structural match";
    case MatchKind::Text: return "text match";
    case MatchKind::Choice: return "choice match";
    case MatchKind::None: break;
  }
  return "mismatch";
}

Equivalence verdict(bool equal, MatchKind kind, std::string reason = {}) {
  Equivalence e;
  e.equal = equal;
  e.kind = equal ? kind : MatchKind::None;
  e.reason = reason.empty() ? (equal ? reason_of(kind) : "mismatch") : std::move(reason);
  return e;
}

}  // namespace

Equivalence compare_answers(std::string_view answer, std::string_view gold) {
  // A final answer is short; a huge one is a dump, not an answer (and would make normalisation slow).
  if (answer.size() > kMaxAnswerBytes) return verdict(false, MatchKind::None, "answer too long");
  std::string na = normalize_answer(answer), ng = normalize_answer(gold);
  if (na.empty()) return verdict(false, MatchKind::None, "empty answer");
  if (ng.empty()) return verdict(false, MatchKind::None, "empty gold");
  if (compact(na) == compact(ng)) return verdict(true, MatchKind::Exact);
  auto ia = canonical_integer(compact(na)), ig = canonical_integer(compact(ng));
  if (ia && ig) return verdict(*ia == *ig, MatchKind::Numeric);
  if (is_gold_choice(ng)) {
    auto la = choice_letter(na, true), lg = choice_letter(ng, false);
    return verdict(la && lg && *la == *lg, MatchKind::Choice);
  }
  if (looks_like_words(na) && looks_like_words(ng)) {
    std::string a = lower(compact(na)), g = lower(compact(ng));
    return verdict(a == g, MatchKind::Text);
  }
  std::lock_guard<std::mutex> lock(ginac_mutex());
  forget_symbols_if_many();
  Scope digits;
  Answer pa, pg;
  try {
    pg = parse_answer(ng);
  } catch (const std::exception&) {
    return verdict(false, MatchKind::None, "unparsable gold");
  }
  try {
    pa = parse_answer(na);
  } catch (const std::exception&) {
    return verdict(false, MatchKind::None, "unparsable answer");
  }
  try {
    MatchKind kind = MatchKind::None;
    bool equal = values_equal(pa, pg, &kind);
    if (equal && (pa.kind != AnswerKind::Scalar || pg.kind != AnswerKind::Scalar)) kind = MatchKind::Structural;
    return verdict(equal, kind);
  } catch (const std::exception&) {
    return verdict(false, MatchKind::None, "comparison failed");
  }
}

size_t gold_list_size(std::string_view gold) {
  std::string ng = normalize_answer(gold);
  if (ng.empty() || looks_like_words(ng)) return 1;
  std::lock_guard<std::mutex> lock(ginac_mutex());
  try {
    Answer pg = parse_answer(ng);
    if (pg.kind == AnswerKind::Set && pg.items.size() > 1) return pg.items.size();
  } catch (const std::exception&) {
  }
  return 1;
}

}  // namespace r1::rewards::math
