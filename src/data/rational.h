// Exact rational arithmetic on 64-bit integers for checking arithmetic answers (Countdown expressions):
// floating point would accept 1/3*3 == 1 only by luck and accept near misses by tolerance. Every operation
// reports overflow or division by zero instead of producing a wrong value.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace r1::data {

struct Rational {
  int64_t num = 0, den = 1;  // always reduced, den > 0

  static std::optional<Rational> make(__int128 num, __int128 den);  // nullopt: den == 0 or out of range
  bool is_integer() const { return den == 1; }
  std::string str() const;  // "7", "-3/4"
  friend bool operator==(const Rational&, const Rational&) = default;
};

std::optional<Rational> add(Rational a, Rational b);
std::optional<Rational> sub(Rational a, Rational b);
std::optional<Rational> mul(Rational a, Rational b);
std::optional<Rational> div(Rational a, Rational b);  // nullopt when b == 0

}  // namespace r1::data
