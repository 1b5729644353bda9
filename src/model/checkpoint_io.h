// Hugging Face checkpoint directories: config.json + model.safetensors, or shards listed by
// model.safetensors.index.json ({"weight_map": {tensor: shard file}}). Loading is exact about the state dict:
// every parameter of the layout must be present with its shape, and nothing unexpected may be left over (that
// would mean the config describes a different model), except buffers that carry no parameters. Saving writes a
// directory transformers' from_pretrained loads, each file atomically.
#pragma once
#include <cstdint>
#include <string>

#include "core/dtype.h"
#include "model/config.h"
#include "model/param_layout.h"

namespace r1 {

// Fills params (layout.total() floats) from the directory's safetensors, converting BF16/F16 to float32. Like
// transformers, a single model.safetensors is preferred over a sharded index when both are present. Errors name
// the file and the tensor: missing, wrong shape, unexpected, or an index that disagrees with its shards.
void load_hf_weights(const std::string& model_dir, const ParamLayout& layout, float* params);

// Writes model.safetensors (tensors stored as `dtype`, metadata format=pt) and then config.json (torch_dtype set
// to match) into dir, created if needed. config.json last: a directory with a config.json is a complete one.
void save_hf_checkpoint(const std::string& dir, const ModelConfig& config, const ParamLayout& layout,
                        const float* params, DType dtype = DType::F32);

// Initial weights as transformers' _init_weights: normal(0, 0.02) for embeddings and matrices, ones for RMSNorm
// gains, zeros for biases. Tensor i draws from Philox stream 1000 + i, so values do not depend on the thread
// count, and adding a tensor never shifts the others.
void init_params(const ModelConfig& config, const ParamLayout& layout, float* params, uint64_t seed);

// True when dir holds a config.json (a model directory rather than a built-in model name).
bool is_model_dir(const std::string& dir);

}  // namespace r1
