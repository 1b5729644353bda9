// Internal interface between generate_task (tasks.cpp: seeding, splits, dedupe, ids) and the task files
// (countdown.cpp, arithmetic_task.cpp, linear_equation.cpp), which only know how to draw one problem.
#pragma once
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/rng.h"
#include "data/problem.h"

namespace r1::data {

struct TaskCandidate {
  Problem problem;  // prompt, answer, metadata (id and task are set by generate_task)
  std::string key;  // canonical text: equal keys = the same problem, whatever the surface order
};
using TaskDraw = std::function<TaskCandidate(Philox&)>;

// Each resolves its knobs from (difficulty, params) once, throwing on bad knobs, and returns the drawer.
TaskDraw countdown_task(int difficulty, const nlohmann::json& params);
TaskDraw arithmetic_task(int difficulty, const nlohmann::json& params);
TaskDraw linear_equation_task(int difficulty, const nlohmann::json& params);

}  // namespace r1::data
