// Reward registry, params reader, YAML->JSON conversion and the weighted composite (see reward.h).
#include "rewards/reward.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>

#include "core/error.h"
#include "rewards/accuracy_reward.h"
#include "rewards/code_reward.h"
#include "rewards/countdown_reward.h"
#include "rewards/format_reward.h"
#include "rewards/language_reward.h"
#include "rewards/thread_pool.h"

namespace r1::rewards {

// ---- params ------------------------------------------------------------------------------------------------

RewardParams::RewardParams(const nlohmann::json& params, std::string source, std::string path)
    : params_(params), source_(std::move(source)), path_(std::move(path)) {
  if (!params_.is_null() && !params_.is_object()) fail_in_field(source_, path_, "must be a map of options");
}

const nlohmann::json* RewardParams::find(const std::string& key) {
  used_.insert(key);
  if (!params_.is_object()) return nullptr;
  auto it = params_.find(key);
  return it == params_.end() || it->is_null() ? nullptr : &*it;
}

void RewardParams::fail(const std::string& key, const std::string& message) const {
  fail_in_field(source_, path_ + "." + key, message);
}

double RewardParams::get_number(const std::string& key, double fallback) {
  const nlohmann::json* v = find(key);
  if (!v) return fallback;
  if (!v->is_number()) fail(key, "expected a number, got " + v->dump());
  const double x = v->get<double>();
  if (!std::isfinite(x)) fail(key, "must be finite");
  return x;
}

bool RewardParams::get_bool(const std::string& key, bool fallback) {
  const nlohmann::json* v = find(key);
  if (!v) return fallback;
  if (!v->is_boolean()) fail(key, "expected true or false, got " + v->dump());
  return v->get<bool>();
}

std::string RewardParams::get_string(const std::string& key, const std::string& fallback) {
  const nlohmann::json* v = find(key);
  if (!v) return fallback;
  if (!v->is_string()) fail(key, "expected a string, got " + v->dump());
  return v->get<std::string>();
}

std::string RewardParams::get_choice(const std::string& key, const std::string& fallback,
                                     const std::vector<std::string>& choices) {
  std::string value = get_string(key, fallback);
  if (std::find(choices.begin(), choices.end(), value) != choices.end()) return value;
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
  fail(key, "'" + value + "' is not one of: " + list);
}

std::vector<std::string> RewardParams::get_strings(const std::string& key, const std::vector<std::string>& fallback) {
  const nlohmann::json* v = find(key);
  if (!v) return fallback;
  if (v->is_string()) return {v->get<std::string>()};
  if (!v->is_array()) fail(key, "expected a list of strings, got " + v->dump());
  std::vector<std::string> out;
  for (const auto& item : *v) {
    if (!item.is_string()) fail(key, "expected a list of strings, got " + v->dump());
    out.push_back(item.get<std::string>());
  }
  return out;
}

void RewardParams::finish() const {
  if (!params_.is_object()) return;
  for (auto it = params_.begin(); it != params_.end(); ++it)
    if (!used_.count(it.key())) {
      std::string known;
      for (const auto& k : used_) known += (known.empty() ? "" : ", ") + k;
      fail(it.key(), "unknown key (known: " + (known.empty() ? std::string("none") : known) + ")");
    }
}

// ---- registry ----------------------------------------------------------------------------------------------

namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::string, RewardFactory> factories;
};

Registry& registry() {
  static Registry* r = [] {
    auto* reg = new Registry;  // never destroyed: rewards may be created from static destructors' peers
    reg->factories["accuracy"] = make_accuracy_reward;
    reg->factories["format"] = make_format_reward;
    reg->factories["language"] = make_language_reward;
    reg->factories["countdown"] = make_countdown_reward;
    reg->factories["code"] = make_code_reward;
    return reg;
  }();
  return *r;
}

}  // namespace

void register_reward(const std::string& name, RewardFactory factory) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  R1_CHECK(!r.factories.count(name), "reward '" + name + "' registered twice");
  r.factories[name] = std::move(factory);
}

std::vector<std::string> reward_names() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> names;
  for (const auto& [name, f] : r.factories) names.push_back(name);
  return names;
}

std::unique_ptr<Reward> create_reward(const std::string& name, const nlohmann::json& params, const std::string& source,
                                      const std::string& path) {
  RewardFactory factory;
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    auto it = r.factories.find(name);
    if (it != r.factories.end()) factory = it->second;
  }
  if (!factory) {
    std::string known;
    for (const auto& n : reward_names()) known += (known.empty() ? "" : ", ") + n;
    fail_in_field(source, path, "unknown reward '" + name + "' (known: " + known + ")");
  }
  RewardParams reader(params, source, path);
  std::unique_ptr<Reward> reward = factory(reader);
  reader.finish();
  return reward;
}

// ---- YAML -> JSON ------------------------------------------------------------------------------------------

namespace {

nlohmann::json scalar_to_json(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return text;  // quoted: always a string
  if (text == "null" || text == "~" || text.empty()) return nullptr;
  if (text == "true" || text == "True") return true;
  if (text == "false" || text == "False") return false;
  try {
    size_t used = 0;
    long long i = std::stoll(text, &used);
    if (used == text.size()) return i;
  } catch (...) {
  }
  try {
    size_t used = 0;
    double d = std::stod(text, &used);
    if (used == text.size()) return d;
  } catch (...) {
  }
  return text;
}

nlohmann::json node_to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      return scalar_to_json(node);
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : node) out.push_back(node_to_json(item));
      return out;
    }
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (auto it = node.begin(); it != node.end(); ++it) out[it->first.as<std::string>()] = node_to_json(it->second);
      return out;
    }
  }
  return nullptr;
}

}  // namespace

nlohmann::json yaml_to_json(const std::string& yaml_text, const std::string& source) {
  try {
    return node_to_json(YAML::Load(yaml_text));
  } catch (const YAML::Exception& e) {
    fail_at_line(source, e.mark.line + 1, std::string("invalid YAML: ") + e.msg);
  }
}

// ---- composite ---------------------------------------------------------------------------------------------

CompositeReward CompositeReward::from_json(const nlohmann::json& spec, const std::string& source) {
  const nlohmann::json* list = &spec;
  std::string prefix = "rewards";
  if (spec.is_object()) {
    for (auto it = spec.begin(); it != spec.end(); ++it)
      if (it.key() != "rewards") fail_in_field(source, it.key(), "unknown key (expected 'rewards')");
    if (!spec.contains("rewards")) fail_in_field(source, "rewards", "missing");
    list = &spec["rewards"];
  }
  if (!list->is_array() || list->empty()) fail_in_field(source, prefix, "must be a non-empty list of rewards");
  CompositeReward out;
  std::set<std::string> labels;
  for (size_t i = 0; i < list->size(); ++i) {
    const nlohmann::json& entry = (*list)[i];
    const std::string path = prefix + "[" + std::to_string(i) + "]";
    if (!entry.is_object()) fail_in_field(source, path, "must be a map {name, weight, params}");
    for (auto it = entry.begin(); it != entry.end(); ++it)
      if (it.key() != "name" && it.key() != "weight" && it.key() != "label" && it.key() != "params")
        fail_in_field(source, path + "." + it.key(), "unknown key (known: name, weight, label, params)");
    if (!entry.contains("name") || !entry["name"].is_string()) fail_in_field(source, path + ".name", "missing reward name");
    const std::string name = entry["name"].get<std::string>();
    double weight = 1.0;
    if (entry.contains("weight")) {
      if (!entry["weight"].is_number()) fail_in_field(source, path + ".weight", "expected a number");
      weight = entry["weight"].get<double>();
      if (!std::isfinite(weight)) fail_in_field(source, path + ".weight", "must be finite");
    }
    std::string label = name;
    if (entry.contains("label")) {
      if (!entry["label"].is_string()) fail_in_field(source, path + ".label", "expected a string");
      label = entry["label"].get<std::string>();
    }
    if (!labels.insert(label).second)
      fail_in_field(source, path + ".label", "reward '" + label + "' appears twice; give one a distinct label");
    const auto names = reward_names();
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      std::string known;
      for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
      fail_in_field(source, path + ".name", "unknown reward '" + name + "' (known: " + known + ")");
    }
    auto reward = create_reward(name, entry.contains("params") ? entry["params"] : nlohmann::json(), source,
                                path + ".params");
    out.add(label, weight, std::move(reward));
  }
  return out;
}

CompositeReward CompositeReward::from_yaml(const std::string& yaml_text, const std::string& source) {
  return from_json(yaml_to_json(yaml_text, source), source);
}

CompositeReward CompositeReward::from_list(const std::string& list, const std::string& source) {
  nlohmann::json spec = nlohmann::json::array();
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    std::string item = list.substr(start, comma - start);
    start = comma + 1;
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (item.empty()) continue;
    nlohmann::json entry = {{"name", item}};
    if (size_t colon = item.find(':'); colon != std::string::npos) {
      entry["name"] = item.substr(0, colon);
      try {
        size_t used = 0;
        const std::string w = item.substr(colon + 1);
        entry["weight"] = std::stod(w, &used);
        if (used != w.size()) throw std::invalid_argument(w);
      } catch (const std::exception&) {
        fail_in_field(source, item, "weight after ':' must be a number");
      }
    }
    spec.push_back(entry);
  }
  return from_json(spec, source);
}

void CompositeReward::add(std::string label, double weight, std::unique_ptr<Reward> reward) {
  R1_CHECK(reward != nullptr, "null reward");
  parts_.push_back(Part{std::move(label), weight, std::move(reward)});
}

std::vector<std::string> CompositeReward::labels() const {
  std::vector<std::string> out;
  for (const auto& p : parts_) out.push_back(p.label);
  return out;
}

ScoredInput CompositeReward::score(const RewardInput& input) const {
  ScoredInput out;
  out.parts.reserve(parts_.size());
  for (const auto& part : parts_) {
    out.parts.push_back(part.reward->score(input));
    out.total += part.weight * out.parts.back().score;
  }
  return out;
}

std::vector<ScoredInput> CompositeReward::score_batch(const std::vector<RewardInput>& inputs, ThreadPool& pool) const {
  std::vector<ScoredInput> out(inputs.size());
  pool.parallel_for(inputs.size(), [&](size_t i) { out[i] = score(inputs[i]); });
  return out;
}

std::vector<ScoredInput> CompositeReward::score_batch(const std::vector<RewardInput>& inputs, int threads) const {
  ThreadPool pool(threads);
  return score_batch(inputs, pool);
}

}  // namespace r1::rewards
