// Benchmark and training datasets from JSONL (or a JSON array, as MBPP-sanitized ships) with configurable
// field names, turned into Problems. Presets cover the files in shared/data: gsm8k, math500, aime, humaneval,
// mbpp, mbpp-sanitized, and "prompt" for any {prompt, answer} file (optional "id"; also reads back the
// Problem JSONL that data::to_json writes). A missing or mistyped field is an
// r1::Error naming "<file>:<line>" and the field.
// Code tasks keep in metadata exactly the test fields the code reward reads (rewards/code_reward.h), and no
// others (it rejects unknown keys): HumanEval {prompt, test, entry_point}; MBPP {test_list, test_setup_code,
// challenge_test_list}, with MBPP-sanitized's test_imports joined into test_setup_code.
#pragma once
#include <string>
#include <vector>

#include "data/problem.h"

namespace r1::data {

// How the gold answer is read from its field.
enum class AnswerStyle {
  Plain,       // the field as is (numbers printed as integers/decimals), trimmed
  Gsm8k,       // a worked solution ending "#### N": N after the LAST "####", commas removed; the worked
               // solution before it goes to metadata["solution"]
  Integer,     // AIME: an integer given as a string or number; zero padding removed ("025" -> "25")
};

// How the prompt is built.
enum class PromptStyle {
  Field,           // the prompt field as is
  WithTestList,    // MBPP: the description plus its asserts, as the MBPP paper prompts; without the asserts
                   // the model cannot know the function name the tests call
};

struct FieldMap {
  std::string task;                  // stored in Problem::task
  std::string prompt_field = "prompt";
  std::string answer_field = "answer";  // empty: no gold answer (code tasks are judged by their tests)
  std::string id_field;              // empty: ids are "<task>/<record index>" (0-based)
  bool id_optional = false;          // records without id_field get the index id instead of an error
  AnswerStyle answer_style = AnswerStyle::Plain;
  PromptStyle prompt_style = PromptStyle::Field;
  std::vector<std::string> required_metadata;  // copied into Problem::metadata; missing -> error
  std::vector<std::string> optional_metadata;  // copied when present
  // Copy every other field into metadata too (e.g. TinyZero Countdown's nums and target); a string "task"
  // field sets Problem::task and a "metadata" object is merged, so data::to_json output reads back unchanged.
  bool keep_other_fields = false;
};

// The preset for a dataset name (see the header comment); unknown names throw r1::Error listing the presets.
FieldMap dataset_preset(const std::string& name);
std::vector<std::string> dataset_preset_names();

// Reads every record of `path`: JSONL, or a JSON array when the file's first non-blank character is '['.
std::vector<Problem> load_dataset(const std::string& path, const FieldMap& fields);
std::vector<Problem> load_dataset(const std::string& path, const std::string& preset);

// Answer normalisations of the presets, exposed for the verifiers and tests.
// "Natalia sold ... #### 1,234" -> "1234"; throws r1::Error (message without location) when there is no "####".
std::string gsm8k_final_answer(const std::string& solution);
// "025" -> "25", "0" -> "0"; other strings are returned trimmed.
std::string strip_integer_padding(const std::string& answer);

}  // namespace r1::data
