// Parser from normalised answers to structured GiNaC values (see math_parse.h).
//
// Structure is recognised top-down on the string (union "\cup" > comma list > "\in" prefix > equation "=" >
// set "\{..\}" > bracketed tuple/interval > scalar); scalars go through a recursive-descent expression parser:
//   sum     := term (('+'|'-') term)*
//   term    := unary (('*'|'\cdot'|'\times'|'/'|'\div') unary | implicit power)*
//   unary   := ('-'|'+') unary | power
//   power   := postfix ('^' exponent)?          (right associative)
//   postfix := primary '!'*
//   primary := number | letter | command | '(' sum ')' | '{' sum '}' | '[' sum ']' | '|' sum '|' | matrix
// Numbers are exact (a decimal literal is an exact rational; the answer is only flagged inexact).
#include "rewards/math_parse.h"

#include <cctype>
#include <cmath>
#include <map>
#include <optional>

#include "rewards/math_extract.h"
#include "rewards/math_normalize.h"

namespace r1::rewards::math {

using GiNaC::ex;
using GiNaC::ex_to;
using GiNaC::is_a;
using GiNaC::numeric;

std::mutex& ginac_mutex() {
  static std::mutex mutex;
  return mutex;
}

namespace {

constexpr size_t kMaxLength = 2000;        // longer answers are not math answers
constexpr int kMaxDepth = 48;              // nesting of groups / sub-parses
constexpr double kMaxPowerBits = 200000;   // size of an exact numeric power: 2^200000 is ~60k digits
constexpr long kMaxExponent = 10000;       // symbolic or irrational bases
constexpr long kMaxFactorial = 3000;
constexpr long kMaxBinomial = 20000;
constexpr long kMaxScientificExponent = 1000;
constexpr long kMaxRootIndex = 100000;
constexpr double kMaxLogMagnitude = 1e5;   // exp(x) and b^x with |x ln b| up to 1e5: far inside float range
constexpr double kMaxTrigArgument = 1e6;   // beyond this, 50 digits cannot reduce the argument mod 2 pi
constexpr int kMaxPlusMinus = 3;           // 2^3 expansions at most
constexpr size_t kMaxInternedSymbols = 20000;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

[[noreturn]] void fail(const std::string& why) { throw ParseError(why); }

std::map<std::string, GiNaC::symbol>& symbol_table() {
  static std::map<std::string, GiNaC::symbol> table;
  return table;
}

// One GiNaC symbol per name, so the same variable in the answer and in the gold is the same object.
const GiNaC::symbol& symbol_named(const std::string& name) {
  auto& table = symbol_table();
  auto it = table.find(name);
  if (it == table.end()) it = table.emplace(name, GiNaC::symbol(name)).first;
  return it->second;
}

bool has_symbol(const ex& e) {
  for (auto it = e.preorder_begin(); it != e.preorder_end(); ++it)
    if (is_a<GiNaC::symbol>(*it)) return true;
  return false;
}

// |e| as a double for a symbol-free expression; nullopt when it does not evaluate to a number.
std::optional<double> magnitude(const ex& e) {
  try {
    ex v = e.evalf();
    if (is_a<numeric>(v)) return GiNaC::abs(ex_to<numeric>(v)).to_double();
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

// Floating evaluation silently returns garbage once an exponent overflows (evalf(exp(exp(exp(10)))) is 1.0),
// and trig functions of huge arguments lose every digit: bound the argument of exp / sin / cos / ... and the
// logarithmic size of irrational powers.
void check_argument(const ex& x, double limit) {
  if (has_symbol(x)) return;
  auto m = magnitude(x);
  if (!m || !(*m <= limit)) fail("argument too large");
}

bool starts_with_at(std::string_view s, size_t pos, std::string_view word) {
  return pos <= s.size() && s.substr(pos, word.size()) == word;
}

// Pieces of s separated by `sep` at bracket depth 0. Depth counts (), [], {}, \{ \} and \begin..\end, so
// "[a,b)" and "(a,b]" nest like balanced pairs. A separator that is a control word ("\cup", "\in") must not
// be followed by a letter; "=" must not be part of "<=", ">=", "!=" or "==".
std::vector<std::string_view> split_top(std::string_view s, std::string_view sep) {
  std::vector<std::string_view> parts;
  int depth = 0;
  size_t last = 0;
  for (size_t i = 0; i < s.size();) {
    if (depth == 0 && starts_with_at(s, i, sep)) {
      bool ok = true;
      if (sep[0] == '\\' && i + sep.size() < s.size() && is_alpha(s[i + sep.size()])) ok = false;
      if (sep == "=" && ((i > 0 && (s[i - 1] == '<' || s[i - 1] == '>' || s[i - 1] == '!')) ||
                         (i + 1 < s.size() && s[i + 1] == '=')))
        ok = false;
      if (ok) {
        parts.push_back(s.substr(last, i - last));
        i += sep.size();
        last = i;
        continue;
      }
    }
    char c = s[i];
    if (c == '\\') {
      if (i + 1 < s.size() && (s[i + 1] == '{' || s[i + 1] == '(' || s[i + 1] == '[')) { ++depth; i += 2; continue; }
      if (i + 1 < s.size() && (s[i + 1] == '}' || s[i + 1] == ')' || s[i + 1] == ']')) { --depth; i += 2; continue; }
      if (starts_with_at(s, i, "\\begin")) { ++depth; i += 6; continue; }
      if (starts_with_at(s, i, "\\end")) { --depth; i += 4; continue; }
      size_t j = i + 1;
      while (j < s.size() && is_alpha(s[j])) ++j;
      i = j == i + 1 ? i + 2 : j;
      continue;
    }
    if (c == '(' || c == '[' || c == '{') ++depth;
    else if (c == ')' || c == ']' || c == '}') --depth;
    ++i;
  }
  parts.push_back(s.substr(last));
  return parts;
}

// Whether the bracket opening s[0] closes exactly at s.back().
bool outer_brackets_match(std::string_view s) {
  if (s.size() < 2 || !(s[0] == '(' || s[0] == '[') || !(s.back() == ')' || s.back() == ']')) return false;
  int depth = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size()) { ++i; continue; }
    if (c == '(' || c == '[' || c == '{') ++depth;
    else if (c == ')' || c == ']' || c == '}') {
      if (--depth == 0 && i + 1 != s.size()) return false;
    }
  }
  return depth == 0;
}

// Expands the top-level \pm / \mp of s into its sign variants ("1 \pm \sqrt{2}" -> "1 + \sqrt{2}", "1 - ...").
std::vector<std::string> expand_plus_minus(std::string_view s) {
  std::vector<std::string> out{std::string(s)};
  for (int round = 0; round < kMaxPlusMinus; ++round) {
    std::vector<std::string> next;
    bool any = false;
    for (const std::string& v : out) {
      size_t pm = std::string::npos;
      bool minus_first = false;
      for (size_t at = v.find('\\'); at != std::string::npos; at = v.find('\\', at + 1)) {
        bool is_pm = starts_with_at(v, at, "\\pm"), is_mp = starts_with_at(v, at, "\\mp");
        if ((is_pm || is_mp) && !(at + 3 < v.size() && is_alpha(v[at + 3]))) {
          pm = at;
          minus_first = is_mp;
          break;
        }
      }
      if (pm == std::string::npos) {
        next.push_back(v);
        continue;
      }
      any = true;
      std::string head = v.substr(0, pm), tail = v.substr(pm + 3);
      next.push_back(head + (minus_first ? " - " : " + ") + tail);
      next.push_back(head + (minus_first ? " + " : " - ") + tail);
    }
    out = std::move(next);
    if (!any) return out;
  }
  for (const std::string& v : out)
    if (v.find("\\pm") != std::string::npos || v.find("\\mp") != std::string::npos) fail("too many \\pm");
  return out;
}

// Control words that are operators or closers: they never start a factor.
bool is_operator_command(std::string_view name) {
  static constexpr std::string_view kOps[] = {
      "cdot", "times", "div", "ast", "pm", "mp", "cup", "cap", "in", "notin", "le", "ge", "lt", "gt", "ne", "neq",
      "to", "rightarrow", "Rightarrow", "implies", "iff", "end", "right", "quad", "qquad", "setminus", "approx",
      "equiv", "sim", "mid", "ldots", "cdots", "dots", "subset", "subseteq", "supset", "land", "lor", "wedge", "vee",
      "rfloor", "rceil", "rangle", "colon", "over", "choose"};
  for (std::string_view op : kOps)
    if (name == op) return true;
  return false;
}

// Functions written as control words or plain words.
enum class Fn { None, Sin, Cos, Tan, Cot, Sec, Csc, Asin, Acos, Atan, Sinh, Cosh, Tanh, Ln, Log, Exp, Sqrt };

Fn function_named(std::string_view name) {
  static const std::pair<std::string_view, Fn> kFns[] = {
      {"sin", Fn::Sin},       {"cos", Fn::Cos},       {"tan", Fn::Tan},       {"cot", Fn::Cot},   {"sec", Fn::Sec},
      {"csc", Fn::Csc},       {"arcsin", Fn::Asin},   {"arccos", Fn::Acos},   {"arctan", Fn::Atan},
      {"sinh", Fn::Sinh},     {"cosh", Fn::Cosh},     {"tanh", Fn::Tanh},     {"ln", Fn::Ln},     {"log", Fn::Log},
      {"exp", Fn::Exp},       {"sqrt", Fn::Sqrt}};
  for (auto [n, f] : kFns)
    if (name == n) return f;
  return Fn::None;
}

ex apply_function(Fn fn, const ex& x) {
  if (fn == Fn::Exp || fn == Fn::Sinh || fn == Fn::Cosh) check_argument(x, kMaxLogMagnitude);
  if (fn == Fn::Sin || fn == Fn::Cos || fn == Fn::Tan || fn == Fn::Cot || fn == Fn::Sec || fn == Fn::Csc)
    check_argument(x, kMaxTrigArgument);
  switch (fn) {
    case Fn::Sin: return GiNaC::sin(x);
    case Fn::Cos: return GiNaC::cos(x);
    case Fn::Tan: return GiNaC::tan(x);
    case Fn::Cot: return GiNaC::cos(x) / GiNaC::sin(x);
    case Fn::Sec: return 1 / GiNaC::cos(x);
    case Fn::Csc: return 1 / GiNaC::sin(x);
    case Fn::Asin: return GiNaC::asin(x);
    case Fn::Acos: return GiNaC::acos(x);
    case Fn::Atan: return GiNaC::atan(x);
    case Fn::Sinh: return GiNaC::sinh(x);
    case Fn::Cosh: return GiNaC::cosh(x);
    case Fn::Tanh: return GiNaC::tanh(x);
    case Fn::Ln:
    case Fn::Log: return GiNaC::log(x);
    case Fn::Exp: return GiNaC::exp(x);
    case Fn::Sqrt: return GiNaC::sqrt(x);
    case Fn::None: break;
  }
  fail("unknown function");
}

Fn inverse_of(Fn fn) {
  switch (fn) {
    case Fn::Sin: return Fn::Asin;
    case Fn::Cos: return Fn::Acos;
    case Fn::Tan: return Fn::Atan;
    default: return Fn::None;
  }
}

double bits_of(const numeric& r) {
  return static_cast<double>(std::max(r.numer().int_length(), r.denom().int_length()));
}

// base^exponent with size guards: exact numeric powers stay below kMaxPowerBits, other integer exponents
// below kMaxExponent.
ex guarded_pow(const ex& base, const ex& exponent) {
  if (is_a<numeric>(exponent)) {
    numeric e = ex_to<numeric>(exponent);
    if (e.is_rational()) {
      double mag = GiNaC::abs(e).to_double();
      if (is_a<numeric>(base) && ex_to<numeric>(base).is_rational()) {
        if (mag * bits_of(ex_to<numeric>(base)) > kMaxPowerBits) fail("power too large");
      } else if (mag > kMaxExponent) {
        fail("exponent too large");
      }
      if (!e.is_integer() && (e.denom() > kMaxRootIndex || mag > kMaxExponent)) fail("fractional exponent too large");
    }
  }
  if (!(is_a<numeric>(exponent) && ex_to<numeric>(exponent).is_rational()) && !has_symbol(base) &&
      !has_symbol(exponent)) {
    // Irrational or complex exponent of a constant: |exponent * ln|base|| bounds the size of the result.
    auto b = magnitude(base), e = magnitude(exponent);
    if (!b || !e) fail("power does not evaluate");
    double log_base = *b > 0 ? std::abs(std::log(*b)) : 0.0;
    if (!(*e * log_base <= kMaxLogMagnitude) || !(*e <= kMaxLogMagnitude)) fail("power too large");
  }
  if (is_a<numeric>(base) && ex_to<numeric>(base).is_zero() && is_a<numeric>(exponent) &&
      ex_to<numeric>(exponent).is_negative())
    fail("division by zero");
  return GiNaC::pow(base, exponent);
}

numeric ten_pow(long k) { return GiNaC::pow(numeric(10), numeric(k)); }

class ExprParser {
 public:
  ExprParser(std::string_view s, int depth, bool* inexact, bool* has_matrix)
      : s_(s), depth_(depth), inexact_(inexact), has_matrix_(has_matrix) {
    if (depth_ > kMaxDepth) fail("nesting too deep");
  }

  ex parse_all() {
    skip_ws();
    if (pos_ == s_.size()) fail("empty expression");
    ex e = parse_sum();
    skip_ws();
    if (pos_ != s_.size()) fail("unexpected '" + std::string(s_.substr(pos_, 10)) + "'");
    return e;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
  int depth_;
  int abs_depth_ = 0;
  int nesting_ = 0;  // open groups in this parser; with depth_ bounded by kMaxDepth
  bool* inexact_;
  bool* has_matrix_;

  void skip_ws() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool at(std::string_view w) const { return starts_with_at(s_, pos_, w); }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }

  // The control word at pos_ ("\frac" -> "frac"), or a single non-letter ("\{" -> "{"); empty if none.
  std::string_view command_at(size_t p) const {
    if (p >= s_.size() || s_[p] != '\\' || p + 1 >= s_.size()) return {};
    size_t j = p + 1;
    while (j < s_.size() && is_alpha(s_[j])) ++j;
    if (j == p + 1) return s_.substr(p + 1, 1);
    return s_.substr(p + 1, j - p - 1);
  }
  bool eat_command(std::string_view name) {
    if (command_at(pos_) != name) return false;
    pos_ += 1 + name.size();
    return true;
  }

  ex sub(std::string_view text) {
    ExprParser inner(text, depth_ + nesting_ + 1, inexact_, has_matrix_);
    return inner.parse_all();
  }

  // A TeX argument: a brace group, a control word, or one character.
  std::string_view read_arg() {
    skip_ws();
    if (pos_ >= s_.size()) fail("missing argument");
    if (s_[pos_] == '{') {
      size_t end = 0;
      auto group = brace_group(s_, pos_, &end);
      if (!group) fail("unbalanced braces");
      pos_ = end;
      if (trim(*group).empty()) fail("empty argument");
      return *group;
    }
    if (s_[pos_] == '\\') {
      std::string_view name = command_at(pos_);
      std::string_view token = s_.substr(pos_, 1 + name.size());
      pos_ += token.size();
      return token;
    }
    return s_.substr(pos_++, 1);
  }

  bool starts_factor() {
    skip_ws();
    char c = peek();
    if (c == '\0') return false;
    if (is_digit(c) || is_alpha(c) || c == '(' || c == '{') return true;
    if (c == '.' && pos_ + 1 < s_.size() && is_digit(s_[pos_ + 1])) return true;
    if (c == '|') return abs_depth_ == 0;
    if (c == '\\') {
      std::string_view name = command_at(pos_);
      if (name.empty() || !is_alpha(name[0])) return false;
      return !is_operator_command(name);
    }
    return false;
  }

  ex parse_sum() {
    ex acc = parse_term();
    for (;;) {
      skip_ws();
      if (peek() == '+') {
        ++pos_;
        acc = acc + parse_term();
      } else if (peek() == '-') {
        ++pos_;
        acc = acc - parse_term();
      } else {
        return acc;
      }
    }
  }

  ex divide(const ex& a, const ex& b) {
    if (b.is_zero()) fail("division by zero");
    return a / b;
  }

  ex parse_term() {
    ex acc = parse_unary();
    for (;;) {
      skip_ws();
      if ((peek() == '*' && !at("**")) || eat_command("cdot") || eat_command("times") || eat_command("ast")) {
        if (peek() == '*') ++pos_;
        acc = acc * parse_unary();
      } else if (peek() == '/' || at("\\div")) {
        if (peek() == '/') ++pos_;
        else eat_command("div");
        acc = divide(acc, parse_unary());
      } else if (starts_factor()) {
        acc = acc * parse_power();
      } else {
        return acc;
      }
    }
  }

  ex parse_unary() {
    bool negative = false;
    for (skip_ws(); peek() == '-' || peek() == '+'; skip_ws()) negative ^= s_[pos_++] == '-';
    ex value = parse_power();
    return negative ? -value : value;
  }

  ex parse_exponent() {
    skip_ws();
    if (peek() == '{') return sub(read_arg());
    if (peek() == '-') {
      ++pos_;
      return -parse_exponent();
    }
    if (peek() == '+') {
      ++pos_;
      return parse_exponent();
    }
    if (is_digit(peek())) {
      size_t j = pos_;
      while (j < s_.size() && is_digit(s_[j])) ++j;
      ex e = numeric(std::string(s_.substr(pos_, j - pos_)).c_str());
      pos_ = j;
      return e;
    }
    if (is_alpha(peek())) return letter_symbol();
    return parse_primary();
  }

  ex parse_power() {
    ex base = parse_postfix();
    skip_ws();
    if (peek() == '^' || at("**")) {
      pos_ += peek() == '^' ? 1 : 2;
      ex exponent = at("**") ? parse_unary() : parse_exponent();
      // a^b^c is a^(b^c).
      skip_ws();
      if (peek() == '^') {
        ++pos_;
        exponent = guarded_pow(exponent, parse_exponent());
      }
      ex result = guarded_pow(base, exponent);
      return postfix_factorials(result);
    }
    return base;
  }

  ex factorial_of(const ex& x) {
    if (is_a<numeric>(x)) {
      numeric n = ex_to<numeric>(x);
      if (!n.is_nonneg_integer() || n > kMaxFactorial) fail("factorial out of range");
    }
    return GiNaC::factorial(x);
  }

  ex postfix_factorials(ex e) {
    while (peek() == '!' && !(pos_ + 1 < s_.size() && s_[pos_ + 1] == '=')) {
      ++pos_;
      e = factorial_of(e);
    }
    return e;
  }

  ex parse_postfix() { return postfix_factorials(parse_primary()); }

  ex parse_number() {
    std::string digits, frac;
    while (is_digit(peek())) digits += s_[pos_++];
    if (peek() == '.' && pos_ + 1 < s_.size() && is_digit(s_[pos_ + 1])) {
      ++pos_;
      while (is_digit(peek())) frac += s_[pos_++];
    }
    if (digits.empty() && frac.empty()) fail("bad number");
    if (digits.size() + frac.size() > 5000) fail("number too long");
    numeric value = numeric((digits + frac).empty() ? "0" : (digits + frac).c_str());
    if (!frac.empty()) {
      value = value / ten_pow(static_cast<long>(frac.size()));
      if (frac.find_first_not_of('0') != std::string::npos) *inexact_ = true;
    }
    // Scientific notation written without spaces: 6.72e-5, 1E10.
    if ((peek() == 'e' || peek() == 'E') && pos_ + 1 < s_.size()) {
      size_t p = pos_ + 1;
      bool neg = false;
      if (s_[p] == '-' || s_[p] == '+') neg = s_[p++] == '-';
      if (p < s_.size() && is_digit(s_[p])) {
        size_t q = p;
        while (q < s_.size() && is_digit(s_[q])) ++q;
        if (q - p > 4) fail("exponent too large");
        long k = std::stol(std::string(s_.substr(p, q - p)));
        if (k > kMaxScientificExponent) fail("exponent too large");
        value = value * ten_pow(neg ? -k : k);
        pos_ = q;
        return value;
      }
    }
    if (!frac.empty()) return value;
    // Base-n numeral 52_8 / 52_{8}: kept as an opaque numeral (never converted to decimal).
    if (peek() == '_') {
      ++pos_;
      std::string base;
      for (char c : read_arg())
        if (!std::isspace(static_cast<unsigned char>(c))) base += c;
      return symbol_named(digits + "_" + base);
    }
    // Mixed number: an integer immediately followed by \frac{p}{q} with integer p, q is n + p/q.
    size_t save = pos_;
    skip_ws();
    if (command_at(pos_) == "frac") {
      pos_ += 5;
      std::string_view p = trim(read_arg()), q = trim(read_arg());
      auto all_digits = [](std::string_view t) {
        return !t.empty() && t.find_first_not_of("0123456789") == std::string_view::npos;
      };
      if (all_digits(p) && all_digits(q)) {
        numeric den(std::string(q).c_str());
        if (den.is_zero()) fail("division by zero");
        return value + numeric(std::string(p).c_str()) / den;
      }
    }
    pos_ = save;
    return value;
  }

  // Subscript after a name: x_1, a_{n+1} -> "x_1", "a_n+1".
  std::string subscript() {
    if (peek() != '_') return {};
    ++pos_;
    std::string out = "_";
    for (char c : read_arg())
      if (!std::isspace(static_cast<unsigned char>(c))) out += c;
    return out;
  }

  ex letter_symbol() {
    char c = s_[pos_++];
    std::string name(1, c);
    std::string sub_name = subscript();
    if (sub_name.empty()) {
      if (c == 'i') return GiNaC::I;
      if (c == 'e') return GiNaC::exp(ex(1));
    }
    return symbol_named(name + sub_name);
  }

  ex function_argument() {
    skip_ws();
    if (peek() == '(') {
      ++pos_;
      ex e = parse_sum();
      skip_ws();
      if (peek() != ')') fail("missing ')'");
      ++pos_;
      return e;
    }
    if (peek() == '{') return sub(read_arg());
    // \sin 2x, \sin \theta: a product of factors up to the next operator or function.
    ex e = parse_power();
    while (starts_factor() && !(peek() == '\\' && function_named(command_at(pos_)) != Fn::None)) e = e * parse_power();
    return e;
  }

  ex parse_function(Fn fn) {
    skip_ws();
    if (fn == Fn::Sqrt) {
      if (peek() == '[') {
        size_t close = s_.find(']', pos_);
        if (close == std::string_view::npos) fail("bad \\sqrt[");
        ex index = sub(s_.substr(pos_ + 1, close - pos_ - 1));
        pos_ = close + 1;
        if (index.is_zero()) fail("zeroth root");
        return guarded_pow(sub(read_arg()), 1 / index);
      }
      if (peek() == '(') return GiNaC::sqrt(function_argument());
      return GiNaC::sqrt(sub(read_arg()));
    }
    ex base_of_log;
    bool has_base = false;
    if (fn == Fn::Log && peek() == '_') {
      ++pos_;
      base_of_log = sub(read_arg());
      has_base = true;
      skip_ws();
    }
    ex power = 1;
    if (peek() == '^') {
      ++pos_;
      power = parse_exponent();
      if (power.is_equal(-1) && inverse_of(fn) != Fn::None) {
        fn = inverse_of(fn);
        power = 1;
      }
    }
    ex value = apply_function(fn, function_argument());
    if (has_base) value = divide(value, GiNaC::log(base_of_log));
    return guarded_pow(value, power);
  }

  ex parse_matrix(std::string_view env) {
    size_t begin_body = pos_;
    // Find the matching \end{env}.
    int depth = 1;
    size_t i = pos_;
    size_t end_at = std::string_view::npos;
    while (i < s_.size()) {
      if (starts_with_at(s_, i, "\\begin")) ++depth, i += 6;
      else if (starts_with_at(s_, i, "\\end")) {
        if (--depth == 0) {
          end_at = i;
          break;
        }
        i += 4;
      } else {
        ++i;
      }
    }
    if (end_at == std::string_view::npos) fail("unterminated matrix");
    std::string_view body = s_.substr(begin_body, end_at - begin_body);
    pos_ = end_at + 4;
    std::string_view closing = read_arg();
    if (closing != env) fail("mismatched \\end");
    if (env == "array") {
      // Skip the column specification {cc}.
      size_t p = body.find('{');
      size_t end = 0;
      if (p != std::string_view::npos && trim(body.substr(0, p)).empty() && brace_group(body, p, &end)) body = body.substr(end);
    }
    std::vector<std::vector<ex>> rows;
    for (std::string_view row : split_top(body, "\\\\")) {
      if (trim(row).empty()) continue;
      std::vector<ex> cells;
      for (std::string_view cell : split_top(row, "&")) cells.push_back(sub(cell));
      rows.push_back(std::move(cells));
    }
    if (rows.empty()) fail("empty matrix");
    for (const auto& r : rows)
      if (r.size() != rows[0].size()) fail("ragged matrix");
    GiNaC::matrix m(rows.size(), rows[0].size());
    for (size_t r = 0; r < rows.size(); ++r)
      for (size_t c = 0; c < rows[r].size(); ++c) m(r, c) = rows[r][c];
    *has_matrix_ = true;
    return m;
  }

  ex parse_command() {
    std::string_view name = command_at(pos_);
    if (name.empty() || !is_alpha(name[0]) || is_operator_command(name)) fail("unexpected '\\" + std::string(name) + "'");
    pos_ += 1 + name.size();
    if (name == "frac") {
      ex num = sub(read_arg());
      ex den = sub(read_arg());
      return divide(num, den);
    }
    if (name == "binom") {
      ex n = sub(read_arg());
      ex k = sub(read_arg());
      if (is_a<numeric>(n) && GiNaC::abs(ex_to<numeric>(n)) > kMaxBinomial) fail("binomial too large");
      return GiNaC::binomial(n, k);
    }
    if (name == "pi") return GiNaC::Pi;
    if (name == "infty") return infinity_symbol();
    if (name == "begin") {
      std::string_view env = read_arg();
      if (env == "pmatrix" || env == "bmatrix" || env == "matrix" || env == "Bmatrix" || env == "smallmatrix" ||
          env == "array")
        return parse_matrix(env);
      fail("unsupported environment " + std::string(env));
    }
    if (Fn fn = function_named(name); fn != Fn::None) return parse_function(fn);
    if (name == "overline" || name == "mathbf" || name == "boldsymbol" || name == "operatorname") return sub(read_arg());
    if (name == "mathbb" || name == "hat" || name == "vec" || name == "bar" || name == "tilde" || name == "widehat" ||
        name == "mathcal" || name == "overrightarrow") {
      std::string_view arg = read_arg();
      std::string key(1, '\\');
      key.append(name).append(1, '{').append(arg).append(1, '}');
      return symbol_named(key);
    }
    if (name == "lfloor" || name == "lceil" || name == "langle" || name == "text" || name == "sum" || name == "int" ||
        name == "prod" || name == "lim")
      fail("unsupported '\\" + std::string(name) + "'");
    // Greek letters and other names are variables (\theta, \alpha_1).
    std::string symbol_name = "\\" + std::string(name);
    symbol_name += subscript();
    return symbol_named(symbol_name);
  }

  ex parse_letters() {
    size_t j = pos_;
    while (j < s_.size() && is_alpha(s_[j])) ++j;
    std::string_view run = s_.substr(pos_, j - pos_);
    if (run == "infinity" || run == "inf") {
      pos_ = j;
      return infinity_symbol();
    }
    // Plain-text function names: sqrt(2), sin x, pi.
    static constexpr std::string_view kWords[] = {"arcsin", "arccos", "arctan", "sqrt", "sinh", "cosh", "tanh",
                                                  "sin",    "cos",    "tan",    "cot",  "sec",  "csc",  "log",
                                                  "exp",    "ln",     "pi"};
    for (std::string_view w : kWords) {
      if (run.substr(0, w.size()) == w && run.size() < w.size() + 3) {
        pos_ += w.size();
        if (w == "pi") return GiNaC::Pi;
        return parse_function(function_named(w));
      }
    }
    return letter_symbol();
  }

  ex parse_group(char open, char close) {
    ++pos_;
    if (depth_ + ++nesting_ > kMaxDepth) fail("nesting too deep");
    if (open == '|') ++abs_depth_;
    ex e = parse_sum();
    --nesting_;
    skip_ws();
    if (peek() != close) fail(std::string("missing '") + close + "'");
    ++pos_;
    if (open == '|') {
      --abs_depth_;
      return GiNaC::abs(e);
    }
    return e;
  }

  ex parse_primary() {
    skip_ws();
    char c = peek();
    if (c == '\0') fail("unexpected end");
    if (is_digit(c) || (c == '.' && pos_ + 1 < s_.size() && is_digit(s_[pos_ + 1]))) return parse_number();
    if (is_alpha(c)) return parse_letters();
    if (c == '(') return parse_group('(', ')');
    if (c == '[') return parse_group('[', ']');
    if (c == '|') return parse_group('|', '|');
    if (c == '{') {
      std::string_view group = read_arg();
      // {n \choose k}
      if (auto parts = split_top(group, "\\choose"); parts.size() == 2) {
        ex n = sub(parts[0]), k = sub(parts[1]);
        if (is_a<numeric>(n) && GiNaC::abs(ex_to<numeric>(n)) > kMaxBinomial) fail("binomial too large");
        return GiNaC::binomial(n, k);
      }
      return sub(group);
    }
    if (c == '\\') return parse_command();
    fail(std::string("unexpected '") + c + "'");
  }
};

Answer parse_scalar(std::string_view s, int depth) {
  Answer a;
  bool has_matrix = false;
  ExprParser parser(s, depth, &a.inexact, &has_matrix);
  a.value = parser.parse_all();
  if (has_matrix) a.value = a.value.evalm();
  return a;
}

Answer parse_element(std::string_view s, int depth);

// Elements of a comma list, each \pm expanded into two elements.
std::vector<Answer> list_elements(std::string_view s, int depth) {
  std::vector<Answer> out;
  for (std::string_view part : split_top(s, ",")) {
    if (trim(part).empty()) fail("empty list element");
    Answer element = parse_element(part, depth + 1);
    if (element.kind == AnswerKind::Set && element.plus_minus) {
      for (Answer& item : element.items) out.push_back(std::move(item));
    } else {
      out.push_back(std::move(element));
    }
  }
  return out;
}

// "x", "a_1", "\theta", "AB", "f(x)": the left side of an assignment.
bool is_simple_lhs(std::string_view s) {
  s = trim(s);
  if (s.empty()) return false;
  size_t p = 0;
  if (s[0] == '\\') {
    ++p;
    while (p < s.size() && is_alpha(s[p])) ++p;
    if (p == 1 || is_operator_command(s.substr(1, p - 1)) || function_named(s.substr(1, p - 1)) != Fn::None) return false;
  } else {
    while (p < s.size() && is_alpha(s[p])) ++p;
    if (p == 0 || p > 2) return false;
  }
  std::string_view rest = trim(s.substr(p));
  if (rest.empty()) return true;
  if (rest[0] == '_') return rest.find_first_of("=,") == std::string_view::npos && rest.size() <= 8;
  if (rest[0] == '(' && rest.back() == ')' && p == 1) return rest.find('(', 1) == std::string_view::npos;
  return false;
}

Answer parse_element(std::string_view s, int depth) {
  s = trim(s);
  if (s.empty()) fail("empty element");
  if (depth > kMaxDepth) fail("nesting too deep");
  if (s == "\\emptyset") {
    Answer a;
    a.kind = AnswerKind::Set;
    return a;
  }
  // "x \in [-2, 7]": the prefix only names the variable.
  if (auto parts = split_top(s, "\\in"); parts.size() == 2 && trim(parts[0]).size() <= 20 && is_simple_lhs(parts[0]))
    return parse_element(parts[1], depth + 1);
  if (auto parts = split_top(s, "="); parts.size() > 1) {
    Answer a;
    a.kind = AnswerKind::Equation;
    for (std::string_view side : parts) {
      if (trim(side).empty()) fail("empty side of '='");
      a.items.push_back(parse_element(side, depth + 1));
      a.inexact = a.inexact || a.items.back().inexact;
    }
    a.assignment = is_simple_lhs(parts[0]);
    return a;
  }
  if (s.size() >= 4 && s.substr(0, 2) == "\\{" && s.substr(s.size() - 2) == "\\}") {
    std::string_view inner = trim(s.substr(2, s.size() - 4));
    if (split_top(s.substr(2, s.size() - 4), "\\}").size() == 1) {
      Answer a;
      a.kind = AnswerKind::Set;
      if (!inner.empty()) a.items = list_elements(inner, depth);
      return a;
    }
  }
  // "{1, 2}": a set written without escaped braces.
  if (s.size() >= 2 && s[0] == '{' && s.back() == '}') {
    size_t end = 0;
    if (brace_group(s, 0, &end) && end == s.size() && split_top(s.substr(1, s.size() - 2), ",").size() > 1) {
      Answer a;
      a.kind = AnswerKind::Set;
      a.items = list_elements(s.substr(1, s.size() - 2), depth);
      return a;
    }
  }
  if (outer_brackets_match(s)) {
    std::string_view inner = s.substr(1, s.size() - 2);
    auto parts = split_top(inner, ",");
    if (parts.size() > 1) {
      Answer a;
      a.kind = AnswerKind::Tuple;
      a.open = s[0];
      a.close = s.back();
      for (std::string_view part : parts) {
        a.items.push_back(parse_element(part, depth + 1));
        a.inexact = a.inexact || a.items.back().inexact;
      }
      return a;
    }
  }
  auto variants = expand_plus_minus(s);
  if (variants.size() > 1) {
    Answer a;
    a.kind = AnswerKind::Set;
    a.plus_minus = true;
    for (const std::string& v : variants) {
      a.items.push_back(parse_scalar(v, depth));
      a.inexact = a.inexact || a.items.back().inexact;
    }
    return a;
  }
  return parse_scalar(s, depth);
}

}  // namespace

const GiNaC::symbol& infinity_symbol() {
  static const GiNaC::symbol infinity("\\infty");
  return infinity;
}

void forget_symbols_if_many() {
  if (symbol_table().size() > kMaxInternedSymbols) symbol_table().clear();
}

Answer parse_answer(std::string_view normalized) {
  std::string_view s = trim(normalized);
  if (s.empty()) fail("empty answer");
  if (s.size() > kMaxLength) fail("answer too long");
  if (looks_like_words(s)) {
    Answer a;
    a.kind = AnswerKind::Text;
    for (char c : s) {
      if (c == ' ' && (a.text.empty() || a.text.back() == ' ')) continue;
      a.text += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    while (!a.text.empty() && (a.text.back() == '.' || a.text.back() == ' ')) a.text.pop_back();
    return a;
  }
  if (auto parts = split_top(s, "\\cup"); parts.size() > 1) {
    Answer a;
    a.kind = AnswerKind::Union;
    for (std::string_view part : parts) {
      Answer piece = parse_element(part, 1);
      if (piece.kind != AnswerKind::Tuple && piece.kind != AnswerKind::Set) fail("union of non-sets");
      a.items.push_back(std::move(piece));
    }
    return a;
  }
  std::vector<Answer> elements = list_elements(s, 0);
  if (elements.size() == 1) return std::move(elements[0]);
  Answer a;
  a.kind = AnswerKind::Set;
  a.items = std::move(elements);
  return a;
}

}  // namespace r1::rewards::math
