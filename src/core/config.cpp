#include "core/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"

namespace r1 {
namespace {

using OJson = nlohmann::ordered_json;

// ---- small helpers --------------------------------------------------------------------------------------

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    parts.emplace_back(path.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) return parts;
    start = dot + 1;
  }
}

bool valid_path(std::string_view path) {
  for (const auto& part : split_path(path)) {
    if (part.empty()) return false;
    for (char c : part)
      if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_'))
        return false;
  }
  return true;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); j++) row[j] = j;
  for (size_t i = 1; i <= a.size(); i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); j++) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The shortest text that reads back as the same double.
std::string format_double(double x) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, x);
  std::string s(buf, r.ptr);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // keep it a float when read back
  return s;
}

std::string format_bound(double x) {
  if (x == std::floor(x) && std::fabs(x) < 1e15) return std::to_string(int64_t(x));
  return format_double(x);
}

// ---- scalar parsing -------------------------------------------------------------------------------------

std::optional<double> parse_double(std::string_view s) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  // YAML's spellings of the special values, so that they are rejected as non-finite rather than as text.
  const std::string t = lower(std::string(s));
  if (t == ".nan") return std::nan("");
  if (t == ".inf") return HUGE_VAL;
  if (t == "-.inf") return -HUGE_VAL;
  double x = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), x);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || s.empty()) return std::nullopt;
  return x;
}

std::optional<int64_t> parse_int(std::string_view s) {
  std::string_view t = s;
  if (!t.empty() && t[0] == '+') t.remove_prefix(1);
  int64_t x = 0;
  const auto r = std::from_chars(t.data(), t.data() + t.size(), x);
  if (!t.empty() && r.ec == std::errc() && r.ptr == t.data() + t.size()) return x;
  // "1e6" is a fine way to write a million steps; "1.5" is not an integer.
  const auto d = parse_double(s);
  if (d && std::isfinite(*d) && *d == std::floor(*d) && std::fabs(*d) < 9.0e18) return int64_t(*d);
  return std::nullopt;
}

std::optional<bool> parse_bool(std::string_view s) {
  const std::string t = lower(std::string(s));
  if (t == "true" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "no" || t == "off") return false;
  return std::nullopt;
}

// ---- resolution -----------------------------------------------------------------------------------------

// Where values come from: a file (with line numbers), --set, or the schema's defaults.
struct Origin {
  std::string source;
  bool lines = true;
};

std::string where(const Origin& origin, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (!origin.lines || mark.is_null() || mark.line < 0) return origin.source;
  return origin.source + ":" + std::to_string(mark.line + 1);
}

[[noreturn]] void fail(const Origin& origin, const YAML::Node& node, const std::string& path, const std::string& msg) {
  fail_in_field(where(origin, node), path, msg);
}

std::string describe_node(const YAML::Node& node) {
  if (node.IsNull()) return "null";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a mapping";
  return "'" + node.Scalar() + "'";
}

OJson resolve_map(const YAML::Node& root, const ConfigSchema& schema, const std::string& prefix,
                  const Origin& origin, const std::map<std::string, std::pair<YAML::Node, Origin>>& overrides);

void check_number(const ConfigKey& key, double x, const Origin& origin, const YAML::Node& node,
                  const std::string& path) {
  const bool low = key.min && (key.min_exclusive ? !(x > *key.min) : !(x >= *key.min));
  const bool high = key.max && (key.max_exclusive ? !(x < *key.max) : !(x <= *key.max));
  if (low || high) fail(origin, node, path, "value " + node.Scalar() + " out of range: must be " + key.constraint_text());
}

void check_choice(const ConfigKey& key, const std::string& value, const Origin& origin, const YAML::Node& node,
                  const std::string& path) {
  if (key.choices.empty() || std::count(key.choices.begin(), key.choices.end(), value)) return;
  std::string best;
  size_t best_d = value.size() / 2 + 2;
  for (const auto& c : key.choices) {
    const size_t d = edit_distance(lower(value), lower(c));
    if (d < best_d) best_d = d, best = c;
  }
  fail(origin, node, path,
       "value '" + value + "' is not " + key.constraint_text() + (best.empty() ? "" : " (did you mean '" + best + "'?)"));
}

// One scalar of type int/float/bool/string (a key's value or an element of a list).
OJson convert_scalar(ConfigType type, const ConfigKey& key, const YAML::Node& node, const Origin& origin,
                     const std::string& path) {
  if (!node.IsScalar()) fail(origin, node, path, std::string("expected ") + config_type_name(type) + ", got " + describe_node(node));
  const std::string& s = node.Scalar();
  switch (type) {
    case ConfigType::Int: {
      const auto x = parse_int(s);
      if (!x) fail(origin, node, path, "expected an integer, got '" + s + "'");
      check_number(key, double(*x), origin, node, path);
      return *x;
    }
    case ConfigType::Float: {
      const auto x = parse_double(s);
      if (!x) fail(origin, node, path, "expected a number, got '" + s + "'");
      if (!std::isfinite(*x)) fail(origin, node, path, "expected a finite number, got '" + s + "'");
      check_number(key, *x, origin, node, path);
      return *x;
    }
    case ConfigType::Bool: {
      const auto x = parse_bool(s);
      if (!x) fail(origin, node, path, "expected true or false, got '" + s + "'");
      return *x;
    }
    default:
      check_choice(key, s, origin, node, path);
      return s;
  }
}

OJson convert(const ConfigKey& key, const YAML::Node& node, const Origin& origin, const std::string& path) {
  if (node.IsNull()) {
    if (key.nullable) return nullptr;
    fail(origin, node, path, std::string("expected ") + config_type_name(key.type) + ", got null");
  }
  ConfigType element = key.type;
  switch (key.type) {
    case ConfigType::IntList: element = ConfigType::Int; break;
    case ConfigType::FloatList: element = ConfigType::Float; break;
    case ConfigType::StringList: element = ConfigType::String; break;
    case ConfigType::ObjectList: {
      if (!node.IsSequence()) fail(origin, node, path, "expected a list of mappings, got " + describe_node(node));
      OJson out = OJson::array();
      for (size_t i = 0; i < node.size(); i++) {
        const std::string item_path = path + "[" + std::to_string(i) + "]";
        const YAML::Node item = node[i];
        if (!item.IsMap() && !item.IsNull()) fail(origin, item, item_path, "expected a mapping, got " + describe_node(item));
        out.push_back(resolve_map(item, *key.item, item_path + ".", origin, {}));
      }
      return out;
    }
    default: return convert_scalar(key.type, key, node, origin, path);
  }
  // A list of scalars; a lone scalar is a one-element list ("--set data.files=a.jsonl").
  OJson out = OJson::array();
  if (node.IsScalar()) {
    out.push_back(convert_scalar(element, key, node, origin, path + "[0]"));
    return out;
  }
  if (!node.IsSequence()) fail(origin, node, path, std::string("expected a ") + config_type_name(key.type) + ", got " + describe_node(node));
  for (size_t i = 0; i < node.size(); i++)
    out.push_back(convert_scalar(element, key, node[i], origin, path + "[" + std::to_string(i) + "]"));
  return out;
}

void set_path(OJson& root, const std::string& path, OJson value) {
  OJson* node = &root;
  for (const auto& part : split_path(path)) node = &(*node)[part];
  *node = std::move(value);
}

// Gathers the file's values by full path, rejecting unknown and duplicate keys on the way.
void collect(const YAML::Node& map, const std::string& section, const ConfigSchema& schema, const std::string& prefix,
             const Origin& origin, std::map<std::string, YAML::Node>& given, std::set<std::string>& sections) {
  for (auto it = map.begin(); it != map.end(); ++it) {
    const YAML::Node key = it->first;
    if (!key.IsScalar()) fail(origin, key, prefix + section, "keys must be plain names, got " + describe_node(key));
    const std::string full = section.empty() ? key.Scalar() : section + "." + key.Scalar();
    const std::string shown = prefix + full;
    if (given.count(full) || sections.count(full)) fail(origin, key, shown, "duplicate key");
    if (schema.find(full)) {
      given[full] = it->second;
    } else if (schema.is_section(full)) {
      sections.insert(full);
      if (it->second.IsMap())
        collect(it->second, full, schema, prefix, origin, given, sections);
      else if (!it->second.IsNull())
        fail(origin, it->second, shown, "is a section: expected a mapping of its keys, got " + describe_node(it->second));
    } else {
      const std::string hint = schema.closest(full);
      fail(origin, key, shown, "unknown key" + (hint.empty() ? "" : " (did you mean '" + prefix + hint + "'?)"));
    }
  }
}

OJson resolve_map(const YAML::Node& root, const ConfigSchema& schema, const std::string& prefix,
                  const Origin& origin, const std::map<std::string, std::pair<YAML::Node, Origin>>& overrides) {
  std::map<std::string, YAML::Node> given;
  std::set<std::string> sections;
  if (root.IsMap()) collect(root, "", schema, prefix, origin, given, sections);
  OJson out = OJson::object();
  const Origin defaults{"schema default", false};
  for (const ConfigKey& key : schema.keys()) {
    const std::string shown = prefix + key.path;
    if (auto o = overrides.find(key.path); o != overrides.end()) {
      set_path(out, key.path, convert(key, o->second.first, o->second.second, shown));
    } else if (auto g = given.find(key.path); g != given.end()) {
      set_path(out, key.path, convert(key, g->second, origin, shown));
    } else if (key.required()) {
      fail_in_field(origin.source, shown, "required key missing (" + key.help + ")");
    } else {
      // Defaults go through the same checks: JSON is YAML, so the default's text is parsed like a file's.
      set_path(out, key.path, convert(key, YAML::Load(key.default_value.dump()), defaults, shown));
    }
  }
  return out;
}

std::map<std::string, std::pair<YAML::Node, Origin>> parse_overrides(const std::vector<std::string>& overrides,
                                                                    const ConfigSchema& schema) {
  std::map<std::string, std::pair<YAML::Node, Origin>> out;
  for (const std::string& text : overrides) {
    const size_t eq = text.find('=');
    std::string key = eq == std::string::npos ? "" : text.substr(0, eq);
    while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
    while (!key.empty() && std::isspace(static_cast<unsigned char>(key.front()))) key.erase(0, 1);
    if (key.empty()) throw Error("--set '" + text + "': expected key.path=value");
    const Origin origin{"--set " + text, false};
    if (!schema.find(key)) {
      if (schema.is_section(key)) fail_in_field("--set", key, "is a section: set one of its keys");
      const std::string hint = schema.closest(key);
      fail_in_field("--set", key, "unknown key" + (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
    }
    YAML::Node value;
    try {
      value = YAML::Load(text.substr(eq + 1));
    } catch (const YAML::Exception& e) {
      fail_in_field("--set", key, "cannot parse the value as YAML: " + e.msg);
    }
    out[key] = {value, origin};
  }
  return out;
}

// ---- writing YAML ---------------------------------------------------------------------------------------

bool plain_safe(const std::string& s) {
  if (s.empty()) return false;
  const std::string t = lower(s);
  if (t == "null" || t == "~" || t == "y" || t == "n" || parse_bool(t) || parse_double(s) || t == ".inf" ||
      t == ".nan" || t == "-.inf")
    return false;
  if (!(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_' || s[0] == '/' || s[0] == '.')) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '/')) return false;
  return true;
}

std::string scalar_yaml(const OJson& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer()) return v.dump();
  if (v.is_number_float()) return format_double(v.get<double>());
  const std::string s = v.get<std::string>();
  // JSON's double-quoted strings are valid YAML double-quoted strings.
  return plain_safe(s) ? s : OJson(s).dump();
}

void emit_map(std::ostringstream& os, const OJson& obj, int indent, const std::string& path,
              const ConfigSchema* schema, bool first_has_dash);

void emit_value(std::ostringstream& os, const std::string& name, const OJson& v, int indent,
                const std::string& path, const ConfigSchema* schema, const std::string& lead) {
  const ConfigKey* key = schema ? schema->find(path) : nullptr;
  const std::string comment = key && !key->help.empty() ? "  # " + key->help : "";
  os << lead << name << ":";
  if (v.is_object() && !key) {
    os << "\n";
    emit_map(os, v, indent + 2, path, schema, false);
  } else if (v.is_array() && !v.empty() && v[0].is_object()) {
    os << comment << "\n";
    // Help comments on the first item only: repeating them on every item would bury the values.
    for (size_t i = 0; i < v.size(); i++)
      emit_map(os, v[i], indent + 4, "", key && i == 0 ? key->item.get() : nullptr, true);
  } else if (v.is_array()) {
    os << " [";
    for (size_t i = 0; i < v.size(); i++) os << (i ? ", " : "") << scalar_yaml(v[i]);
    os << "]" << comment << "\n";
  } else {
    os << " " << scalar_yaml(v) << comment << "\n";
  }
}

// With first_has_dash, the mapping is a list item: its first key follows "- " two columns to the left.
void emit_map(std::ostringstream& os, const OJson& obj, int indent, const std::string& path,
              const ConfigSchema* schema, bool first_has_dash) {
  if (obj.empty() && first_has_dash) {
    os << std::string(indent - 2, ' ') << "- {}\n";
    return;
  }
  bool first = true;
  for (const auto& [name, v] : obj.items()) {
    const std::string lead =
        first && first_has_dash ? std::string(indent - 2, ' ') + "- " : std::string(indent, ' ');
    emit_value(os, name, v, indent, path.empty() ? name : path + "." + name, schema, lead);
    first = false;
  }
}

}  // namespace

// ---- ConfigKey / ConfigSchema ---------------------------------------------------------------------------

const char* config_type_name(ConfigType type) {
  switch (type) {
    case ConfigType::Int: return "integer";
    case ConfigType::Float: return "number";
    case ConfigType::Bool: return "boolean";
    case ConfigType::String: return "string";
    case ConfigType::IntList: return "list of integers";
    case ConfigType::FloatList: return "list of numbers";
    case ConfigType::StringList: return "list of strings";
    case ConfigType::ObjectList: return "list of mappings";
  }
  return "?";
}

ConfigKey& ConfigKey::range(double lo, double hi) {
  min = lo, max = hi, min_exclusive = max_exclusive = false;
  return *this;
}
ConfigKey& ConfigKey::at_least(double lo) {
  min = lo, min_exclusive = false;
  return *this;
}
ConfigKey& ConfigKey::greater_than(double lo) {
  min = lo, min_exclusive = true;
  return *this;
}
ConfigKey& ConfigKey::at_most(double hi) {
  max = hi, max_exclusive = false;
  return *this;
}
ConfigKey& ConfigKey::one_of(std::vector<std::string> values) {
  R1_CHECK(type == ConfigType::String || type == ConfigType::StringList, "choices need a string key: " + path);
  choices = std::move(values);
  return *this;
}
ConfigKey& ConfigKey::items(const ConfigSchema& schema) {
  R1_CHECK(type == ConfigType::ObjectList, "items() needs a list-of-mappings key: " + path);
  item = std::make_shared<const ConfigSchema>(schema);
  return *this;
}
ConfigKey& ConfigKey::allow_null() {
  nullable = true;
  return *this;
}

std::string ConfigKey::constraint_text() const {
  if (!choices.empty()) {
    std::string s = "one of: ";
    for (size_t i = 0; i < choices.size(); i++) s += (i ? ", " : "") + choices[i];
    return s;
  }
  if (min && max && !min_exclusive && !max_exclusive) return "in [" + format_bound(*min) + ", " + format_bound(*max) + "]";
  std::string s;
  if (min) s += (min_exclusive ? "> " : ">= ") + format_bound(*min);
  if (max) s += (s.empty() ? "" : " and ") + std::string(max_exclusive ? "< " : "<= ") + format_bound(*max);
  return s;
}

ConfigKey& ConfigSchema::add(std::string path, ConfigType type, nlohmann::json default_value, std::string help) {
  R1_CHECK(valid_path(path), "config key paths are dotted lower_snake_case names: '" + path + "'");
  R1_CHECK(!find(path) && !is_section(path), "config key declared twice or inside another: '" + path + "'");
  const auto parts = split_path(path);
  std::string prefix;
  for (size_t i = 0; i + 1 < parts.size(); i++) {
    prefix += (i ? "." : "") + parts[i];
    R1_CHECK(!find(prefix), "config key '" + path + "' lies inside key '" + prefix + "'");
  }
  ConfigKey& key = keys_.emplace_back();
  key.path = std::move(path);
  key.type = type;
  key.default_value = std::move(default_value);
  key.help = std::move(help);
  if (type == ConfigType::ObjectList) key.item = std::make_shared<const ConfigSchema>();
  return key;
}

void ConfigSchema::include(const std::string& prefix, const ConfigSchema& other) {
  for (const ConfigKey& k : other.keys()) {
    ConfigKey& added = add(prefix.empty() ? k.path : prefix + "." + k.path, k.type, k.default_value, k.help);
    const std::string path = added.path;
    added = k;
    added.path = path;
  }
}

const ConfigKey* ConfigSchema::find(std::string_view path) const {
  for (const ConfigKey& k : keys_)
    if (k.path == path) return &k;
  return nullptr;
}

bool ConfigSchema::is_section(std::string_view path) const {
  for (const ConfigKey& k : keys_)
    if (k.path.size() > path.size() && k.path.compare(0, path.size(), path) == 0 && k.path[path.size()] == '.')
      return true;
  return false;
}

std::string ConfigSchema::closest(std::string_view path) const {
  std::set<std::string> candidates;
  for (const ConfigKey& k : keys_) {
    std::string p;
    for (const auto& part : split_path(k.path)) candidates.insert(p += (p.empty() ? "" : ".") + part);
  }
  const std::string last = split_path(path).back();
  std::string best;
  size_t best_d = std::max<size_t>(2, path.size() / 3) + 1;
  for (const std::string& c : candidates) {
    size_t d = edit_distance(path, c);
    if (split_path(c).back() == last) d = std::min<size_t>(d, 1);  // right name, wrong section
    if (d < best_d) best_d = d, best = c;
  }
  return best;
}

std::string ConfigSchema::describe() const {
  size_t width = 0;
  for (const ConfigKey& k : keys_) width = std::max(width, k.path.size());
  std::ostringstream os;
  for (const ConfigKey& k : keys_) {
    os << k.path << std::string(width + 2 - k.path.size(), ' ') << config_type_name(k.type);
    if (k.required())
      os << " (required)";
    else
      os << " = " << k.default_value.dump();
    const std::string c = k.constraint_text();
    if (!c.empty()) os << ", " << c;
    os << "  " << k.help << "\n";
    if (k.type == ConfigType::ObjectList && k.item && !k.item->keys().empty()) {
      std::istringstream items(k.item->describe());
      for (std::string line; std::getline(items, line);) os << "  " << k.path << "[]." << line << "\n";
    }
  }
  return os.str();
}

// ---- Config ---------------------------------------------------------------------------------------------

bool Config::has(std::string_view path) const {
  const OJson* node = &values_;
  for (const auto& part : split_path(path)) {
    if (!node->is_object() || !node->contains(part)) return false;
    node = &(*node)[part];
  }
  return true;
}

const OJson& Config::at(std::string_view path) const {
  const OJson* node = &values_;
  for (const auto& part : split_path(path)) {
    if (!node->is_object() || !node->contains(part))
      fail_in_field(source_, std::string(path), "no such key in the resolved config");
    node = &(*node)[part];
  }
  return *node;
}

int64_t Config::get_int(std::string_view path) const {
  const OJson& v = at(path);
  if (!v.is_number_integer()) fail_in_field(source_, std::string(path), "expected an integer, got " + v.dump());
  return v.get<int64_t>();
}

double Config::get_float(std::string_view path) const {
  const OJson& v = at(path);
  if (!v.is_number()) fail_in_field(source_, std::string(path), "expected a number, got " + v.dump());
  return v.get<double>();
}

bool Config::get_bool(std::string_view path) const {
  const OJson& v = at(path);
  if (!v.is_boolean()) fail_in_field(source_, std::string(path), "expected a boolean, got " + v.dump());
  return v.get<bool>();
}

std::string Config::get_string(std::string_view path) const {
  const OJson& v = at(path);
  if (!v.is_string()) fail_in_field(source_, std::string(path), "expected a string, got " + v.dump());
  return v.get<std::string>();
}

std::vector<int64_t> Config::get_ints(std::string_view path) const {
  const OJson& v = at(path);
  std::vector<int64_t> out;
  if (v.is_array())
    for (const auto& e : v) {
      if (!e.is_number_integer()) break;
      out.push_back(e.get<int64_t>());
    }
  if (!v.is_array() || out.size() != v.size())
    fail_in_field(source_, std::string(path), "expected a list of integers, got " + v.dump());
  return out;
}

std::vector<double> Config::get_floats(std::string_view path) const {
  const OJson& v = at(path);
  std::vector<double> out;
  if (v.is_array())
    for (const auto& e : v) {
      if (!e.is_number()) break;
      out.push_back(e.get<double>());
    }
  if (!v.is_array() || out.size() != v.size())
    fail_in_field(source_, std::string(path), "expected a list of numbers, got " + v.dump());
  return out;
}

std::vector<std::string> Config::get_strings(std::string_view path) const {
  const OJson& v = at(path);
  std::vector<std::string> out;
  if (v.is_array())
    for (const auto& e : v) {
      if (!e.is_string()) break;
      out.push_back(e.get<std::string>());
    }
  if (!v.is_array() || out.size() != v.size())
    fail_in_field(source_, std::string(path), "expected a list of strings, got " + v.dump());
  return out;
}

std::vector<Config> Config::get_objects(std::string_view path) const {
  const OJson& v = at(path);
  if (!v.is_array()) fail_in_field(source_, std::string(path), "expected a list of mappings, got " + v.dump());
  std::vector<Config> out;
  for (size_t i = 0; i < v.size(); i++) {
    if (!v[i].is_object())
      fail_in_field(source_, std::string(path) + "[" + std::to_string(i) + "]", "expected a mapping");
    out.emplace_back(v[i], source_ + ": " + std::string(path) + "[" + std::to_string(i) + "]");
  }
  return out;
}

// ---- loading and writing --------------------------------------------------------------------------------

Config parse_config(const std::string& yaml_text, const std::string& source, const ConfigSchema& schema,
                    const std::vector<std::string>& overrides) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    fail_at_line(source, e.mark.line + 1, "YAML syntax error: " + e.msg);
  } catch (const YAML::Exception& e) {
    fail_in_file(source, std::string("cannot parse YAML: ") + e.what());
  }
  if (!root.IsMap() && !root.IsNull()) fail_in_file(source, "expected a mapping of config keys, got " + describe_node(root));
  const auto parsed_overrides = parse_overrides(overrides, schema);
  return Config(resolve_map(root, schema, "", Origin{source, true}, parsed_overrides), source);
}

Config load_config(const std::string& yaml_path, const ConfigSchema& schema, const std::vector<std::string>& overrides) {
  std::ifstream in(yaml_path, std::ios::binary);
  if (!in) fail_in_file(yaml_path, "cannot open the config file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail_in_file(yaml_path, "cannot read the config file");
  return parse_config(text.str(), yaml_path, schema, overrides);
}

std::string config_to_yaml(const Config& config, const ConfigSchema* schema) {
  std::ostringstream os;
  os << "# Resolved config" << (config.source().empty() ? "" : " (from " + config.source() + ")")
     << ": every key with the value used, defaults included.\n";
  emit_map(os, config.values(), 0, "", schema, false);
  return os.str();
}

}  // namespace r1
