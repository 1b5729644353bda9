// Math verifier throughput: verify_math checks/s on 1 and N threads for four workloads —
//   gsm8k-self     GSM8K golds vs "The answer is N." / "\boxed{N.0}" (string + integer fast paths, no GiNaC)
//   math500-self   MATH-500 golds vs their boxed / \dfrac / decimal renderings (mostly normalised-string hits)
//   math500-cross  MATH-500 gold vs another item's gold (parse + exact / symbolic comparison: the slow path)
//   symbolic       radicals, polynomials, trig identities and structures that need GiNaC simplification
// GiNaC is not thread-safe, so its stages serialise on one mutex: threads only speed up the fast paths.
//
//   g++ -O2 -std=c++20 -fopenmp -Isrc bench/verifier/verifier_bench.cpp -o verifier_bench \
//       build/cpu/libr1_rewards.a build/cpu/libr1_core.a -lginac -lcln
//   ./verifier_bench [--threads 2] [--data ../shared/data] [--seconds 1.0]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "rewards/math_verifier.h"

namespace {

using Clock = std::chrono::steady_clock;
using Pair = std::pair<std::string, std::string>;  // (response, gold field)

std::vector<std::string> read_answers(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(r1::rewards::gold_answer(nlohmann::json::parse(line).at("answer").get<std::string>()));
  return out;
}

std::string replaced(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

// Runs the pairs round-robin on `threads` threads for at least `seconds`; returns checks/s.
double throughput(const std::vector<Pair>& pairs, int threads, double seconds, size_t* correct) {
  std::atomic<size_t> checks{0}, right{0};
  auto start = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      size_t i = static_cast<size_t>(t);
      while (std::chrono::duration<double>(Clock::now() - start).count() < seconds) {
        for (int k = 0; k < 64; ++k, i += static_cast<size_t>(threads)) {
          const Pair& p = pairs[i % pairs.size()];
          if (r1::rewards::verify_math(p.first, p.second).correct) right.fetch_add(1, std::memory_order_relaxed);
          checks.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  *correct = right.load();
  return checks.load() / elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  double seconds = 1.0;
  std::string data = "../shared/data";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--data")) data = argv[i + 1];
  }
  std::vector<std::string> gsm = read_answers(data + "/gsm8k/test.jsonl");
  std::vector<std::string> math = read_answers(data + "/math500/test.jsonl");
  if (gsm.empty() || math.empty()) {
    std::fprintf(stderr, "verifier_bench: no data under %s (use --data)\n", data.c_str());
    return 1;
  }
  std::vector<std::pair<const char*, std::vector<Pair>>> workloads(4);
  workloads[0].first = "gsm8k-self";
  for (const auto& g : gsm) {
    workloads[0].second.emplace_back("The answer is " + g + ".", "#### " + g);
    workloads[0].second.emplace_back("\\boxed{" + replaced(g, ",", "") + ".0}", "#### " + g);
  }
  workloads[1].first = "math500-self";
  for (const auto& g : math) {
    workloads[1].second.emplace_back("\\boxed{" + g + "}", g);
    workloads[1].second.emplace_back("\\boxed{" + replaced(g, "\\frac", "\\dfrac") + "}", g);
  }
  workloads[2].first = "math500-cross";
  for (size_t i = 0; i < math.size(); ++i) workloads[2].second.emplace_back("\\boxed{" + math[(i * 7 + 3) % math.size()] + "}", math[i]);
  workloads[3].first = "symbolic";
  const char* kSymbolic[][2] = {
      {"\\sqrt{117}", "3\\sqrt{13}"},          {"(x+1)^3", "x^3+3x^2+3x+1"},
      {"\\frac{1}{\\sqrt3}", "\\frac{\\sqrt3}{3}"}, {"2\\sin x\\cos x", "\\sin 2x"},
      {"(a+5)(b+2)", "ab+2a+5b+10"},            {"1 \\pm \\sqrt{19}", "1+\\sqrt{19}, 1-\\sqrt{19}"},
      {"(3,\\infty)\\cup(-\\infty,2)", "(-\\infty, 2) \\cup (3, \\infty)"},
      {"\\frac13\\begin{pmatrix}-1\\\\2\\\\5\\end{pmatrix}", "\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}"},
      {"y=3+2x", "y = 2x + 3"},                 {"\\frac{x^2-1}{x-1}", "x+1"}};
  for (auto& c : kSymbolic) workloads[3].second.emplace_back(std::string("\\boxed{") + c[0] + "}", c[1]);

  std::printf("%-14s %8s %14s %14s %8s %9s\n", "workload", "pairs", "1 thread /s", "threads /s", "ratio", "correct");
  for (auto& [name, pairs] : workloads) {
    size_t correct1 = 0, correctn = 0;
    double one = throughput(pairs, 1, seconds, &correct1);
    double many = throughput(pairs, threads, seconds, &correctn);
    // share of correct verdicts over one pass, to show what each workload exercises
    size_t right = 0;
    for (const auto& p : pairs) right += r1::rewards::verify_math(p.first, p.second).correct ? 1 : 0;
    std::printf("%-14s %8zu %14.0f %14.0f %8.2f %8.1f%%\n", name, pairs.size(), one, many, many / one,
                100.0 * right / pairs.size());
  }
  std::printf("(threads = %d)\n", threads);
  return 0;
}
