#include "data/dataset.h"

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "data/jsonl.h"

namespace r1::data {

namespace {

using nlohmann::json;

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// Where a record came from, for messages: "<file>:<line>" for JSONL, "<file>: record <i>" for arrays.
struct Location {
  const std::string* path;
  long line;  // > 0 for JSONL
  size_t index;
  [[noreturn]] void fail(const std::string& message) const {
    if (line > 0) fail_at_line(*path, line, message);
    fail_in_file(*path, "record " + std::to_string(index) + ": " + message);
  }
};

// A string or a number (ids and AIME answers come as either), as text.
std::string scalar_text(const json& v, const std::string& field, const Location& at) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  if (v.is_number_float()) {
    std::ostringstream os;
    os << v.get<double>();
    return os.str();
  }
  at.fail("field '" + field + "' must be a string or a number, got " + std::string(v.type_name()));
}

const json& field_of(const json& record, const std::string& field, const Location& at) {
  const auto it = record.find(field);
  if (it == record.end()) at.fail("field '" + field + "' missing");
  return *it;
}

Problem to_problem(const json& record, const FieldMap& f, const Location& at) {
  Problem p;
  p.task = f.task;

  const json& prompt = field_of(record, f.prompt_field, at);
  if (!prompt.is_string()) at.fail("field '" + f.prompt_field + "' must be a string");
  p.prompt = prompt.get<std::string>();

  if (!f.answer_field.empty()) {
    const std::string raw = scalar_text(field_of(record, f.answer_field, at), f.answer_field, at);
    switch (f.answer_style) {
      case AnswerStyle::Plain: p.answer = trim(raw); break;
      case AnswerStyle::Integer: p.answer = strip_integer_padding(raw); break;
      case AnswerStyle::Gsm8k: {
        const auto mark = raw.rfind("####");
        if (mark == std::string::npos) at.fail("field '" + f.answer_field + "' has no final '#### N' line");
        p.answer = gsm8k_final_answer(raw);
        p.metadata["solution"] = trim(raw.substr(0, mark));
        break;
      }
    }
  }

  const bool has_id = !f.id_field.empty() && (!f.id_optional || record.contains(f.id_field));
  p.id = has_id ? scalar_text(field_of(record, f.id_field, at), f.id_field, at)
                : f.task + "/" + std::to_string(at.index);

  for (const auto& key : f.required_metadata) p.metadata[key] = field_of(record, key, at);
  for (const auto& key : f.optional_metadata)
    if (record.contains(key)) p.metadata[key] = record[key];
  if (f.keep_other_fields) {
    for (const auto& [key, value] : record.items()) {
      if (key == f.prompt_field || key == f.answer_field || key == f.id_field) continue;
      // Our own Problem JSONL (data::to_json) reads back as it was written.
      if (key == "task" && value.is_string()) {
        p.task = value.get<std::string>();
      } else if (key == "metadata" && value.is_object()) {
        for (const auto& [k, v] : value.items()) p.metadata[k] = v;
      } else {
        p.metadata[key] = value;
      }
    }
  }

  // MBPP-sanitized lists its imports; the code reward reads setup code as one string under MBPP's own key.
  if (p.metadata.contains("test_imports")) {
    std::string setup;
    for (const auto& line : p.metadata["test_imports"]) {
      if (!line.is_string()) at.fail("field 'test_imports' must be an array of strings");
      setup += line.get<std::string>() + "\n";
    }
    p.metadata.erase("test_imports");
    p.metadata["test_setup_code"] = setup;
  }

  if (f.prompt_style == PromptStyle::WithTestList) {
    const json& tests = field_of(record, "test_list", at);
    if (!tests.is_array()) at.fail("field 'test_list' must be an array of strings");
    p.prompt += "\nYour code should pass these tests:\n";
    for (const auto& t : tests) {
      if (!t.is_string()) at.fail("field 'test_list' must be an array of strings");
      p.prompt += t.get<std::string>() + "\n";
    }
  }
  return p;
}

bool starts_with_bracket(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_in_file(path, "cannot open for reading");
  char c;
  while (in.get(c))
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return c == '[';
  return false;
}

}  // namespace

std::string gsm8k_final_answer(const std::string& solution) {
  const auto mark = solution.rfind("####");
  if (mark == std::string::npos) throw Error("GSM8K solution has no final '#### N' line");
  std::string out;
  for (char c : trim(solution.substr(mark + 4)))
    if (c != ',') out += c;
  return out;
}

std::string strip_integer_padding(const std::string& answer) {
  std::string s = trim(answer);
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return s;
  const auto first = s.find_first_not_of('0');
  return first == std::string::npos ? "0" : s.substr(first);
}

std::vector<std::string> dataset_preset_names() {
  return {"gsm8k", "math500", "aime", "humaneval", "mbpp", "mbpp-sanitized", "prompt"};
}

FieldMap dataset_preset(const std::string& name) {
  FieldMap f;
  f.task = name;
  if (name == "gsm8k") {
    f.prompt_field = "question";
    f.answer_style = AnswerStyle::Gsm8k;
  } else if (name == "math500") {
    f.prompt_field = "problem";
    f.id_field = "unique_id";
    f.optional_metadata = {"subject", "level", "solution"};
  } else if (name == "aime") {
    f.prompt_field = "problem";
    f.id_field = "id";
    f.answer_style = AnswerStyle::Integer;
    f.optional_metadata = {"solution", "url", "competition", "problem_idx"};
  } else if (name == "humaneval") {
    f.answer_field.clear();
    f.id_field = "task_id";
    f.required_metadata = {"prompt", "test", "entry_point"};
  } else if (name == "mbpp") {
    f.prompt_field = "text";
    f.answer_field.clear();
    f.id_field = "task_id";
    f.prompt_style = PromptStyle::WithTestList;
    f.required_metadata = {"test_list"};
    f.optional_metadata = {"test_setup_code", "challenge_test_list"};
  } else if (name == "mbpp-sanitized") {
    f.task = "mbpp";
    f.answer_field.clear();
    f.id_field = "task_id";
    f.prompt_style = PromptStyle::WithTestList;
    f.required_metadata = {"test_list"};
    f.optional_metadata = {"test_imports"};
  } else if (name == "prompt") {
    f.id_field = "id";
    f.id_optional = true;
    f.keep_other_fields = true;
  } else {
    std::string known;
    for (const auto& n : dataset_preset_names()) known += (known.empty() ? "" : ", ") + n;
    throw Error("unknown dataset preset '" + name + "' (known: " + known + ")");
  }
  return f;
}

std::vector<Problem> load_dataset(const std::string& path, const FieldMap& fields) {
  std::vector<Problem> problems;
  if (starts_with_bracket(path)) {
    std::ifstream in(path, std::ios::binary);
    json all;
    try {
      all = json::parse(in);
    } catch (const json::parse_error& e) {
      fail_in_file(path, std::string("invalid JSON: ") + e.what());
    }
    for (size_t i = 0; i < all.size(); ++i) {
      const Location at{&path, 0, i};
      if (!all[i].is_object()) at.fail("expected a JSON object");
      problems.push_back(to_problem(all[i], fields, at));
    }
    return problems;
  }
  for_each_jsonl(path, [&](const json& record, long line) {
    problems.push_back(to_problem(record, fields, Location{&path, line, problems.size()}));
  });
  return problems;
}

std::vector<Problem> load_dataset(const std::string& path, const std::string& preset) {
  return load_dataset(path, dataset_preset(preset));
}

}  // namespace r1::data
