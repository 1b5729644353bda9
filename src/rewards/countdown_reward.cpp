// Countdown reward: a recursive-descent parser over exact rationals (see countdown_reward.h).
//   expr   := term (('+' | '-') term)*
//   term   := unary (('*' | '/') unary)*
//   unary  := ('+' | '-') unary | atom
//   atom   := integer | '(' expr ')'
#include "rewards/countdown_reward.h"

#include <algorithm>
#include <cstdlib>
#include <numeric>

#include "core/error.h"

namespace r1::rewards {

namespace {

using Int = __int128;

// p/q in lowest terms with q > 0. Every operation checks for overflow; an overflowing expression cannot be
// a sensible answer and is reported as a syntax error instead of wrapping around to a "correct" value.
struct Rational {
  Int p = 0, q = 1;
};

struct Overflow {};
struct DivideByZero {};
struct Syntax {
  std::string what;
};

Int checked_mul(Int a, Int b) {
  Int r;
  if (__builtin_mul_overflow(a, b, &r)) throw Overflow{};
  return r;
}
Int checked_add(Int a, Int b) {
  Int r;
  if (__builtin_add_overflow(a, b, &r)) throw Overflow{};
  return r;
}
Int abs_int(Int a) { return a < 0 ? -a : a; }
Int gcd_int(Int a, Int b) {
  a = abs_int(a), b = abs_int(b);
  while (b != 0) {
    Int t = a % b;
    a = b, b = t;
  }
  return a;
}

Rational make(Int p, Int q) {
  if (q == 0) throw DivideByZero{};
  if (q < 0) p = -p, q = -q;
  const Int g = gcd_int(p, q);
  if (g > 1) p /= g, q /= g;
  return {p, q};
}
Rational add(Rational a, Rational b) { return make(checked_add(checked_mul(a.p, b.q), checked_mul(b.p, a.q)), checked_mul(a.q, b.q)); }
Rational neg(Rational a) { return {-a.p, a.q}; }
Rational mul(Rational a, Rational b) { return make(checked_mul(a.p, b.p), checked_mul(a.q, b.q)); }
Rational div(Rational a, Rational b) {
  if (b.p == 0) throw DivideByZero{};
  return make(checked_mul(a.p, b.q), checked_mul(a.q, b.p));
}

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  Rational parse() {
    Rational r = expr();
    skip();
    if (pos_ != s_.size()) throw Syntax{"unexpected '" + std::string(1, s_[pos_]) + "'"};
    return r;
  }
  const std::vector<int64_t>& numbers() const { return numbers_; }

 private:
  void skip() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool eat(char c) {
    skip();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  Rational expr() {
    Rational r = term();
    for (;;) {
      if (eat('+'))
        r = add(r, term());
      else if (eat('-'))
        r = add(r, neg(term()));
      else
        return r;
    }
  }
  Rational term() {
    Rational r = unary();
    for (;;) {
      skip();
      if (s_.substr(pos_, 2) == "**") throw Syntax{"'**' is not allowed"};
      if (eat('*'))
        r = mul(r, unary());
      else if (eat('/'))
        r = div(r, unary());
      else
        return r;
    }
  }
  Rational unary() {
    if (++depth_ > 200) throw Syntax{"expression nested too deeply"};
    Rational r;
    if (eat('-'))
      r = neg(unary());
    else if (eat('+'))
      r = unary();
    else
      r = atom();
    --depth_;
    return r;
  }
  Rational atom() {
    skip();
    if (eat('(')) {
      Rational r = expr();
      if (!eat(')')) throw Syntax{"missing ')'"};
      return r;
    }
    if (pos_ >= s_.size()) throw Syntax{"expression ends early"};
    if (!std::isdigit(static_cast<unsigned char>(s_[pos_]))) throw Syntax{"unexpected '" + std::string(1, s_[pos_]) + "'"};
    Int value = 0;
    while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
      value = checked_add(checked_mul(value, 10), s_[pos_] - '0');
      if (value > Int(INT64_MAX)) throw Overflow{};
      ++pos_;
    }
    if (pos_ < s_.size() && s_[pos_] == '.') throw Syntax{"decimal numbers are not allowed"};
    numbers_.push_back(static_cast<int64_t>(value));
    return {value, 1};
  }

  std::string_view s_;
  size_t pos_ = 0;
  int depth_ = 0;
  std::vector<int64_t> numbers_;
};

std::string int_text(Int x) {
  if (x == 0) return "0";
  const bool negative = x < 0;
  std::string digits;
  for (; x != 0; x /= 10) digits.push_back(static_cast<char>('0' + static_cast<int>(negative ? -(x % 10) : x % 10)));
  if (negative) digits.push_back('-');
  return std::string(digits.rbegin(), digits.rend());
}

std::string join(std::vector<int64_t> v) {
  std::string out;
  for (int64_t x : v) out += (out.empty() ? "" : ", ") + std::to_string(x);
  return "[" + out + "]";
}

}  // namespace

CountdownCheck check_countdown_expression(std::string_view expression, const std::vector<int64_t>& nums, int64_t target) {
  using S = CountdownCheck::Status;
  CountdownCheck out;
  out.expression = std::string(expression);
  auto finish = [&](S status, std::string detail) {
    out.status = status;
    out.detail = std::move(detail);
    return out;
  };
  for (char c : expression)
    if (!(std::isdigit(static_cast<unsigned char>(c)) || std::string_view("+-*/(). \t\r\n").find(c) != std::string_view::npos))
      return finish(S::IllegalCharacters, "illegal character '" + std::string(1, c) + "'");
  Parser parser(expression);
  Rational value;
  try {
    value = parser.parse();
  } catch (const Syntax& e) {
    return finish(S::SyntaxError, "syntax error: " + e.what);
  } catch (const Overflow&) {
    return finish(S::SyntaxError, "number too large");
  } catch (const DivideByZero&) {
    return finish(S::DivisionByZero, "division by zero");
  }
  std::vector<int64_t> used = parser.numbers(), given = nums;
  std::sort(used.begin(), used.end());
  std::sort(given.begin(), given.end());
  if (used != given) return finish(S::WrongNumbers, "uses " + join(used) + ", given " + join(given));
  if (value.q != 1 || value.p != Int(target)) {
    std::string v = int_text(value.p);
    if (value.q != 1) v.append(1, '/').append(int_text(value.q));
    return finish(S::WrongValue, "equals " + v + ", target " + std::to_string(target));
  }
  return finish(S::Correct, "correct");
}

CountdownCheck check_countdown(std::string_view completion, const std::vector<int64_t>& nums, int64_t target) {
  const size_t open = completion.rfind("<answer>");
  if (open == std::string_view::npos) return {CountdownCheck::Status::NoAnswer, "", "no <answer>"};
  const size_t begin = open + 8, close = completion.find("</answer>", begin);
  if (close == std::string_view::npos) return {CountdownCheck::Status::NoAnswer, "", "unterminated <answer>"};
  return check_countdown_expression(completion.substr(begin, close - begin), nums, target);
}

namespace {

// The task's numbers and target, from metadata or from the reference JSON.
void task_of(const RewardInput& input, std::vector<int64_t>& nums, int64_t& target) {
  nlohmann::json task = input.metadata;
  if (!(task.is_object() && task.contains("target") && task.contains("nums"))) {
    try {
      task = nlohmann::json::parse(input.reference);
    } catch (const nlohmann::json::exception&) {
      throw Error("countdown reward: field 'metadata.target'/'metadata.nums' missing and the reference is not a "
                  "JSON task {\"target\", \"nums\"}");
    }
  }
  if (!task.is_object() || !task.contains("target") || !task["target"].is_number_integer())
    throw Error("countdown reward: field 'target' must be an integer");
  if (!task.contains("nums") || !task["nums"].is_array() || task["nums"].empty())
    throw Error("countdown reward: field 'nums' must be a non-empty list of integers");
  target = task["target"].get<int64_t>();
  nums.clear();
  for (const auto& n : task["nums"]) {
    if (!n.is_number_integer()) throw Error("countdown reward: field 'nums' must be a non-empty list of integers");
    nums.push_back(n.get<int64_t>());
  }
}

}  // namespace

RewardResult CountdownReward::score(const RewardInput& input) const {
  std::vector<int64_t> nums;
  int64_t target = 0;
  task_of(input, nums, target);
  const CountdownCheck c = check_countdown(input.completion, nums, target);
  switch (c.status) {
    case CountdownCheck::Status::Correct:
      return {options_.correct_score, c.detail};
    case CountdownCheck::Status::NoAnswer:
      return {0.0, c.detail};
    default:
      return {options_.format_score, c.detail};
  }
}

std::unique_ptr<Reward> make_countdown_reward(RewardParams& params) {
  CountdownReward::Options o;
  o.correct_score = params.get_number("correct_score", 1.0);
  o.format_score = params.get_number("format_score", 0.1);
  return std::make_unique<CountdownReward>(o);
}

}  // namespace r1::rewards
