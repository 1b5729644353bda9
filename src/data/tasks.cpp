#include "data/tasks.h"

#include <map>
#include <unordered_set>

#include "core/error.h"
#include "data/task_generator.h"

namespace r1::data {

namespace {

uint64_t fnv1a64(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

uint64_t mix64(uint64_t x) {  // splitmix64 finaliser: spreads FNV's weak low bits before the modulo
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

using TaskFactory = TaskDraw (*)(int, const nlohmann::json&);

const std::map<std::string, TaskFactory>& registry() {
  static const std::map<std::string, TaskFactory> tasks = {
      {"countdown", &countdown_task},
      {"arithmetic", &arithmetic_task},
      {"linear_equation", &linear_equation_task},
  };
  return tasks;
}

// Draws per problem before concluding that the knobs leave too few distinct problems in the split.
constexpr int kMaxAttemptsPerProblem = 2000;

}  // namespace

const char* split_name(TaskSplit s) { return s == TaskSplit::Train ? "train" : "heldout"; }

TaskSplit parse_split(const std::string& name) {
  if (name == "train") return TaskSplit::Train;
  if (name == "heldout" || name == "held_out" || name == "test") return TaskSplit::HeldOut;
  throw Error("unknown split '" + name + "' (expected train or heldout)");
}

std::vector<std::string> task_names() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : registry()) names.push_back(name);
  return names;
}

bool is_task(const std::string& name) { return registry().count(name) > 0; }

TaskSplit split_of(const std::string& task, const std::string& canonical_key) {
  return mix64(fnv1a64(task + '\n' + canonical_key)) % kHeldOutOneIn == 0 ? TaskSplit::HeldOut : TaskSplit::Train;
}

std::vector<Problem> generate_task(const std::string& name, const TaskOptions& options) {
  const auto it = registry().find(name);
  if (it == registry().end()) {
    std::string known;
    for (const auto& n : task_names()) known += (known.empty() ? "" : ", ") + n;
    throw Error("unknown task '" + name + "' (known: " + known + ")");
  }
  if (options.count < 0) fail_in_field("task '" + name + "'", "count", "must be >= 0");
  const TaskDraw draw = it->second(options.difficulty, options.params);

  // Problem i comes from its own stream, so it depends on (seed, task, split, i) and on the problems before it
  // (through dedupe) but never on `count`.
  const uint64_t key = mix64(options.seed ^ fnv1a64(name));
  const uint64_t split_bit = options.split == TaskSplit::HeldOut ? 1ull << 63 : 0;
  std::vector<Problem> problems;
  problems.reserve(options.count);
  std::unordered_set<std::string> seen;
  for (int i = 0; i < options.count; ++i) {
    Philox rng(key, split_bit | uint64_t(i));
    bool found = false;
    for (int attempt = 0; attempt < kMaxAttemptsPerProblem && !found; ++attempt) {
      TaskCandidate c = draw(rng);
      if (split_of(name, c.key) != options.split || !seen.insert(c.key).second) continue;
      c.problem.id = name + "/" + split_name(options.split) + "/" + std::to_string(i);
      c.problem.task = name;
      problems.push_back(std::move(c.problem));
      found = true;
    }
    if (!found)
      throw Error("task '" + name + "': only " + std::to_string(i) + " distinct " + split_name(options.split) +
                  " problems found, " + std::to_string(options.count) +
                  " requested; raise the difficulty or widen the knobs");
  }
  return problems;
}

}  // namespace r1::data
