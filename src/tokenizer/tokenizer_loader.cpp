// Loading tokenizer.json (+ tokenizer_config.json, generation_config.json) into Tokenizer::Impl.
// Every rejection names the file and the JSON field at fault.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/tokenizer_json.h"

namespace r1 {

using nlohmann::json;

namespace {

// One read into a buffer of the file's size (a stringstream would copy a 17 MB file several times).
std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) fail_in_file(path, "cannot open file");
  const std::streamsize size = in.tellg();
  std::string text(static_cast<size_t>(size < 0 ? 0 : size), '\0');
  in.seekg(0);
  if (!in.read(text.data(), size)) fail_in_file(path, "cannot read file");
  return text;
}

json parse_json(std::string_view text, const std::string& source) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    fail_in_file(source, std::string("invalid JSON: ") + e.what());
  }
}

bool is_null_or_absent(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() || it->is_null();
}

// A string field, "" when absent or null; anything else is an error.
std::string string_field(const json& obj, const char* key, const std::string& file, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return "";
  if (!it->is_string()) fail_in_field(file, path, "must be a string");
  return it->get<std::string>();
}

bool bool_field(const json& obj, const char* key, bool fallback, const std::string& file, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) fail_in_field(file, path, "must be true or false");
  return it->get<bool>();
}

// Collects the loader's intermediate results before they go into the Impl.
struct Loader {
  std::string file;
  Tokenizer::Impl& t;
  bool byte_level_pre = false;  // a ByteLevel pre-tokenizer is present

  void load_normalizer(const json& n, const std::string& path) {
    if (n.is_null()) return;
    if (!n.is_object()) fail_in_field(file, path, "must be an object or null");
    const std::string type = string_field(n, "type", file, path + ".type");
    if (type == "NFC") t.normalizers.push_back(tok::NormalForm::kNFC);
    else if (type == "NFD") t.normalizers.push_back(tok::NormalForm::kNFD);
    else if (type == "NFKC") t.normalizers.push_back(tok::NormalForm::kNFKC);
    else if (type == "NFKD") t.normalizers.push_back(tok::NormalForm::kNFKD);
    else if (type == "Sequence") {
      auto it = n.find("normalizers");
      if (it == n.end() || !it->is_array()) fail_in_field(file, path + ".normalizers", "must be a list");
      for (size_t i = 0; i < it->size(); ++i) load_normalizer((*it)[i], path + ".normalizers[" + std::to_string(i) + "]");
    } else {
      fail_in_field(file, path + ".type",
                    "unsupported normalizer '" + type + "' (supported: NFC, NFD, NFKC, NFKD, Sequence)");
    }
  }

  void load_pre_tokenizer(const json& p, const std::string& path) {
    if (p.is_null()) return;
    if (!p.is_object()) fail_in_field(file, path, "must be an object or null");
    const std::string type = string_field(p, "type", file, path + ".type");
    if (type == "Sequence") {
      auto it = p.find("pretokenizers");
      if (it == p.end() || !it->is_array()) fail_in_field(file, path + ".pretokenizers", "must be a list");
      for (size_t i = 0; i < it->size(); ++i)
        load_pre_tokenizer((*it)[i], path + ".pretokenizers[" + std::to_string(i) + "]");
    } else if (type == "Split") {
      tok::RegexSplit step;
      auto pat = p.find("pattern");
      if (pat == p.end() || !pat->is_object()) fail_in_field(file, path + ".pattern", "must be {\"Regex\": ...} or {\"String\": ...}");
      const bool is_regex = pat->contains("Regex");
      const std::string key = is_regex ? "Regex" : "String";
      auto v = pat->find(key);
      if (v == pat->end() || !v->is_string())
        fail_in_field(file, path + ".pattern", "must be {\"Regex\": \"...\"} or {\"String\": \"...\"}");
      try {
        step.regex = std::make_shared<tok::Regex>(v->get<std::string>(), !is_regex);
      } catch (const Error& e) {
        fail_in_field(file, path + ".pattern." + key, e.what());
      }
      const std::string behavior = string_field(p, "behavior", file, path + ".behavior");
      if (!tok::parse_split_behavior(behavior, &step.behavior))
        fail_in_field(file, path + ".behavior",
                      "unknown behavior '" + behavior +
                          "' (Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous)");
      step.invert = bool_field(p, "invert", false, file, path + ".invert");
      if (t.add_prefix_space) fail_in_field(file, path, "a Split after ByteLevel(add_prefix_space=true) is not supported");
      t.splits.push_back(std::move(step));
    } else if (type == "ByteLevel") {
      byte_level_pre = true;
      if (bool_field(p, "add_prefix_space", true, file, path + ".add_prefix_space")) {
        if (!t.splits.empty())
          fail_in_field(file, path + ".add_prefix_space", "add_prefix_space=true after a Split is not supported");
        t.add_prefix_space = true;
      }
      if (bool_field(p, "use_regex", true, file, path + ".use_regex")) {
        tok::RegexSplit step;
        step.regex = std::make_shared<tok::Regex>(tok::kGpt2Pattern, false);
        step.behavior = tok::SplitBehavior::kIsolated;
        t.splits.push_back(std::move(step));
      }
    } else {
      fail_in_field(file, path + ".type", "unsupported pre_tokenizer '" + type + "' (supported: Split, ByteLevel, Sequence)");
    }
  }

  int32_t special_token_ids(const json& specials, const std::string& name, const std::string& path,
                            std::vector<int32_t>& out) {
    auto it = specials.find(name);
    if (it == specials.end()) fail_in_field(file, path, "names special token '" + name + "' missing from special_tokens");
    auto ids = it->find("ids");
    if (ids == it->end() || !ids->is_array()) fail_in_field(file, path, "special token '" + name + "' has no ids");
    for (const auto& id : *ids) out.push_back(id.get<int32_t>());
    return 0;
  }

  // Appends this processor's effect to prefix/suffix (Sequence applies processors in order, so a later
  // one wraps the result of an earlier one).
  void load_post_processor(const json& p, const std::string& path) {
    if (p.is_null()) return;
    if (!p.is_object()) fail_in_field(file, path, "must be an object or null");
    const std::string type = string_field(p, "type", file, path + ".type");
    std::vector<int32_t> prefix, suffix;
    if (type == "ByteLevel") {
      return;  // offsets only
    } else if (type == "Sequence") {
      auto it = p.find("processors");
      if (it == p.end() || !it->is_array()) fail_in_field(file, path + ".processors", "must be a list");
      for (size_t i = 0; i < it->size(); ++i) load_post_processor((*it)[i], path + ".processors[" + std::to_string(i) + "]");
      return;
    } else if (type == "TemplateProcessing") {
      auto single = p.find("single");
      if (single == p.end() || !single->is_array()) fail_in_field(file, path + ".single", "must be a list");
      const json specials = p.value("special_tokens", json::object());
      bool seen_sequence = false;
      for (size_t i = 0; i < single->size(); ++i) {
        const json& item = (*single)[i];
        const std::string ipath = path + ".single[" + std::to_string(i) + "]";
        if (item.contains("Sequence")) {
          seen_sequence = true;
        } else if (item.contains("SpecialToken")) {
          const std::string name = item["SpecialToken"].value("id", "");
          special_token_ids(specials, name, ipath, seen_sequence ? suffix : prefix);
        } else {
          fail_in_field(file, ipath, "must be {\"SpecialToken\": ...} or {\"Sequence\": ...}");
        }
      }
      if (!seen_sequence) fail_in_field(file, path + ".single", "has no {\"Sequence\": {\"id\": \"A\"}} item");
    } else if (type == "RobertaProcessing" || type == "BertProcessing") {
      for (const char* key : {"cls", "sep"}) {
        auto it = p.find(key);
        if (it == p.end() || !it->is_array() || it->size() != 2)
          fail_in_field(file, path + "." + key, "must be [token, id]");
        (std::string(key) == "cls" ? prefix : suffix).push_back((*it)[1].get<int32_t>());
      }
    } else {
      fail_in_field(file, path + ".type",
                    "unsupported post_processor '" + type +
                        "' (supported: TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence)");
    }
    t.post_prefix.insert(t.post_prefix.begin(), prefix.begin(), prefix.end());
    t.post_suffix.insert(t.post_suffix.end(), suffix.begin(), suffix.end());
  }

  void load_decoder(const json& d, const std::string& path) {
    if (d.is_null()) {
      t.decoder_byte_level = false;
      return;
    }
    const std::string type = string_field(d, "type", file, path + ".type");
    if (type == "ByteLevel") {
      t.decoder_byte_level = true;
    } else if (type == "Sequence") {
      // Accept a sequence that is just a ByteLevel decoder (what some converters write).
      auto it = d.find("decoders");
      if (it == d.end() || !it->is_array() || it->size() != 1)
        fail_in_field(file, path, "only a Sequence holding a single ByteLevel decoder is supported");
      load_decoder((*it)[0], path + ".decoders[0]");
    } else {
      fail_in_field(file, path + ".type", "unsupported decoder '" + type + "' (supported: ByteLevel)");
    }
  }

  void load_model(const json& root, tok::TokenizerJson& tables) {
    auto mit = root.find("model");
    if (mit == root.end() || mit->is_null())
      fail_in_field(file, "model", "missing: a tokenizer.json needs a \"model\" object (type BPE)");
    const json& m = *mit;
    if (!m.is_object()) fail_in_field(file, "model", "must be an object");
    std::string type = string_field(m, "type", file, "model.type");
    if (type.empty() && tables.has_merges) type = "BPE";  // HF infers the untagged BPE model
    if (type != "BPE")
      fail_in_field(file, "model.type",
                    "unsupported model type '" + type + "' (only byte-level BPE is supported)");
    if (!is_null_or_absent(m, "dropout") && (!m["dropout"].is_number() || m["dropout"].get<double>() != 0.0))
      fail_in_field(file, "model.dropout", "BPE dropout is not supported (use null)");
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
      if (!string_field(m, key, file, std::string("model.") + key).empty())
        fail_in_field(file, std::string("model.") + key, "non-empty values are not supported");

    if (!tables.has_vocab) fail_in_field(file, "model.vocab", "missing or not an object {token: id}");
    if (!tables.vocab_error.empty())
      fail_in_field(file, "model.vocab." + tables.vocab_error, "id must be a non-negative integer");
    int64_t max_id = -1;
    for (const auto& [token, id] : tables.vocab) max_id = std::max(max_id, id);
    for (const auto& a : t.added) max_id = std::max<int64_t>(max_id, a.id);
    const size_t n_ids = static_cast<size_t>(max_id + 1);
    t.id_to_token.assign(n_ids, "");
    t.id_bytes.assign(n_ids, "");
    t.special.assign(n_ids, 0);
    std::vector<std::string> symbols(n_ids);
    t.token_to_id.reset(&t.id_to_token, tables.vocab.size() + t.added.size());
    for (auto& [token, id64] : tables.vocab) {
      const int32_t id = static_cast<int32_t>(id64);
      if (byte_level_pre) {
        auto bytes = tok::byte_chars_to_bytes(token);
        if (bytes) symbols[id] = std::move(*bytes);  // else not made of byte chars: BPE never produces it
      } else {
        symbols[id] = token;
      }
      t.id_to_token[id] = std::move(token);
      t.token_to_id.insert(id);
    }

    if (!tables.has_merges) fail_in_field(file, "model.merges", "missing or not a list");
    std::vector<std::array<int32_t, 3>> merge_ids;
    merge_ids.reserve(tables.merges.size());
    std::string joined;
    for (size_t r = 0; r < tables.merges.size(); ++r) {
      const tok::MergeEntry& e = tables.merges[r];
      const std::string path = "model.merges[" + std::to_string(r) + "]";
      if (!e.ok) fail_in_field(file, path, e.a);
      const int32_t ia = t.token_to_id.find(e.a);
      if (ia < 0) fail_in_field(file, path, "merge names token '" + e.a + "' which is not in model.vocab");
      const int32_t ib = t.token_to_id.find(e.b);
      if (ib < 0) fail_in_field(file, path, "merge names token '" + e.b + "' which is not in model.vocab");
      joined.assign(e.a);
      joined.append(e.b);
      const int32_t iab = t.token_to_id.find(joined);
      if (iab < 0) fail_in_field(file, path, "merge result '" + joined + "' is not in model.vocab");
      merge_ids.push_back({ia, ib, iab});
    }

    tok::BpeOptions options;
    options.byte_level = byte_level_pre;
    options.ignore_merges = bool_field(m, "ignore_merges", false, file, "model.ignore_merges");
    options.byte_fallback = bool_field(m, "byte_fallback", false, file, "model.byte_fallback");
    options.fuse_unk = bool_field(m, "fuse_unk", false, file, "model.fuse_unk");
    const std::string unk = string_field(m, "unk_token", file, "model.unk_token");
    if (!unk.empty()) {
      const int32_t u = t.token_to_id.find(unk);
      if (u < 0) fail_in_field(file, "model.unk_token", "token '" + unk + "' is not in model.vocab");
      options.unk_id = u;
    }
    t.model = tok::BpeModel(std::move(symbols), merge_ids, options);
  }

  void load_added_tokens(const json& root) {
    auto it = root.find("added_tokens");
    if (it == root.end() || it->is_null()) return;
    if (!it->is_array()) fail_in_field(file, "added_tokens", "must be a list");
    for (size_t i = 0; i < it->size(); ++i) {
      const json& a = (*it)[i];
      const std::string path = "added_tokens[" + std::to_string(i) + "]";
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || a["id"].get<int64_t>() < 0)
        fail_in_field(file, path + ".id", "missing or not a non-negative integer");
      tok::AddedToken tk;
      tk.id = a["id"].get<int32_t>();
      tk.content = string_field(a, "content", file, path + ".content");
      if (tk.content.empty()) fail_in_field(file, path + ".content", "missing or empty");
      tk.special = bool_field(a, "special", false, file, path + ".special");
      tk.single_word = bool_field(a, "single_word", false, file, path + ".single_word");
      tk.lstrip = bool_field(a, "lstrip", false, file, path + ".lstrip");
      tk.rstrip = bool_field(a, "rstrip", false, file, path + ".rstrip");
      tk.normalized = bool_field(a, "normalized", !tk.special, file, path + ".normalized");
      t.added.push_back(std::move(tk));
    }
  }

  // After the model: added tokens take their ids (overriding the model's token for that id).
  void finish_added_tokens() {
    std::vector<tok::AddedToken> raw, norm;
    std::vector<std::string> raw_keys, norm_keys;
    for (const tok::AddedToken& a : t.added) {
      t.id_to_token[a.id] = a.content;
      t.token_to_id.insert(a.id);
      t.special[a.id] = a.special ? 1 : 0;
      if (a.normalized && !t.normalizers.empty()) {
        std::string key = a.content;
        for (tok::NormalForm f : t.normalizers) key = tok::normalize(key, f);
        norm.push_back(a);
        norm_keys.push_back(std::move(key));
      } else {
        raw.push_back(a);
        raw_keys.push_back(a.content);
      }
    }
    t.raw_matcher = tok::AddedTokenMatcher(std::move(raw), std::move(raw_keys));
    t.normalized_matcher = tok::AddedTokenMatcher(std::move(norm), std::move(norm_keys));
  }

  // What each id decodes to: HF's ByteLevel decoder maps a token's characters back to bytes, or emits
  // the token's own UTF-8 when some character is outside the byte table.
  void finish_decode_table() {
    for (size_t id = 0; id < t.id_to_token.size(); ++id) {
      const std::string& token = t.id_to_token[id];
      if (token.empty()) continue;
      auto bytes = tok::byte_chars_to_bytes(token);
      t.id_bytes[id] = bytes ? *bytes : token;
    }
  }

  void load(tok::TokenizerJson& tables) {
    const json& root = tables.rest;
    if (!root.is_object()) fail_in_file(file, "not a tokenizer.json: the top level must be an object");
    load_added_tokens(root);
    load_normalizer(root.value("normalizer", json()), "normalizer");
    load_pre_tokenizer(root.value("pre_tokenizer", json()), "pre_tokenizer");
    load_model(root, tables);
    load_post_processor(root.value("post_processor", json()), "post_processor");
    load_decoder(root.value("decoder", json()), "decoder");
    finish_added_tokens();
    finish_decode_table();
  }
};

// tokenizer_config.json: special token names may be strings or {"__type": "AddedToken", "content": ...}.
std::string config_token(const json& cfg, const char* key, const std::string& file) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"].get<std::string>();
  fail_in_field(file, key, "must be a string, an {\"content\": ...} object or null");
}

void load_tokenizer_config(Tokenizer::Impl& t, const std::string& file) {
  const json cfg = parse_json(read_file(file), file);
  if (!cfg.is_object()) fail_in_file(file, "the top level must be an object");
  t.bos_token = config_token(cfg, "bos_token", file);
  t.eos_token = config_token(cfg, "eos_token", file);
  t.pad_token = config_token(cfg, "pad_token", file);
  t.clean_up_spaces = bool_field(cfg, "clean_up_tokenization_spaces", false, file, "clean_up_tokenization_spaces");
  t.split_special_tokens = bool_field(cfg, "split_special_tokens", false, file, "split_special_tokens");
  if (auto it = cfg.find("chat_template"); it != cfg.end() && !it->is_null()) {
    if (it->is_string()) {
      t.chat_template = it->get<std::string>();
    } else if (it->is_array()) {  // [{name, template}]: the "default" one
      for (const auto& entry : *it)
        if (entry.value("name", "") == "default") t.chat_template = entry.value("template", "");
    } else {
      fail_in_field(file, "chat_template", "must be a string or a list of {name, template}");
    }
  }
  // transformers' LlamaTokenizerFast rebuilds the post-processor from add_bos_token / add_eos_token.
  if (cfg.value("tokenizer_class", "") == "LlamaTokenizerFast" &&
      (cfg.contains("add_bos_token") || cfg.contains("add_eos_token"))) {
    std::vector<int32_t> prefix, suffix;
    auto id_of = [&](const std::string& token, const char* key) {
      const int32_t id = t.token_to_id.find(token);
      if (id < 0) fail_in_field(file, key, "token '" + token + "' is not in the vocabulary");
      return id;
    };
    if (bool_field(cfg, "add_bos_token", false, file, "add_bos_token") && !t.bos_token.empty())
      prefix.push_back(id_of(t.bos_token, "bos_token"));
    if (bool_field(cfg, "add_eos_token", false, file, "add_eos_token") && !t.eos_token.empty())
      suffix.push_back(id_of(t.eos_token, "eos_token"));
    t.post_prefix = prefix;
    t.post_suffix = suffix;
  }
}

void load_generation_config(Tokenizer::Impl& t, const std::string& file) {
  const json cfg = parse_json(read_file(file), file);
  auto it = cfg.find("eos_token_id");
  if (it == cfg.end() || it->is_null()) return;
  if (it->is_number_integer()) t.generation_eos_ids = {it->get<int32_t>()};
  else if (it->is_array())
    for (const auto& v : *it) t.generation_eos_ids.push_back(v.get<int32_t>());
  else
    fail_in_field(file, "eos_token_id", "must be an integer or a list of integers");
}

// An overlay file: {"base": "<path relative to the overlay>", "replace": {top-level fields},
// "model_set": {model fields}} — how shared/data ships the R1-Distill tokenizer without its 7 MB base.
// The base goes through the fast reader; the overlay only touches the small fields.
tok::TokenizerJson compose_overlay(const json& overlay, const std::string& file) {
  const std::string base_rel = overlay.value("base", "");
  if (base_rel.empty()) fail_in_field(file, "base", "missing: the path of the base tokenizer.json");
  const std::string base = (std::filesystem::path(file).parent_path() / base_rel).string();
  tok::TokenizerJson tables = tok::parse_tokenizer_json(read_file(base), base);
  const json replace = overlay.value("replace", json::object());
  const json model_set = overlay.value("model_set", json::object());
  for (const auto& [key, value] : replace.items()) {
    if (key == "model") fail_in_field(file, "replace.model", "replacing the whole model is not supported; use model_set");
    tables.rest[key] = value;
  }
  for (const auto& [key, value] : model_set.items()) {
    if (key == "vocab" || key == "merges") fail_in_field(file, "model_set." + key, "vocab and merges cannot be overlaid");
    tables.rest["model"][key] = value;
  }
  return tables;
}

}  // namespace

struct TokenizerBuilder {
  static Tokenizer build(tok::TokenizerJson tables, const std::string& source) {
    auto impl = std::make_shared<Tokenizer::Impl>();
    impl->source = source;
    Loader{source, *impl}.load(tables);
    return Tokenizer(impl);
  }
  static Tokenizer from_dir(const std::string& dir) {
    namespace fs = std::filesystem;
    if (!fs::is_directory(dir)) fail_in_file(dir, "not a directory");
    const fs::path tj = fs::path(dir) / "tokenizer.json";
    tok::TokenizerJson tables;
    std::string source = tj.string();
    if (fs::exists(tj)) {
      tables = tok::parse_tokenizer_json(read_file(source), source);
    } else {
      std::string overlay;
      for (const auto& e : fs::directory_iterator(dir)) {
        const std::string name = e.path().filename().string();
        if (name.rfind("tokenizer.overlay", 0) == 0 && e.path().extension() == ".json") overlay = e.path().string();
      }
      if (overlay.empty()) fail_in_file(dir, "no tokenizer.json (or tokenizer.overlay*.json) in this directory");
      source = overlay;
      tables = compose_overlay(parse_json(read_file(overlay), overlay), overlay);
    }
    auto impl = std::make_shared<Tokenizer::Impl>();
    impl->source = source;
    Loader{source, *impl}.load(tables);
    const fs::path cfg = fs::path(dir) / "tokenizer_config.json";
    if (fs::exists(cfg)) load_tokenizer_config(*impl, cfg.string());
    const fs::path gen = fs::path(dir) / "generation_config.json";
    if (fs::exists(gen)) load_generation_config(*impl, gen.string());
    return Tokenizer(impl);
  }
};

Tokenizer Tokenizer::from_json_text(std::string_view json_text, const std::string& source) {
  return TokenizerBuilder::build(tok::parse_tokenizer_json(json_text, source), source);
}

Tokenizer Tokenizer::from_file(const std::string& tokenizer_json) {
  return from_json_text(read_file(tokenizer_json), tokenizer_json);
}

Tokenizer Tokenizer::from_dir(const std::string& dir) { return TokenizerBuilder::from_dir(dir); }

}  // namespace r1
