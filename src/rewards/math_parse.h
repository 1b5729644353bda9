// Recursive-descent parser from a normalised LaTeX / plain-math answer to a structured value over GiNaC
// expressions: scalars (exact rationals, radicals, pi, e, i, polynomials, trig, logs, factorials, binomials),
// matrices, ordered tuples / intervals, unordered sets and lists (\pm expands to two elements), unions of
// intervals, equations, and word answers. Guards bound input length, nesting, exponents and factorials so a
// hostile answer cannot make GiNaC run away.
//
// GiNaC is not thread-safe (shared reference-counted constants, the global Digits), so every use of the
// parser or of the values it returns must hold ginac_mutex().
#pragma once
#include <ginac/ginac.h>

#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace r1::rewards::math {

std::mutex& ginac_mutex();

struct ParseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class AnswerKind { Scalar, Tuple, Set, Union, Equation, Text };

struct Answer {
  AnswerKind kind = AnswerKind::Scalar;
  GiNaC::ex value;               // Scalar: the expression (a GiNaC matrix for pmatrix/bmatrix answers)
  bool inexact = false;          // a decimal literal with a fractional part occurs: relative tolerance applies
  char open = 0, close = 0;      // Tuple: its bracket characters, '(' or '[' and ')' or ']'
  std::vector<Answer> items;     // Tuple/Set/Union elements; Equation: its sides, left to right
  bool assignment = false;       // Equation "x = ...": lhs is a plain variable (or f(x)); rhs is the value
  bool plus_minus = false;       // Set produced by expanding \pm: flattened into an enclosing list
  std::string text;              // Text: lower-cased words
};

// Parses a normalised answer (see normalize_answer). Throws ParseError when it cannot be read.
Answer parse_answer(std::string_view normalized);

// The symbol standing for \infty (comparisons treat it structurally).
const GiNaC::symbol& infinity_symbol();

// Variables are interned by name so both sides of a comparison share them; over a long run the table is
// dropped once it holds more than a bound. Call only between comparisons, holding ginac_mutex().
void forget_symbols_if_many();

}  // namespace r1::rewards::math
