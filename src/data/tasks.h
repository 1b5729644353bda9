// Built-in generators of verifiable problems (RL training and held-out evaluation without any download):
//   countdown        reach a target with 3-5 given numbers and + - * / (TinyZero's task); answer = one valid
//                    expression, metadata {nums, target}; any expression using each number once and
//                    evaluating exactly to the target is correct (countdown_solution_valid)
//   arithmetic       "What is 482 * 37?" with a digits knob; answer = the exact integer
//   linear_equation  "Solve for x: 3x - 7 = 8." with an integer solution; answer = x
// Determinism and splits: problem i of a split is drawn from a Philox stream keyed by (seed, task, split, i),
// so the same options give the same problems and a prefix of a longer list equals the shorter list. Which
// split a problem belongs to is a property of the problem itself (a hash of its canonical text, 1 in
// kHeldOutOneIn is held out), so train and held-out problems never overlap, for any seeds and counts;
// duplicates inside a split are skipped too.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/problem.h"

namespace r1::data {

enum class TaskSplit { Train, HeldOut };
const char* split_name(TaskSplit s);  // "train", "heldout"
TaskSplit parse_split(const std::string& name);  // "train" | "heldout" (also "test"); else r1::Error

inline constexpr uint64_t kHeldOutOneIn = 8;

struct TaskOptions {
  int count = 100;
  uint64_t seed = 0;
  TaskSplit split = TaskSplit::Train;
  int difficulty = 1;  // 1 (easiest) .. 5: sets every knob of the task, see each task's header
  // Overrides of single knobs, e.g. {"max_number": 50}; unknown knobs and out-of-range values are errors
  // naming "params.<knob>".
  nlohmann::json params = nlohmann::json::object();
};

std::vector<std::string> task_names();
bool is_task(const std::string& name);

// `count` distinct problems of the split. Throws r1::Error for an unknown task, bad knobs, or when the knobs
// allow fewer distinct problems than asked for.
std::vector<Problem> generate_task(const std::string& name, const TaskOptions& options);

// The split a problem with this canonical text belongs to (exposed for tests and for filtering external data).
TaskSplit split_of(const std::string& task, const std::string& canonical_key);

}  // namespace r1::data
