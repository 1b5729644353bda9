#include "model/checkpoint_io.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/rng.h"
#include "model/safetensors.h"

namespace fs = std::filesystem;

namespace r1 {

namespace {

// Buffers HF keeps in some checkpoints that carry no parameters of ours.
bool harmless_extra(const std::string& name) { return name.find("rotary_emb.inv_freq") != std::string::npos; }

void write_text_atomic(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    if (!f) fail_in_file(tmp.string(), "cannot create");
    f << text;
    f.flush();
    if (!f) fail_in_file(path.string(), "write failed (the previous file is left intact)");
  }
  fs::rename(tmp, path);
}

}  // namespace

bool is_model_dir(const std::string& dir) { return fs::is_regular_file(fs::path(dir) / "config.json"); }

void load_hf_weights(const std::string& model_dir, const ParamLayout& layout, float* params) {
  const fs::path dir(model_dir);
  // name -> file holding it
  std::map<std::string, std::string> where;
  const fs::path index = dir / "model.safetensors.index.json";
  if (fs::exists(index)) {
    nlohmann::json j;
    try {
      std::ifstream f(index);
      j = nlohmann::json::parse(f);
    } catch (const nlohmann::json::exception& e) {
      fail_in_file(index.string(), std::string("invalid JSON: ") + e.what());
    }
    if (!j.contains("weight_map") || !j["weight_map"].is_object())
      fail_in_field(index.string(), "weight_map", "missing or not an object");
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it.value().is_string()) fail_in_field(index.string(), "weight_map." + it.key(), "must be a file name");
      where[it.key()] = (dir / it.value().get<std::string>()).string();
    }
  } else {
    const fs::path single = dir / "model.safetensors";
    if (!fs::exists(single)) fail_in_file(model_dir, "no model.safetensors or model.safetensors.index.json");
    auto f = SafetensorsFile::open(single.string());
    for (const auto& e : f.entries()) where[e.name] = single.string();
  }
  std::map<std::string, std::unique_ptr<SafetensorsFile>> files;
  auto file_of = [&](const std::string& path) -> SafetensorsFile& {
    auto& slot = files[path];
    if (!slot) slot = std::make_unique<SafetensorsFile>(SafetensorsFile::open(path));
    return *slot;
  };
  std::set<std::string> used;
  for (const auto& p : layout.params()) {
    auto it = where.find(p.hf_name);
    if (it == where.end()) fail_in_tensor(model_dir, p.hf_name, "missing from the checkpoint");
    file_of(it->second).read_f32(p.hf_name, p.shape, params + p.offset);
    used.insert(p.hf_name);
  }
  for (const auto& [name, file] : where) {
    if (used.count(name) || harmless_extra(name)) continue;
    // A tied model may still ship lm_head.weight (equal to the embeddings): accept it.
    if (name == "lm_head.weight" && layout.lm_head == layout.embed) continue;
    fail_in_tensor(file, name, "unexpected tensor: the config does not describe it");
  }
}

void save_hf_checkpoint(const std::string& dir, const ModelConfig& config, const ParamLayout& layout,
                        const float* params, DType dtype) {
  fs::create_directories(dir);
  std::vector<TensorToWrite> tensors;
  for (const auto& p : layout.params()) tensors.push_back({p.hf_name, dtype, p.shape, params + p.offset});
  write_safetensors((fs::path(dir) / "model.safetensors").string(), tensors, {{"format", "pt"}});
  ModelConfig c = config;
  c.torch_dtype = dtype == DType::F32 ? "float32" : dtype == DType::BF16 ? "bfloat16" : "float16";
  write_text_atomic(fs::path(dir) / "config.json", model_config_to_json(c).dump(2) + "\n");
}

void init_params(const ModelConfig& config, const ParamLayout& layout, float* params, uint64_t seed) {
  for (size_t i = 0; i < layout.params().size(); i++) {
    const auto& p = layout.params()[i];
    float* w = params + p.offset;
    const int64_t n = p.shape.numel();
    const bool is_norm = p.hf_name.find("norm") != std::string::npos;
    const bool is_bias = p.hf_name.size() > 5 && p.hf_name.compare(p.hf_name.size() - 5, 5, ".bias") == 0;
    if (is_norm) {
      std::fill(w, w + n, 1.0f);
    } else if (is_bias) {
      std::fill(w, w + n, 0.0f);
    } else {
      Philox rng(seed, 1000 + i);  // one stream per tensor: adding a tensor never shifts the others
      for (int64_t k = 0; k < n; k++) w[k] = 0.02f * rng.normal();
    }
  }
  (void)config;
}

}  // namespace r1
