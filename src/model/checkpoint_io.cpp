// HF checkpoint directories: resolve where each tensor lives (one file or an index of shards), check the state
// dict against the ParamLayout, then convert to float32 in parallel; save the other way round.
#include "model/checkpoint_io.h"

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/rng.h"
#include "model/safetensors.h"

namespace fs = std::filesystem;

namespace r1 {

namespace {

constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";
// Large tensors are split into chunks of this many elements so that conversion and initialisation spread over
// all threads even when one embedding matrix holds a quarter of the model.
constexpr int64_t kChunk = int64_t(1) << 18;
// Philox stream of parameter tensor i in init_params (kept stable: tests and runs rely on the values).
constexpr uint64_t kInitStreamBase = 1000;

struct Located {
  const SafetensorsFile* file;
  const SafetensorsEntry* entry;
};

// Every tensor of a checkpoint directory and the file holding it.
struct CheckpointTensors {
  std::string source;  // what errors call the checkpoint: model.safetensors or the index
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  std::map<std::string, Located> tensors;
};

// Buffers some HF exports keep that carry no parameters (older Llama exports saved RoPE's inv_freq).
bool harmless_extra(const std::string& name) { return name.find("rotary_emb.inv_freq") != std::string::npos; }

void read_single(const fs::path& file, CheckpointTensors& ck) {
  ck.source = file.string();
  ck.files.push_back(std::make_unique<SafetensorsFile>(SafetensorsFile::open(file.string())));
  for (const auto& e : ck.files.back()->entries()) ck.tensors[e.name] = {ck.files.back().get(), &e};
}

// The index maps tensor -> shard; the shards must agree with it both ways, or the index belongs to other shards.
void read_sharded(const fs::path& dir, const fs::path& index_path, CheckpointTensors& ck) {
  const std::string index = index_path.string();
  ck.source = index;
  nlohmann::json j;
  {
    std::ifstream in(index_path);
    if (!in) fail_in_file(index, "cannot open");
    try {
      j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      fail_in_file(index, std::string("invalid JSON: ") + e.what());
    }
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    fail_in_field(index, "weight_map", "missing or not an object");
  std::map<std::string, std::string> shard_of;
  std::map<std::string, const SafetensorsFile*> opened;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    const std::string field = "weight_map." + it.key();
    if (!it.value().is_string()) fail_in_field(index, field, "must be a shard file name, got " + it.value().dump());
    const std::string shard = it.value().get<std::string>();
    // Shards live beside the index: a path elsewhere is a corrupt or hostile index.
    if (shard.empty() || shard.find('/') != std::string::npos || shard == "." || shard == "..")
      fail_in_field(index, field, "shard '" + shard + "' is not a plain file name");
    if (!opened.count(shard)) {
      if (!fs::is_regular_file(dir / shard)) fail_in_field(index, field, "shard '" + shard + "' does not exist");
      ck.files.push_back(std::make_unique<SafetensorsFile>(SafetensorsFile::open((dir / shard).string())));
      opened[shard] = ck.files.back().get();
    }
    const SafetensorsFile* f = opened[shard];
    if (!f->has(it.key())) fail_in_tensor(f->path(), it.key(), "listed in " + index + " but missing from this shard");
    shard_of[it.key()] = shard;
    ck.tensors[it.key()] = {f, &f->entry(it.key())};
  }
  for (const auto& [shard, f] : opened)
    for (const auto& e : f->entries()) {
      auto it = shard_of.find(e.name);
      if (it == shard_of.end() || it->second != shard)
        fail_in_tensor(f->path(), e.name, "is in this shard but " + index + " does not list it here");
    }
}

// Philox(seed, stream).normal() drawn at position 4k — the k-th draw of a fresh generator — computed from the one
// Philox block it reads: u1 from outputs 0-1, u2 from outputs 2-3, Box-Muller as in Philox::normal. That is one
// block per value where Philox::next_u32 computes one per 32-bit output (four per value): init is 2-3x faster.
float philox_normal_at(uint64_t seed, uint64_t stream, uint64_t k) {
  const auto o = philox4x32_10({uint32_t(k), uint32_t(k >> 32), uint32_t(stream), uint32_t(stream >> 32)},
                               {uint32_t(seed), uint32_t(seed >> 32)});
  const double u1 = 1.0 - double(((uint64_t(o[0]) << 32) | o[1]) >> 11) * 0x1p-53;
  const double u2 = double(((uint64_t(o[2]) << 32) | o[3]) >> 11) * 0x1p-53;
  return float(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2));
}

struct ConvertJob {
  const uint8_t* src;
  DType dtype;
  float* dst;
  int64_t n;
};

}  // namespace

bool is_model_dir(const std::string& dir) { return fs::is_regular_file(fs::path(dir) / "config.json"); }

void load_hf_weights(const std::string& model_dir, const ParamLayout& layout, float* params) {
  const fs::path dir(model_dir);
  if (!fs::is_directory(dir)) fail_in_file(model_dir, "not a directory");
  CheckpointTensors ck;
  if (fs::exists(dir / kSingleFile))
    read_single(dir / kSingleFile, ck);
  else if (fs::exists(dir / kIndexFile))
    read_sharded(dir, dir / kIndexFile, ck);
  else if (fs::exists(dir / "pytorch_model.bin") || fs::exists(dir / "pytorch_model.bin.index.json"))
    fail_in_file(model_dir, "has only PyTorch pickle weights (pytorch_model.bin): convert them to safetensors");
  else
    fail_in_file(model_dir,
                 std::string("no ") + kSingleFile + " or " + kIndexFile + " (not a Hugging Face model directory?)");

  // 1. Every parameter present, with its shape. Report the first missing one and how many more are missing:
  // many missing tensors usually mean config.json describes a different model than the weights.
  std::vector<const ParamInfo*> missing;
  for (const auto& p : layout.params())
    if (!ck.tensors.count(p.hf_name)) missing.push_back(&p);
  if (!missing.empty())
    fail_in_tensor(ck.source, missing.front()->hf_name,
                   "missing from the checkpoint" +
                       (missing.size() > 1 ? " (with " + std::to_string(missing.size() - 1) + " more of the model's " +
                                                 std::to_string(layout.params().size()) +
                                                 " tensors: does config.json describe these weights?)"
                                           : std::string()));
  std::vector<ConvertJob> jobs;
  for (const auto& p : layout.params()) {
    const Located& at = ck.tensors.at(p.hf_name);
    if (at.entry->shape != p.shape)
      fail_in_tensor(at.file->path(), p.hf_name,
                     "shape " + at.entry->shape.to_string() + " does not match the expected " + p.shape.to_string() +
                         " (from the model config)");
    const size_t esize = dtype_size(at.entry->dtype);
    for (int64_t i = 0; i < p.numel(); i += kChunk)
      jobs.push_back({at.file->raw(*at.entry) + size_t(i) * esize, at.entry->dtype, params + p.offset + i,
                      std::min(kChunk, p.numel() - i)});
  }
  // 2. Nothing left over.
  for (const auto& [name, at] : ck.tensors) {
    if (layout.has(name) || harmless_extra(name)) continue;
    // A tied model may still ship lm_head.weight; transformers ties it to the embeddings and ignores it.
    if (name == "lm_head.weight" && layout.tied()) continue;
    fail_in_tensor(at.file->path(), name, "unexpected tensor: the model config does not describe it");
  }
  // 3. Convert, once nothing can fail any more (no exception may leave an OpenMP region).
#pragma omp parallel for schedule(dynamic)
  for (size_t j = 0; j < jobs.size(); j++) convert_to_f32(jobs[j].dtype, jobs[j].src, jobs[j].dst, size_t(jobs[j].n));
}

std::string torch_dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return "float32";
    case DType::BF16:
      return "bfloat16";
    case DType::F16:
      return "float16";
  }
  throw Error(std::string("checkpoint: weights cannot be stored as ") + dtype_name(dtype));
}

std::vector<std::string> save_hf_weights(const std::string& dir, const ParamLayout& layout, const float* params,
                                         DType dtype, int64_t max_shard_bytes) {
  R1_CHECK(max_shard_bytes > 0, "max_shard_bytes must be positive");
  // Greedy packing in state-dict order, as transformers' shard_checkpoint does: a shard closes when the next
  // tensor would push it past the limit.
  std::vector<std::vector<TensorToWrite>> shards(1);
  int64_t in_shard = 0, total = 0;
  for (const auto& p : layout.params()) {
    const int64_t bytes = p.numel() * int64_t(dtype_size(dtype));
    if (!shards.back().empty() && in_shard + bytes > max_shard_bytes) shards.emplace_back(), in_shard = 0;
    shards.back().push_back({p.hf_name, dtype, p.shape, params + p.offset});
    in_shard += bytes, total += bytes;
  }
  // transformers refuses safetensors files whose metadata lacks format=pt.
  const std::map<std::string, std::string> meta = {{"format", "pt"}};
  if (shards.size() == 1) {
    write_safetensors((fs::path(dir) / kSingleFile).string(), shards[0], meta);
    return {kSingleFile};
  }
  std::vector<std::string> names;
  nlohmann::json index = {{"metadata", {{"total_size", total}, {"total_parameters", layout.total()}}},
                          {"weight_map", nlohmann::json::object()}};
  for (size_t i = 0; i < shards.size(); i++) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
    write_safetensors((fs::path(dir) / name).string(), shards[i], meta);
    for (const auto& t : shards[i]) index["weight_map"][t.name] = name;
    names.push_back(name);
  }
  // The index last: until it exists the shards are not a checkpoint.
  write_file_atomic((fs::path(dir) / kIndexFile).string(), index.dump(2) + "\n");
  names.push_back(kIndexFile);
  return names;
}

void save_hf_checkpoint(const std::string& dir, const ModelConfig& config, const ParamLayout& layout,
                        const float* params, DType dtype) {
  R1_CHECK(layout.total() == count_parameters(config), "the layout was not built from this config");
  try {
    fs::create_directories(dir);
  } catch (const fs::filesystem_error& e) {
    fail_in_file(dir, std::string("cannot create the checkpoint directory: ") + e.code().message());
  }
  save_hf_weights(dir, layout, params, dtype);
  ModelConfig c = config;
  c.torch_dtype = torch_dtype_name(dtype);
  write_file_atomic((fs::path(dir) / "config.json").string(), model_config_to_json(c).dump(2) + "\n");
}

void init_params(const ModelConfig& config, const ParamLayout& layout, float* params, uint64_t seed) {
  R1_CHECK(layout.total() == count_parameters(config), "the layout was not built from this config");
  struct Chunk {
    size_t tensor;
    int64_t begin, n;
  };
  std::vector<Chunk> chunks;
  for (size_t i = 0; i < layout.params().size(); i++) {
    const ParamInfo& p = layout.params()[i];
    float* w = params + p.offset;
    switch (p.kind) {
      case ParamKind::Norm:
        std::fill(w, w + p.numel(), 1.0f);
        break;
      case ParamKind::Bias:
        std::fill(w, w + p.numel(), 0.0f);
        break;
      case ParamKind::Embedding:
      case ParamKind::Matrix:
        for (int64_t b = 0; b < p.numel(); b += kChunk) chunks.push_back({i, b, std::min(kChunk, p.numel() - b)});
        break;
    }
  }
  // Philox is counter-based: element k of tensor i is the k-th normal() of stream 1000 + i wherever it is
  // computed, so chunks fill in parallel with the values of one sequential pass.
#pragma omp parallel for schedule(dynamic)
  for (size_t c = 0; c < chunks.size(); c++) {
    const Chunk& ch = chunks[c];
    float* w = params + layout.params()[ch.tensor].offset + ch.begin;
    for (int64_t k = 0; k < ch.n; k++)
      w[k] = 0.02f * philox_normal_at(seed, kInitStreamBase + ch.tensor, uint64_t(ch.begin + k));
  }
}

}  // namespace r1
