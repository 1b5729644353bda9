// Config: YAML configuration checked against a schema. Each module declares its keys (dotted paths such
// as "grpo.epsilon_high") with a type, a default, limits and help text; load_config() reads a YAML file,
// applies `--set key.path=value` overrides, fills in defaults and rejects anything the schema does not
// know, naming the file, line and full key path ("configs/x.yaml:12: field 'grpo.epsilon_hi': unknown key
// (did you mean 'grpo.epsilon_high'?)"). A run writes the resolved config back as YAML (config.yaml), with
// every key spelled out, so the run directory says exactly what ran.
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace r1 {

enum class ConfigType { Int, Float, Bool, String, IntList, FloatList, StringList, ObjectList };
const char* config_type_name(ConfigType type);  // "int", "float", ..., "list of objects"

class ConfigSchema;

// One key of a schema. Constraints are added by chaining: schema.add(...).range(0, 1).
struct ConfigKey {
  std::string path;              // "grpo.epsilon_high"
  ConfigType type = ConfigType::Int;
  nlohmann::json default_value;  // null: no default, so the key must be given (unless nullable)
  std::string help;
  bool nullable = false;  // null is a valid value (e.g. "max_steps: null" for no limit); default null
  std::optional<double> min, max;  // numeric bounds (also for each element of a numeric list)
  bool min_exclusive = false, max_exclusive = false;
  std::vector<std::string> choices;             // allowed strings (also for each element of a string list)
  std::shared_ptr<const ConfigSchema> item;     // schema of each object of an ObjectList

  ConfigKey& range(double lo, double hi);  // lo <= x <= hi
  ConfigKey& at_least(double lo);          // x >= lo
  ConfigKey& greater_than(double lo);      // x > lo
  ConfigKey& at_most(double hi);           // x <= hi
  ConfigKey& one_of(std::vector<std::string> values);
  ConfigKey& items(const ConfigSchema& schema);  // ObjectList only
  ConfigKey& allow_null();
  bool required() const { return default_value.is_null() && !nullable; }
  std::string constraint_text() const;  // "in [0, 1]", "one of: a, b", "" when unconstrained
};

class ConfigSchema {
 public:
  // Declares a key. The returned reference stays valid while the schema lives (keys live in a deque).
  // Declaring a path twice, or a key inside another key, is a programming error (R1_CHECK).
  ConfigKey& add(std::string path, ConfigType type, nlohmann::json default_value, std::string help);
  // Adds every key of `other` under "prefix." (a module's schema mounted in the job's).
  void include(const std::string& prefix, const ConfigSchema& other);

  const ConfigKey* find(std::string_view path) const;
  bool is_section(std::string_view path) const;  // some key lies below "path."
  const std::deque<ConfigKey>& keys() const { return keys_; }
  // The known paths closest to `path` by edit distance, for "did you mean" hints ("" when none is close).
  std::string closest(std::string_view path) const;
  // A reference listing: one line per key with type, default, constraints and help.
  std::string describe() const;

 private:
  std::deque<ConfigKey> keys_;
};

// A resolved config: every key of the schema present, nested by path, in schema order.
class Config {
 public:
  Config() = default;
  Config(nlohmann::ordered_json values, std::string source)
      : values_(std::move(values)), source_(std::move(source)) {}

  const nlohmann::ordered_json& values() const { return values_; }
  const std::string& source() const { return source_; }  // the YAML file it came from
  bool has(std::string_view path) const;
  // The value at a dotted path; throws r1::Error naming the key when absent.
  const nlohmann::ordered_json& at(std::string_view path) const;
  bool is_null(std::string_view path) const { return at(path).is_null(); }

  // Typed getters throw r1::Error naming the key when the stored value has another type.
  int64_t get_int(std::string_view path) const;
  double get_float(std::string_view path) const;  // ints are accepted too
  bool get_bool(std::string_view path) const;
  std::string get_string(std::string_view path) const;
  std::vector<int64_t> get_ints(std::string_view path) const;
  std::vector<double> get_floats(std::string_view path) const;
  std::vector<std::string> get_strings(std::string_view path) const;
  // Objects of an ObjectList, each a Config of its own (source "<file>: <path>[i]").
  std::vector<Config> get_objects(std::string_view path) const;

 private:
  nlohmann::ordered_json values_;
  std::string source_;
};

// Reads, overrides, defaults and validates. Overrides are "key.path=value" with the value parsed as YAML
// ("--set grpo.beta=0.04", "--set data.files=[a.jsonl,b.jsonl]"); they win over the file.
Config load_config(const std::string& yaml_path, const ConfigSchema& schema,
                   const std::vector<std::string>& overrides = {});
// The same from YAML text; `source` names it in errors.
Config parse_config(const std::string& yaml_text, const std::string& source, const ConfigSchema& schema,
                    const std::vector<std::string>& overrides = {});

// The resolved config as YAML that load_config reads back to the same values. With a schema, each key
// carries its help text as a comment.
std::string config_to_yaml(const Config& config, const ConfigSchema* schema = nullptr);

}  // namespace r1
