#include "data/reasoning_corpus.h"

#include <algorithm>
#include <set>

namespace r1::data {

namespace {

uint64_t mix64(uint64_t x) {  // splitmix64 finaliser: a well-spread hash of the operands
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

int64_t pow10(int d) {
  int64_t p = 1;
  while (d-- > 0) p *= 10;
  return p;
}

int64_t random_operand(Philox& rng, const AdditionTaskOptions& o) {
  const int digits = o.min_digits + int(rng.below(uint64_t(o.max_digits - o.min_digits + 1)));
  const int64_t lo = digits == 1 ? 0 : pow10(digits - 1);
  return lo + int64_t(rng.below(uint64_t(pow10(digits) - lo)));
}

// The column steps, optionally with one column's sum off by `slip` (the answer then follows the slip,
// like a careless student: internally consistent, wrong).
std::string steps_with_slip(int64_t a, int64_t b, int slip_column, int slip, int64_t* result) {
  std::string out;
  int carry = 0;
  int64_t value = 0, place = 1;
  for (int col = 0; a > 0 || b > 0 || col == 0; col++) {
    const int da = int(a % 10), db = int(b % 10);
    a /= 10, b /= 10;
    int sum = da + db + carry;
    if (col == slip_column) sum = std::max(0, sum + slip);
    if (!out.empty()) out += ", ";
    out += std::to_string(da) + "+" + std::to_string(db);
    if (carry) out += "+" + std::to_string(carry);
    out += "=" + std::to_string(sum);
    value += int64_t(sum % 10) * place;
    place *= 10;
    carry = sum / 10;
  }
  if (carry) value += int64_t(carry) * place;
  *result = value;
  return out + ", so " + std::to_string(value);
}

}  // namespace

std::string AdditionProblem::question() const {
  return "What is " + std::to_string(a) + " + " + std::to_string(b) + "?";
}

Split split_of(const AdditionProblem& p) {
  return mix64(uint64_t(p.a) * 1000003ull ^ uint64_t(p.b)) % 8 == 0 ? Split::HeldOut : Split::Train;
}

std::vector<AdditionProblem> addition_problems(const AdditionTaskOptions& options, Split split, int count) {
  Philox rng(options.seed, split == Split::Train ? 11 : 12);
  std::vector<AdditionProblem> out;
  std::set<std::pair<int64_t, int64_t>> seen;
  // The space may be small for tiny digit ranges: give up after many rejections rather than loop forever.
  for (int64_t tries = 0; int(out.size()) < count && tries < int64_t(count) * 1000; tries++) {
    AdditionProblem p{random_operand(rng, options), random_operand(rng, options)};
    if (split_of(p) != split || !seen.insert({p.a, p.b}).second) continue;
    out.push_back(p);
  }
  return out;
}

std::string column_addition_steps(int64_t a, int64_t b) {
  int64_t result = 0;
  return steps_with_slip(a, b, -1, 0, &result);
}

std::string formatted_solution(const AdditionProblem& p) {
  return " <think> " + column_addition_steps(p.a, p.b) + " </think> <answer>" + std::to_string(p.answer()) +
         "</answer>";
}

std::vector<std::string> pretraining_corpus(const CorpusOptions& o, const std::string& user_prefix,
                                            const std::string& assistant_prefix) {
  Philox rng(o.task.seed, 21);
  const double total = o.p_formatted + o.p_formatted_slip + o.p_plain + o.p_plain_wrong + o.p_untagged;
  std::vector<std::string> docs;
  docs.reserve(size_t(o.documents));
  while (int(docs.size()) < o.documents) {
    AdditionProblem p{random_operand(rng, o.task), random_operand(rng, o.task)};
    if (split_of(p) != Split::Train) continue;
    const double u = rng.uniform_double() * total;
    std::string solution;
    if (u < o.p_formatted) {
      solution = formatted_solution(p);
    } else if (u < o.p_formatted + o.p_formatted_slip) {
      int64_t wrong = 0;
      const int columns = int(std::to_string(std::max(p.a, p.b)).size());
      const int slip = rng.below(2) ? 1 : -1;
      const std::string steps = steps_with_slip(p.a, p.b, int(rng.below(uint64_t(columns))), slip, &wrong);
      solution = " <think> " + steps + " </think> <answer>" + std::to_string(wrong) + "</answer>";
    } else if (u < o.p_formatted + o.p_formatted_slip + o.p_plain) {
      solution = " The answer is " + std::to_string(p.answer()) + ".";
    } else if (u < o.p_formatted + o.p_formatted_slip + o.p_plain + o.p_plain_wrong) {
      const int64_t off = 1 + int64_t(rng.below(10));
      solution = " The answer is " + std::to_string(p.answer() + (rng.below(2) ? off : -off)) + ".";
    } else {
      solution = " Let me add the columns: " + column_addition_steps(p.a, p.b) + ".";
    }
    docs.push_back(user_prefix + p.question() + "\n" + assistant_prefix + solution);
  }
  return docs;
}

}  // namespace r1::data
