// Code reward: program extraction, test assembly (stdin/stdout, MBPP asserts, HumanEval check) and scoring
// over sandboxed runs (see code_reward.h).
#include "rewards/code_reward.h"

#include <sstream>

#include "core/error.h"

namespace r1::rewards {

namespace {

std::string string_field(const nlohmann::json& spec, const std::string& key, const std::string& source) {
  if (!spec.contains(key) || spec[key].is_null()) return "";
  if (!spec[key].is_string()) fail_in_field(source, key, "expected a string");
  return spec[key].get<std::string>();
}

std::vector<std::string> string_list(const nlohmann::json& spec, const std::string& key, const std::string& source) {
  std::vector<std::string> out;
  if (!spec.contains(key) || spec[key].is_null()) return out;
  if (!spec[key].is_array()) fail_in_field(source, key, "expected a list of strings");
  for (size_t i = 0; i < spec[key].size(); ++i) {
    const auto& v = spec[key][i];
    if (!v.is_string()) fail_in_field(source, key + "[" + std::to_string(i) + "]", "expected a string");
    out.push_back(v.get<std::string>());
  }
  return out;
}

std::vector<std::string> tokens(std::string_view s) {
  std::vector<std::string> out;
  std::istringstream in{std::string(s)};
  std::string t;
  while (in >> t) out.push_back(t);
  return out;
}

std::string first_line(const std::string& text, size_t cap = 160) {
  // The last line of stderr usually names the error ("AssertionError", "NameError: ..."); keep it short.
  std::string s = text;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  const size_t nl = s.rfind('\n');
  if (nl != std::string::npos) s = s.substr(nl + 1);
  return s.size() > cap ? s.substr(0, cap) + "..." : s;
}

std::string failure_text(size_t index, const SandboxResult& r, const char* what = nullptr) {
  std::string text = "test " + std::to_string(index + 1) + ": ";
  if (what) return text + what;
  text += r.describe();
  if (r.status == SandboxStatus::Exited && !r.stderr_text.empty()) text += " (" + first_line(r.stderr_text) + ")";
  return text;
}

}  // namespace

CodeTests parse_code_tests(const nlohmann::json& spec, const std::string& source) {
  if (!spec.is_object()) fail_in_file(source, "code tests must be a JSON object");
  // Dataset rows may be passed whole: their other fields (solutions, descriptions) are known and ignored.
  static const char* kKnown[] = {"language", "tests", "inputs", "outputs", "test_list", "asserts", "test_setup_code",
                                 "test_imports", "setup", "prompt", "test", "entry_point", "challenge_test_list",
                                 "task_id", "text", "code", "canonical_solution", "source_file", "description"};
  for (auto it = spec.begin(); it != spec.end(); ++it) {
    bool known = false;
    for (const char* k : kKnown) known = known || it.key() == k;
    if (!known) fail_in_field(source, it.key(), "unknown key in code tests");
  }
  CodeTests t;
  const std::string language = string_field(spec, "language", source);
  if (!language.empty()) {
    if (language == "python" || language == "python3" || language == "py")
      t.language = "python";
    else if (language == "cpp" || language == "c++" || language == "cxx")
      t.language = "cpp";
    else
      fail_in_field(source, "language", "'" + language + "' is not python or cpp");
  }
  if (spec.contains("tests")) {
    if (!spec["tests"].is_array()) fail_in_field(source, "tests", "expected a list of {input, output}");
    for (size_t i = 0; i < spec["tests"].size(); ++i) {
      const auto& c = spec["tests"][i];
      const std::string where = "tests[" + std::to_string(i) + "]";
      if (!c.is_object() || !c.contains("input") || !c.contains("output") || !c["input"].is_string() ||
          !c["output"].is_string())
        fail_in_field(source, where, "expected {\"input\": string, \"output\": string}");
      t.io.push_back({c["input"].get<std::string>(), c["output"].get<std::string>()});
    }
  }
  const auto inputs = string_list(spec, "inputs", source), outputs = string_list(spec, "outputs", source);
  if (inputs.size() != outputs.size())
    fail_in_field(source, "outputs", std::to_string(outputs.size()) + " outputs for " + std::to_string(inputs.size()) + " inputs");
  for (size_t i = 0; i < inputs.size(); ++i) t.io.push_back({inputs[i], outputs[i]});
  t.asserts = string_list(spec, "test_list", source);
  for (auto& a : string_list(spec, "asserts", source)) t.asserts.push_back(std::move(a));
  t.setup = string_field(spec, "test_setup_code", source) + string_field(spec, "setup", source);
  for (const auto& line : string_list(spec, "test_imports", source)) t.setup += (t.setup.empty() ? "" : "\n") + line;
  t.prompt = string_field(spec, "prompt", source);
  t.test = string_field(spec, "test", source);
  t.entry_point = string_field(spec, "entry_point", source);
  if (!t.test.empty() && t.entry_point.empty()) fail_in_field(source, "entry_point", "required with 'test'");
  if (t.language == "cpp" && (!t.asserts.empty() || !t.test.empty()))
    fail_in_field(source, "language", "C++ programs are tested with stdin/stdout cases only");
  if (t.count() == 0) fail_in_file(source, "code tests hold no test (tests, inputs/outputs, test_list or test)");
  return t;
}

double CodeReport::score(bool all_or_nothing) const {
  if (total == 0) return 0.0;
  if (all_or_nothing) return passed == total ? 1.0 : 0.0;
  return double(passed) / double(total);
}

std::string extract_code(std::string_view completion) {
  std::string_view text = completion;
  if (size_t think = text.rfind("</think>"); think != std::string_view::npos) text = text.substr(think + 8);
  // The last ``` fence pair: the opening fence's info string (python, cpp, ...) is dropped.
  size_t close = text.rfind("```");
  if (close != std::string_view::npos && close > 0) {
    size_t open = text.rfind("```", close - 1);
    if (open != std::string_view::npos && open + 3 <= close) {
      std::string_view block = text.substr(open + 3, close - open - 3);
      const size_t nl = block.find('\n');
      if (nl != std::string_view::npos) {
        // "```python\n...": drop the info string; a fence with code right after it ("```x = 1```") is kept.
        const std::string_view info = block.substr(0, nl);
        if (info.find_first_of(" ;=()") == std::string_view::npos) block.remove_prefix(nl + 1);
      }
      return std::string(block);
    }
  }
  return std::string(text);
}

bool outputs_match(std::string_view got, std::string_view expected) { return tokens(got) == tokens(expected); }

CodeReport run_code_tests(const Sandbox& sandbox, const std::string& code, const CodeTests& tests,
                          const CodeOptions& options) {
  CodeReport report;
  report.total = tests.count();
  auto fail = [&](std::string text) {
    if (report.first_failure.empty()) report.first_failure = std::move(text);
  };
  SandboxDir dir(sandbox.options());
  SandboxCommand run;
  run.limits = options.limits;
  run.env = {"PYTHONDONTWRITEBYTECODE=1", "PYTHONHASHSEED=0"};

  if (tests.language == "cpp") {
    dir.write_file("main.cpp", code);
    SandboxCommand compile;
    compile.limits = options.compile_limits;
    compile.argv = {options.cxx};
    compile.argv.insert(compile.argv.end(), options.cxx_flags.begin(), options.cxx_flags.end());
    compile.argv.insert(compile.argv.end(), {"-o", "main", "main.cpp"});
    const SandboxResult c = sandbox.run(dir, compile);
    if (!c.ok()) {
      report.compiled = false;
      fail("compile error: " + (c.status == SandboxStatus::Exited ? first_line(c.stderr_text) : c.describe()));
      return report;
    }
    run.argv = {dir.path() + "/main"};
  } else {
    run.argv = {options.python, "main.py"};
  }

  // stdin/stdout cases
  if (tests.language == "python" && !tests.io.empty()) dir.write_file("main.py", code);
  for (size_t i = 0; i < tests.io.size(); ++i) {
    run.stdin_data = tests.io[i].input;
    const SandboxResult r = sandbox.run(dir, run);
    if (r.ok() && outputs_match(r.stdout_text, tests.io[i].output)) {
      ++report.passed;
      continue;
    }
    fail(r.ok() ? failure_text(i, r, "wrong answer") : failure_text(i, r));
    if (options.all_or_nothing) return report;
  }
  run.stdin_data.clear();
  size_t index = tests.io.size();

  // MBPP asserts: one run each (a failing assert must not hide the others), or all together when only
  // all-or-nothing matters.
  if (!tests.asserts.empty()) {
    const std::string head = tests.setup + (tests.setup.empty() ? "" : "\n") + code + "\n\n";
    if (options.all_or_nothing) {
      std::string program = head;
      for (const auto& a : tests.asserts) program += a + "\n";
      dir.write_file("main.py", program);
      const SandboxResult r = sandbox.run(dir, run);
      if (r.ok()) {
        report.passed += tests.asserts.size();
      } else {
        fail(failure_text(index, r));
        return report;
      }
      index += tests.asserts.size();
    } else {
      for (const auto& a : tests.asserts) {
        dir.write_file("main.py", head + a + "\n");
        const SandboxResult r = sandbox.run(dir, run);
        if (r.ok())
          ++report.passed;
        else
          fail(failure_text(index, r));
        ++index;
      }
    }
  }

  // HumanEval: the prompt holds the signature and docstring; a completion that redefines the whole function
  // (the usual chat-model answer) follows it, a bare body continues it.
  if (!tests.test.empty()) {
    const bool whole_function = code.find("def " + tests.entry_point + "(") != std::string::npos;
    std::string program = tests.prompt + (whole_function ? "\n" : "") + code + "\n\n" + tests.test + "\n\ncheck(" +
                          tests.entry_point + ")\n";
    dir.write_file("main.py", program);
    const SandboxResult r = sandbox.run(dir, run);
    if (r.ok())
      ++report.passed;
    else
      fail(failure_text(index, r));
  }
  return report;
}

CodeReward::CodeReward(CodeOptions options, SandboxOptions sandbox_options)
    : options_(std::move(options)), sandbox_(std::move(sandbox_options)) {}

RewardResult CodeReward::score(const RewardInput& input) const {
  // The tests: the reference when it is a JSON object, else the metadata (where data/ puts HumanEval and MBPP
  // test fields, the reference of a code task being empty).
  nlohmann::json spec = nlohmann::json::parse(input.reference, nullptr, /*allow_exceptions=*/false);
  std::string source = "reference";
  if (!spec.is_object()) spec = input.metadata, source = "metadata";
  if (!spec.is_object()) throw Error("code reward: the reference (or metadata) must be a JSON object of tests");
  const CodeTests tests = parse_code_tests(spec, "code reward " + source);
  const CodeReport report = run_code_tests(sandbox_, extract_code(input.completion), tests, options_);
  std::string reason = std::to_string(report.passed) + "/" + std::to_string(report.total) + " tests passed";
  if (!report.first_failure.empty()) reason += "; " + report.first_failure;
  return {report.score(options_.all_or_nothing), reason};
}

std::unique_ptr<Reward> make_code_reward(RewardParams& params) {
  CodeOptions o;
  o.all_or_nothing = params.get_choice("scoring", "fraction", {"fraction", "all"}) == "all";
  o.limits.cpu_seconds = params.get_number("cpu_seconds", o.limits.cpu_seconds);
  o.limits.wall_seconds = params.get_number("wall_seconds", o.limits.wall_seconds);
  o.limits.memory_bytes = static_cast<uint64_t>(params.get_number("memory_mb", double(o.limits.memory_bytes >> 20))) << 20;
  o.limits.max_processes = static_cast<int>(params.get_number("max_processes", o.limits.max_processes));
  if (o.limits.cpu_seconds <= 0) params.fail("cpu_seconds", "must be > 0");
  if (o.limits.wall_seconds <= 0) params.fail("wall_seconds", "must be > 0");
  if (o.limits.memory_bytes < (16ull << 20)) params.fail("memory_mb", "must be at least 16");
  if (o.limits.max_processes < 1) params.fail("max_processes", "must be at least 1");
  o.python = params.get_string("python", o.python);
  o.cxx = params.get_string("cxx", o.cxx);
  o.cxx_flags = params.get_strings("cxx_flags", o.cxx_flags);
  SandboxOptions s;
  const std::string isolation = params.get_choice("isolation", "auto", {"auto", "namespaces", "seccomp"});
  s.isolation = isolation == "namespaces" ? SandboxIsolation::Namespaces
                : isolation == "seccomp"  ? SandboxIsolation::Seccomp
                                          : SandboxIsolation::Auto;
  s.temp_root = params.get_string("temp_root", s.temp_root);
  return std::make_unique<CodeReward>(o, s);
}

}  // namespace r1::rewards
