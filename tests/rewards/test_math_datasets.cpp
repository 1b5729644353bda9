// Dataset check: every GSM8K test and MATH-500 gold verifies against itself re-rendered (boxed, "The answer
// is", <answer>, "####", exact decimal / fraction forms of numeric golds), and no gold verifies against
// another item's different gold unless the two are truly equal (MATH-500: all 124,750 pairs; GSM8K: 5 per
// item). Prints both rates and the check rate.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "rewards/math_equivalence.h"
#include "rewards/math_normalize.h"
#include "rewards/math_parse.h"
#include "rewards/math_verifier.h"

namespace r1::rewards {
namespace {

std::vector<std::string> read_golds(const std::string& path, bool gsm8k) {
  std::vector<std::string> golds;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto row = nlohmann::json::parse(line);
    golds.push_back(gold_answer(row.at("answer").get<std::string>()));
    (void)gsm8k;
  }
  return golds;
}

// Exact numeric value of a gold when it is a rational number: (numerator, denominator) as decimal strings.
std::optional<std::pair<std::string, std::string>> rational_value(const std::string& gold) {
  std::lock_guard<std::mutex> lock(math::ginac_mutex());
  try {
    math::Answer a = math::parse_answer(math::normalize_answer(gold));
    if (a.kind != math::AnswerKind::Scalar || !GiNaC::is_a<GiNaC::numeric>(a.value)) return std::nullopt;
    GiNaC::numeric v = GiNaC::ex_to<GiNaC::numeric>(a.value);
    if (!v.is_rational()) return std::nullopt;
    std::ostringstream num, den;
    num << v.numer();
    den << v.denom();
    return std::make_pair(num.str(), den.str());
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// p/q as an exact decimal string when q = 2^a 5^b.
std::optional<std::string> exact_decimal(const std::string& num, const std::string& den) {
  long long q = std::stoll(den.size() > 17 ? "0" : den);
  if (q <= 0) return std::nullopt;
  int twos = 0, fives = 0;
  while (q % 2 == 0) q /= 2, ++twos;
  while (q % 5 == 0) q /= 5, ++fives;
  if (q != 1 || num.size() > 15) return std::nullopt;
  int places = std::max(twos, fives);
  long long scale = 1;
  for (int i = 0; i < places; ++i) scale *= 10;
  long long n = std::stoll(num);
  long long d = std::stoll(den);
  long long scaled = n * (scale / d);
  bool negative = scaled < 0;
  std::string digits = std::to_string(negative ? -scaled : scaled);
  if (places == 0) return (negative ? "-" : "") + digits + ".0";
  while (static_cast<int>(digits.size()) <= places) digits = "0" + digits;
  return (negative ? "-" : "") + digits.substr(0, digits.size() - places) + "." + digits.substr(digits.size() - places);
}

std::vector<std::string> renderings(const std::string& gold, bool gsm8k) {
  std::vector<std::string> out = {"\\boxed{" + gold + "}", "<answer>" + gold + "</answer>",
                                  "Final Answer: The final answer is $" + gold + "$. I hope it is correct."};
  if (gsm8k) {
    out.push_back("The answer is " + gold + ".");
    out.push_back("#### " + gold);
  } else {
    out.push_back("The answer is $" + gold + "$.");
  }
  // Surface variants that must not change the value: \dfrac, \left( \right), spaced operators, $...$.
  auto replaced = [](std::string s, const std::string& from, const std::string& to) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
    return s;
  };
  if (gold.find("\\frac") != std::string::npos) out.push_back("\\boxed{" + replaced(gold, "\\frac", "\\dfrac") + "}");
  if (gold.find('(') != std::string::npos && gold.find("\\left") == std::string::npos)
    out.push_back("\\boxed{" + replaced(replaced(gold, "(", "\\left("), ")", "\\right)") + "}");
  if (gold.find('+') != std::string::npos || gold.find('=') != std::string::npos)
    out.push_back("\\boxed{" + replaced(replaced(gold, "+", " + "), "=", " = ") + "}");
  out.push_back("so $\\boxed{$" + gold + "$}$");
  if (auto r = rational_value(gold)) {
    auto [num, den] = *r;
    if (auto dec = exact_decimal(num, den)) out.push_back("\\boxed{" + *dec + "}");
    if (den == "1") out.push_back("\\boxed{\\frac{" + num + "0}{10}}");
    else out.push_back("\\boxed{\\frac{" + num + "}{" + den + "}}");
  }
  return out;
}

struct Rates {
  size_t self_checks = 0, self_failures = 0, items_failed = 0;
  size_t cross_checks = 0, cross_equal = 0;
  std::vector<std::string> failures;
  std::vector<std::pair<std::string, std::string>> equal_pairs;
  double seconds = 0;
};

// exhaustive: every pair i < j (MATH-500); otherwise each item against 5 others (GSM8K, 1,319 items).
Rates run_dataset(const std::vector<std::string>& golds, bool gsm8k, bool exhaustive) {
  Rates r;
  auto start = std::chrono::steady_clock::now();
  for (const std::string& gold : golds) {
    bool item_ok = true;
    for (const std::string& response : renderings(gold, gsm8k)) {
      ++r.self_checks;
      MathVerdict v = verify_math(response, gold);
      if (!v.correct) {
        ++r.self_failures;
        item_ok = false;
        r.failures.push_back(gold + "  <-  " + response + "  (" + v.reason + ")");
      }
    }
    if (!item_ok) ++r.items_failed;
  }
  // Cross pairs whose normalised golds differ.
  const size_t n = golds.size();
  std::vector<std::string> normalized;
  for (const std::string& g : golds) normalized.push_back(math::normalize_answer(g));
  auto cross = [&](size_t i, size_t j) {
    if (normalized[i] == normalized[j]) return false;
    ++r.cross_checks;
    if (verify_math("\\boxed{" + golds[j] + "}", golds[i]).correct) {
      ++r.cross_equal;
      r.equal_pairs.emplace_back(golds[j], golds[i]);
    }
    return true;
  };
  for (size_t i = 0; i < n; ++i) {
    if (exhaustive) {
      for (size_t j = i + 1; j < n; ++j) cross(i, j);
      continue;
    }
    size_t taken = 0;
    for (size_t step = 1; step < n && taken < 5; step += 7) taken += cross(i, (i + step * 13) % n) ? 1 : 0;
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

void print(const char* name, size_t items, const Rates& r) {
  std::printf("[%s] items %zu  self: %zu/%zu renderings verified (%.2f%%), items fully verified %.2f%%\n", name, items,
              r.self_checks - r.self_failures, r.self_checks,
              100.0 * (r.self_checks - r.self_failures) / std::max<size_t>(1, r.self_checks),
              100.0 * (items - r.items_failed) / std::max<size_t>(1, items));
  std::printf("[%s] cross: %zu pairs, %zu judged equal (%.3f%%); %.0f checks/s on one thread\n", name, r.cross_checks,
              r.cross_equal, 100.0 * r.cross_equal / std::max<size_t>(1, r.cross_checks),
              (r.self_checks + r.cross_checks) / std::max(1e-9, r.seconds));
  for (const auto& f : r.failures) std::printf("  self failure: %s\n", f.c_str());
  for (const auto& [a, b] : r.equal_pairs) std::printf("  cross equal: %s == %s\n", a.c_str(), b.c_str());
}

TEST(MathVerifierDatasets, Gsm8kGoldsVerifyAgainstThemselvesOnly) {
  std::string path = std::string(R1_SHARED_DATA_DIR) + "/gsm8k/test.jsonl";
  if (!std::ifstream(path)) GTEST_SKIP() << "missing " << path;
  std::vector<std::string> golds = read_golds(path, true);
  ASSERT_GT(golds.size(), 1000u);
  Rates r = run_dataset(golds, true, false);
  print("gsm8k", golds.size(), r);
  EXPECT_EQ(r.self_failures, 0u);
  // GSM8K golds are integers: two different canonical integers are never equal.
  EXPECT_EQ(r.cross_equal, 0u);
}

TEST(MathVerifierDatasets, Math500GoldsVerifyAgainstThemselvesOnly) {
  std::string path = std::string(R1_SHARED_DATA_DIR) + "/math500/test.jsonl";
  if (!std::ifstream(path)) GTEST_SKIP() << "missing " << path;
  std::vector<std::string> golds = read_golds(path, false);
  ASSERT_EQ(golds.size(), 500u);
  Rates r = run_dataset(golds, false, true);
  print("math500", golds.size(), r);
  EXPECT_GE(static_cast<double>(golds.size() - r.items_failed), 0.99 * golds.size());
  // The only different-looking golds of MATH-500 that are truly equal (checked by hand).
  const std::set<std::pair<std::string, std::string>> kTrulyEqual = {
      {"5", "x=5"}, {"\\frac14", "\\frac{1}{4}"}, {"2 \\sqrt{5}", "2\\sqrt{5}"}, {"1,-2", "-2,1"}};
  for (const auto& [a, b] : r.equal_pairs)
    EXPECT_TRUE(kTrulyEqual.count({a, b}) || kTrulyEqual.count({b, a})) << "false positive: " << a << " == " << b;
}

TEST(MathVerifierDatasets, AimeGoldsVerifyUnpaddedAndPadded) {
  size_t checked = 0;
  for (const char* file : {"/aime/aime24.jsonl", "/aime/aime25.jsonl"}) {
    std::string path = std::string(R1_SHARED_DATA_DIR) + file;
    std::ifstream in(path);
    if (!in) continue;
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      auto row = nlohmann::json::parse(line);
      const auto& field = row.at("answer");
      std::string gold = field.is_string() ? field.get<std::string>() : std::to_string(field.get<long>());
      long value = std::stol(gold);
      EXPECT_TRUE(verify_math("\\boxed{" + std::to_string(value) + "}", gold).correct) << gold;
      EXPECT_FALSE(verify_math("\\boxed{" + std::to_string(value + 1) + "}", gold).correct) << gold;
      ++checked;
    }
  }
  if (checked == 0) GTEST_SKIP() << "no AIME data";
}

}  // namespace
}  // namespace r1::rewards
