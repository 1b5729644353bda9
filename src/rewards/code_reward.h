// "code": runs the completion's program against the reference tests in the sandbox (code_sandbox.h).
// Test kinds, given as a JSON object in the reference (or in metadata when the reference is not JSON):
//   stdin/stdout  {"tests": [{"input": "1 2\n", "output": "3\n"}, ...]}  or  {"inputs": [...], "outputs": [...]}
//                 Codeforces style: one run per case, stdout compared token by token (whitespace-normalised).
//   asserts       {"test_list": ["assert f(1) == 2", ...], "test_setup_code" or "test_imports": ...}   (MBPP)
//                 one run per assert when scoring by fraction, all asserts in one run when all-or-nothing.
//   check         {"prompt": "...", "test": "def check(candidate): ...", "entry_point": "f"}  (HumanEval)
//                 program = prompt + completion + test + "check(entry_point)", one run.
//   "language": "python" (default) or "cpp" (compiled once with g++, then run per stdin/stdout case).
// The program is the last fenced code block of the completion (```python / ```cpp / ```), after </think> when
// the completion has a think block; without a fence, the text itself (HumanEval-style continuations).
// Whole dataset rows may be passed: their other fields (code, canonical_solution, text, ...) are ignored.
// Score: passed / total ("fraction", default) or 1 only when every test passes ("all").
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rewards/code_sandbox.h"
#include "rewards/reward.h"

namespace r1::rewards {

struct CodeTests {
  std::string language = "python";  // python | cpp
  struct Case {
    std::string input, output;
  };
  std::vector<Case> io;
  std::vector<std::string> asserts;
  std::string setup;                     // prepended to assert programs
  std::string prompt, test, entry_point;  // HumanEval
  size_t count() const { return io.size() + asserts.size() + (test.empty() ? 0 : 1); }
};

// Parses a tests object (see above); errors name `source` and the field.
CodeTests parse_code_tests(const nlohmann::json& spec, const std::string& source);

struct CodeOptions {
  bool all_or_nothing = false;
  SandboxLimits limits;          // per test run
  SandboxLimits compile_limits;  // for g++ (bigger address space, longer time)
  std::string python = "python3";
  std::string cxx = "g++";
  std::vector<std::string> cxx_flags = {"-O2", "-std=c++17"};
  CodeOptions() {
    compile_limits.cpu_seconds = 30;
    compile_limits.wall_seconds = 60;
    compile_limits.memory_bytes = 4ull << 30;
    compile_limits.max_file_bytes = 256ull << 20;
    compile_limits.max_open_files = 256;
  }
};

struct CodeReport {
  size_t passed = 0, total = 0;
  bool compiled = true;
  std::string first_failure;  // "test 3: wrong answer", "test 1: timeout after 2.00 s", "compile error: ..."
  double score(bool all_or_nothing) const;
};

// The program in a completion (see above).
std::string extract_code(std::string_view completion);
// Whitespace-normalised equality of program output and expected output (token by token).
bool outputs_match(std::string_view got, std::string_view expected);
// Runs `code` against `tests`; in all-or-nothing mode stops at the first failure.
CodeReport run_code_tests(const Sandbox& sandbox, const std::string& code, const CodeTests& tests,
                          const CodeOptions& options);

class CodeReward : public Reward {
 public:
  CodeReward(CodeOptions options, SandboxOptions sandbox_options);
  std::string name() const override { return "code"; }
  RewardResult score(const RewardInput& input) const override;
  const Sandbox& sandbox() const { return sandbox_; }

 private:
  CodeOptions options_;
  Sandbox sandbox_;
};

// params: scoring (fraction | all), isolation (auto | namespaces | seccomp), cpu_seconds, wall_seconds,
// memory_mb, max_processes, python, cxx, cxx_flags, temp_root
std::unique_ptr<Reward> make_code_reward(RewardParams& params);

}  // namespace r1::rewards
