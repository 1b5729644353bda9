#include "data/rational.h"

#include <limits>

namespace r1::data {

namespace {

__int128 gcd128(__int128 a, __int128 b) {
  if (a < 0) a = -a;
  if (b < 0) b = -b;
  while (b != 0) {
    const __int128 t = a % b;
    a = b;
    b = t;
  }
  return a;
}

bool fits64(__int128 v) {
  return v >= std::numeric_limits<int64_t>::min() && v <= std::numeric_limits<int64_t>::max();
}

}  // namespace

std::optional<Rational> Rational::make(__int128 num, __int128 den) {
  if (den == 0) return std::nullopt;
  if (den < 0) num = -num, den = -den;
  const __int128 g = gcd128(num, den);
  if (g > 1) num /= g, den /= g;
  if (!fits64(num) || !fits64(den)) return std::nullopt;
  return Rational{int64_t(num), int64_t(den)};
}

std::string Rational::str() const {
  return den == 1 ? std::to_string(num) : std::to_string(num) + "/" + std::to_string(den);
}

// Operands are 64-bit, so every product of two of them fits in 128 bits; a sum of two such products does too.
std::optional<Rational> add(Rational a, Rational b) {
  return Rational::make(__int128(a.num) * b.den + __int128(b.num) * a.den, __int128(a.den) * b.den);
}
std::optional<Rational> sub(Rational a, Rational b) {
  return Rational::make(__int128(a.num) * b.den - __int128(b.num) * a.den, __int128(a.den) * b.den);
}
std::optional<Rational> mul(Rational a, Rational b) {
  return Rational::make(__int128(a.num) * b.num, __int128(a.den) * b.den);
}
std::optional<Rational> div(Rational a, Rational b) {
  return Rational::make(__int128(a.num) * b.den, __int128(a.den) * b.num);
}

}  // namespace r1::data
