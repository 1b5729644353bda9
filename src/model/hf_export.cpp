// Complete HF model directories: gather what the source provides (tokenizer files, generation config), check the
// tokenizer fits the model's vocabulary, write everything into <dir>.tmp — weights first, config.json last — and
// swap it in with one rename.
#include "model/hf_export.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/log.h"
#include "model/safetensors.h"

namespace fs = std::filesystem;

namespace r1 {

namespace {

constexpr const char* kTokenizerJson = "tokenizer.json";
constexpr const char* kTokenizerConfig = "tokenizer_config.json";
constexpr const char* kGenerationConfig = "generation_config.json";

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) fail_in_file(p.string(), "cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail_in_file(p.string(), "read failed");
  return ss.str();
}

nlohmann::json read_json(const fs::path& p) {
  try {
    return nlohmann::json::parse(read_text(p));
  } catch (const nlohmann::json::exception& e) {
    fail_in_file(p.string(), std::string("invalid JSON: ") + e.what());
  }
}

// The ids of a tokenizer.json: its model's vocabulary and its added tokens. Only what the export needs — the
// largest id (which must fit the model) and id <-> token for the special tokens — so the model layer need not
// depend on the tokenizer library.
struct TokenizerIds {
  int64_t max_id = -1;
  std::map<int64_t, std::string> token_of;
  std::map<std::string, int64_t> id_of;

  void add(const std::string& token, int64_t id) {
    max_id = std::max(max_id, id);
    token_of[id] = token;
    id_of[token] = id;
  }
};

TokenizerIds read_tokenizer_ids(const fs::path& path) {
  const nlohmann::json j = read_json(path);
  const std::string file = path.string();
  if (!j.is_object()) fail_in_file(file, "a tokenizer.json must be a JSON object");
  TokenizerIds ids;
  if (j.contains("model") && j["model"].is_object() && j["model"].contains("vocab")) {
    const auto& vocab = j["model"]["vocab"];
    if (vocab.is_object()) {  // BPE / WordPiece / WordLevel: {token: id}
      for (auto it = vocab.begin(); it != vocab.end(); ++it) {
        if (!it.value().is_number_integer()) fail_in_field(file, "model.vocab." + it.key(), "id must be an integer");
        ids.add(it.key(), it.value().get<int64_t>());
      }
    } else if (vocab.is_array()) {  // Unigram: [[piece, score], ...], ids are positions
      for (size_t i = 0; i < vocab.size(); i++)
        if (vocab[i].is_array() && !vocab[i].empty() && vocab[i][0].is_string())
          ids.add(vocab[i][0].get<std::string>(), int64_t(i));
    } else {
      fail_in_field(file, "model.vocab", "must be an object or an array");
    }
  }
  if (j.contains("added_tokens") && j["added_tokens"].is_array())
    for (size_t i = 0; i < j["added_tokens"].size(); i++) {
      const auto& t = j["added_tokens"][i];
      const std::string field = "added_tokens[" + std::to_string(i) + "]";
      if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() || !t.contains("content") ||
          !t["content"].is_string())
        fail_in_field(file, field, "must be an object with an integer id and a string content");
      ids.add(t["content"].get<std::string>(), t["id"].get<int64_t>());
    }
  return ids;
}

// A tokenizer_config.json for a bare tokenizer.json (one r1 trained): the fast-tokenizer class and the special
// tokens the model's config names, so AutoTokenizer knows its BOS/EOS/PAD.
nlohmann::json tokenizer_config_for(const TokenizerIds& tok, const ModelConfig& c) {
  nlohmann::json t = {{"tokenizer_class", "PreTrainedTokenizerFast"},
                      {"model_max_length", c.max_position_embeddings},
                      {"clean_up_tokenization_spaces", false}};
  const auto name = [&](const char* key, int id) {
    if (id >= 0 && tok.token_of.count(id)) t[key] = tok.token_of.at(id);
  };
  name("bos_token", c.bos_token_id);
  if (!c.eos_token_ids.empty()) name("eos_token", c.eos_token_ids[0]);
  name("pad_token", c.pad_token_id);
  return t;
}

// The id of tokenizer_config.json's pad_token ("<pad>" or {"content": "<pad>", ...}), or -1.
int pad_id_of(const nlohmann::json& tokenizer_config, const TokenizerIds& tok) {
  if (!tokenizer_config.is_object() || !tokenizer_config.contains("pad_token")) return -1;
  const auto& p = tokenizer_config["pad_token"];
  const nlohmann::json content = p.is_object() && p.contains("content") ? p["content"] : p;
  if (!content.is_string()) return -1;
  auto it = tok.id_of.find(content.get<std::string>());
  return it == tok.id_of.end() ? -1 : int(it->second);
}

// Where the tokenizer comes from: options.tokenizer (a directory or a tokenizer.json), else the source directory
// when it has tokenizer files. Returns the directory whose tokenizer files are copied and the tokenizer.json in it
// ("" when that directory has none), or {"", ""} when there is no tokenizer at all.
std::pair<fs::path, fs::path> tokenizer_source(const HfExportOptions& o) {
  if (!o.tokenizer.empty()) {
    const fs::path p(o.tokenizer);
    if (fs::is_regular_file(p)) return {p.parent_path(), p};
    if (!fs::is_regular_file(p / kTokenizerJson)) fail_in_file(o.tokenizer, "no tokenizer.json here (tokenizer)");
    return {p, p / kTokenizerJson};
  }
  if (o.source_dir.empty()) return {};
  const fs::path src(o.source_dir);
  for (const auto& f : hf_tokenizer_files())
    if (fs::is_regular_file(src / f))
      return {src, fs::is_regular_file(src / kTokenizerJson) ? src / kTokenizerJson : fs::path()};
  return {};
}

bool is_shard_name(const std::string& n) {
  return n.starts_with("model-") && n.ends_with(".safetensors") && n.find("-of-") != std::string::npos;
}

// The target is replaced wholesale, so it must hold nothing but a model directory's files: a directory with
// subdirectories or unknown files (a mistyped --output pointing at $HOME) is refused, not deleted.
void check_replaceable(const fs::path& target) {
  if (!fs::exists(target)) return;
  if (!fs::is_directory(target)) fail_in_file(target.string(), "exists and is not a directory");
  const auto& tok = hf_tokenizer_files();
  const bool has_config = fs::is_regular_file(target / "config.json");
  for (const auto& e : fs::directory_iterator(target)) {
    const std::string n = e.path().filename().string();
    if (e.is_directory())
      fail_in_file(target.string(), "holds the subdirectory '" + n +
                                        "': not a model directory, refusing to replace it (choose another path)");
    const bool known = n == "config.json" || n == kGenerationConfig || n == "model.safetensors" ||
                       n == "model.safetensors.index.json" || is_shard_name(n) ||
                       std::find(tok.begin(), tok.end(), n) != tok.end();
    if (!known && !has_config)
      fail_in_file(target.string(), "holds '" + n +
                                        "', which is not part of a model directory: refusing to replace it "
                                        "(choose another path)");
  }
}

void sync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;  // durability only: the renames themselves have succeeded
  ::fsync(fd);
  ::close(fd);
}

std::string errno_text(int err) { return std::strerror(err); }

// Puts the finished directory `tmp` at `target`. With a previous target, RENAME_EXCHANGE swaps the two in one
// step (then the old one, now at tmp, is removed); filesystems without it get two renames, with a moment in
// which only <target>.old exists.
void swap_into_place(const fs::path& tmp, const fs::path& target) {
  if (!fs::exists(target)) {
    if (::rename(tmp.c_str(), target.c_str()) != 0)
      fail_in_file(target.string(), "cannot rename the finished directory into place: " + errno_text(errno));
  } else if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) == 0) {
    std::error_code ec;  // the new directory is in place: a leftover old one is only clutter
    fs::remove_all(tmp, ec);
  } else if (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP) {
    fs::path old = target;
    old += ".old";
    fs::remove_all(old);
    if (::rename(target.c_str(), old.c_str()) != 0)
      fail_in_file(target.string(), "cannot move the previous directory aside: " + errno_text(errno));
    if (::rename(tmp.c_str(), target.c_str()) != 0) {
      const int err = errno;
      ::rename(old.c_str(), target.c_str());  // put the previous one back
      fail_in_file(target.string(), "cannot rename the finished directory into place: " + errno_text(err));
    }
    std::error_code ec;
    fs::remove_all(old, ec);
  } else {
    fail_in_file(target.string(), "cannot swap in the finished directory: " + errno_text(errno));
  }
  sync_dir(target.parent_path());
}

// Writes every file into `out` (an empty directory); returns the warnings.
std::vector<std::string> write_contents(const fs::path& out, const fs::path& target, const ModelConfig& config,
                                        const ParamLayout& layout, const float* params, const HfExportOptions& o) {
  std::vector<std::string> warnings;
  // 1. Read and check the sources before writing anything large.
  const auto [tok_dir, tok_json] = tokenizer_source(o);
  TokenizerIds tok;
  if (!tok_json.empty()) {
    tok = read_tokenizer_ids(tok_json);
    if (tok.max_id >= config.vocab_size)
      fail_in_file(tok_json.string(), "has token ids up to " + std::to_string(tok.max_id) +
                                          " but the model's vocab_size is " + std::to_string(config.vocab_size));
  }
  nlohmann::json source_gen = nullptr;
  if (!o.source_dir.empty() && fs::is_regular_file(fs::path(o.source_dir) / kGenerationConfig)) {
    const fs::path p = fs::path(o.source_dir) / kGenerationConfig;
    source_gen = read_json(p);
    if (!source_gen.is_object()) fail_in_file(p.string(), "must be a JSON object");
  }
  if (!o.generation_overrides.is_object()) throw Error("save_hf_model_dir: generation_overrides must be an object");

  // 2. Weights (the bulk, and what most often fails: a full disk).
  save_hf_weights(out.string(), layout, params, o.dtype, o.max_shard_bytes);

  // 3. Tokenizer.
  nlohmann::json tokenizer_config = nullptr;
  if (!tok_dir.empty()) {
    for (const auto& f : hf_tokenizer_files())
      if (fs::is_regular_file(tok_dir / f)) write_file_atomic((out / f).string(), read_text(tok_dir / f));
    if (!tok_json.empty() && tok_json.filename() != kTokenizerJson)  // a tokenizer.json under another name
      write_file_atomic((out / kTokenizerJson).string(), read_text(tok_json));
    if (fs::is_regular_file(tok_dir / kTokenizerConfig)) {
      tokenizer_config = read_json(tok_dir / kTokenizerConfig);
    } else if (!tok_json.empty()) {
      tokenizer_config = tokenizer_config_for(tok, config);
      write_file_atomic((out / kTokenizerConfig).string(), tokenizer_config.dump(2) + "\n");
    }
  }
  if (tok_json.empty())
    warnings.push_back(target.string() + ": no tokenizer.json (" +
                       (tok_dir.empty() ? std::string("the source has no tokenizer files")
                                        : "only " + tok_dir.string() + "'s other tokenizer files") +
                       "): AutoTokenizer.from_pretrained will not load this directory");

  // 4. Generation config: the source's, completed from the config.
  nlohmann::json gen = generation_config_for(config, source_gen, pad_id_of(tokenizer_config, tok));
  for (auto it = o.generation_overrides.begin(); it != o.generation_overrides.end(); ++it) gen[it.key()] = it.value();
  write_file_atomic((out / kGenerationConfig).string(), gen.dump(2) + "\n");

  // 5. config.json last.
  ModelConfig c = config;
  c.torch_dtype = torch_dtype_name(o.dtype);
  write_file_atomic((out / "config.json").string(), model_config_to_json(c).dump(2) + "\n");
  return warnings;
}

}  // namespace

const std::vector<std::string>& hf_tokenizer_files() {
  static const std::vector<std::string> kFiles = {
      "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
      "chat_template.jinja", "chat_template.json", "vocab.json", "merges.txt", "tokenizer.model"};
  return kFiles;
}

nlohmann::json generation_config_for(const ModelConfig& c, const nlohmann::json& source, int tokenizer_pad_id) {
  nlohmann::json g = source.is_object() ? source : nlohmann::json::object();
  const auto lacks = [&](const char* key) { return !g.contains(key) || g[key].is_null(); };
  if (lacks("bos_token_id") && c.bos_token_id >= 0) g["bos_token_id"] = c.bos_token_id;
  if (lacks("eos_token_id") && !c.eos_token_ids.empty())
    g["eos_token_id"] = c.eos_token_ids.size() == 1 ? nlohmann::json(c.eos_token_ids[0]) : nlohmann::json(c.eos_token_ids);
  const int pad = c.pad_token_id >= 0 ? c.pad_token_id : tokenizer_pad_id;
  if (lacks("pad_token_id") && pad >= 0) g["pad_token_id"] = pad;
  return g;
}

HfExportResult save_hf_model_dir(const std::string& dir, const ModelConfig& config, const ParamLayout& layout,
                                 const float* params, const HfExportOptions& options) {
  R1_CHECK(layout.total() == count_parameters(config), "the layout was not built from this config");
  if (dir.empty()) throw Error("save_hf_model_dir: empty directory name");
  fs::path target = fs::absolute(fs::path(dir)).lexically_normal();
  if (target.filename().empty()) target = target.parent_path();  // "out/" -> "out"
  check_replaceable(target);
  fs::path tmp = target;
  tmp += ".tmp";
  try {
    fs::create_directories(target.parent_path());
    fs::remove_all(tmp);  // a leftover of an interrupted write
    fs::create_directory(tmp);
  } catch (const fs::filesystem_error& e) {
    fail_in_file(tmp.string(), std::string("cannot create the directory: ") + e.code().message());
  }
  HfExportResult result;
  try {
    result.warnings = write_contents(tmp, target, config, layout, params, options);
    swap_into_place(tmp, target);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  for (const auto& e : fs::directory_iterator(target)) result.files.push_back(e.path().filename().string());
  std::sort(result.files.begin(), result.files.end());
  for (const auto& w : result.warnings) log::warn(w);
  return result;
}

}  // namespace r1
