// Hugging Face checkpoint directories: config.json + model.safetensors, or shards listed by
// model.safetensors.index.json ({"weight_map": {tensor: shard file}}). Loading is exact about the state dict:
// every parameter of the layout must be present with its shape, and nothing unexpected may be left over (that
// would mean the config describes a different model), except buffers that carry no parameters. Saving writes a
// directory transformers' from_pretrained loads, each file atomically.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "model/config.h"
#include "model/param_layout.h"

namespace r1 {

// Fills params (layout.total() floats) from the directory's safetensors, converting BF16/F16 to float32. Like
// transformers, a single model.safetensors is preferred over a sharded index when both are present. Errors name
// the file and the tensor: missing, wrong shape, unexpected, or an index that disagrees with its shards.
void load_hf_weights(const std::string& model_dir, const ParamLayout& layout, float* params);

// transformers' default max_shard_size ("5GB" = 5e9 bytes): larger weights are split into shards.
constexpr int64_t kDefaultMaxShardBytes = 5'000'000'000;

// Writes the weights into the existing directory dir, tensors stored as `dtype` (metadata format=pt): one
// model.safetensors when they fit in max_shard_bytes, else model-0000i-of-0000n.safetensors in state-dict order
// (a tensor larger than the limit gets a shard of its own) plus model.safetensors.index.json. Returns the file
// names written. Each file is atomic; the set is not (save_hf_model_dir makes the directory atomic).
std::vector<std::string> save_hf_weights(const std::string& dir, const ParamLayout& layout, const float* params,
                                         DType dtype, int64_t max_shard_bytes = kDefaultMaxShardBytes);

// config.json's torch_dtype for stored weights: "float32" | "bfloat16" | "float16".
std::string torch_dtype_name(DType dtype);

// Writes model.safetensors (tensors stored as `dtype`, metadata format=pt) and then config.json (torch_dtype set
// to match) into dir, created if needed. config.json last: a directory with a config.json is a complete one.
// Weights and config only: save_hf_model_dir (model/hf_export.h) writes a complete, atomic model directory.
void save_hf_checkpoint(const std::string& dir, const ModelConfig& config, const ParamLayout& layout,
                        const float* params, DType dtype = DType::F32);

// Initial weights as transformers' _init_weights: normal(0, 0.02) for embeddings and matrices, ones for RMSNorm
// gains, zeros for biases. Tensor i draws from Philox stream 1000 + i, so values do not depend on the thread
// count, and adding a tensor never shifts the others.
void init_params(const ModelConfig& config, const ParamLayout& layout, float* params, uint64_t seed);

// True when dir holds a config.json (a model directory rather than a built-in model name).
bool is_model_dir(const std::string& dir);

}  // namespace r1
