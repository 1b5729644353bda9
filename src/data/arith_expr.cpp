#include "data/arith_expr.h"

#include <limits>

namespace r1::data {

namespace {

// Recursive descent over:  expr := term (('+'|'-') term)* ;  term := unary (('*'|'/') unary)* ;
// unary := ('-'|'+') unary | '(' expr ')' | integer.  Depth is bounded so hostile input cannot overflow the stack.
class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  std::optional<ArithValue> parse() {
    ArithValue out;
    auto v = expr(out.literals, 0);
    skip_space();
    if (!v || pos_ != s_.size()) return std::nullopt;
    out.value = *v;
    return out;
  }

 private:
  static constexpr int kMaxDepth = 200;

  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }

  // The next operator character, mapping the UTF-8 signs × (C3 97) and ÷ (C3 B7) to * and /; 0 if none.
  char peek_op() {
    skip_space();
    if (pos_ >= s_.size()) return 0;
    const char c = s_[pos_];
    if (c == '+' || c == '-' || c == '*' || c == '/' || c == '(' || c == ')') return c;
    if (c == '\xC3' && pos_ + 1 < s_.size()) {
      if (s_[pos_ + 1] == '\x97') return 'x';
      if (s_[pos_ + 1] == '\xB7') return 'd';
    }
    return 0;
  }
  void take_op(char c) { pos_ += (c == 'x' || c == 'd') ? 2 : 1; }

  std::optional<Rational> expr(std::vector<int64_t>& lits, int depth) {
    auto acc = term(lits, depth);
    while (acc) {
      const char c = peek_op();
      if (c != '+' && c != '-') break;
      take_op(c);
      auto rhs = term(lits, depth);
      if (!rhs) return std::nullopt;
      acc = c == '+' ? add(*acc, *rhs) : sub(*acc, *rhs);
    }
    return acc;
  }

  std::optional<Rational> term(std::vector<int64_t>& lits, int depth) {
    auto acc = unary(lits, depth);
    while (acc) {
      const char c = peek_op();
      const bool times = c == '*' || c == 'x', divide = c == '/' || c == 'd';
      if (!times && !divide) break;
      take_op(c);
      if (times && pos_ < s_.size() && s_[pos_] == '*') return std::nullopt;  // "**" is a power, not ours
      auto rhs = unary(lits, depth);
      if (!rhs) return std::nullopt;
      acc = times ? mul(*acc, *rhs) : div(*acc, *rhs);
    }
    return acc;
  }

  std::optional<Rational> unary(std::vector<int64_t>& lits, int depth) {
    if (depth > kMaxDepth) return std::nullopt;
    const char c = peek_op();
    if (c == '-' || c == '+') {
      take_op(c);
      auto v = unary(lits, depth + 1);
      if (!v || c == '+') return v;
      return sub(Rational{}, *v);
    }
    if (c == '(') {
      take_op(c);
      auto v = expr(lits, depth + 1);
      if (!v || peek_op() != ')') return std::nullopt;
      take_op(')');
      return v;
    }
    return integer(lits);
  }

  std::optional<Rational> integer(std::vector<int64_t>& lits) {
    skip_space();
    const size_t start = pos_;
    int64_t v = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      const int d = s_[pos_++] - '0';
      if (v > (std::numeric_limits<int64_t>::max() - d) / 10) return std::nullopt;
      v = v * 10 + d;
    }
    if (pos_ == start) return std::nullopt;
    if (pos_ < s_.size() && (s_[pos_] == '.' || s_[pos_] == ',')) return std::nullopt;  // decimals: not ours
    lits.push_back(v);
    return Rational{v, 1};
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

std::optional<ArithValue> evaluate_arithmetic(std::string_view expression) { return Parser(expression).parse(); }

}  // namespace r1::data
