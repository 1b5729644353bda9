// Hugging Face checkpoint directories: config.json + model.safetensors (or shards with
// model.safetensors.index.json). Loading checks that every parameter of the layout is present with its
// shape and that nothing unexpected is left over; saving writes a directory transformers can load.
#pragma once
#include <cstdint>
#include <string>

#include "core/dtype.h"
#include "model/config.h"
#include "model/param_layout.h"

namespace r1 {

// Fills params (layout.total() floats) from the directory's safetensors (single file or sharded index).
void load_hf_weights(const std::string& model_dir, const ParamLayout& layout, float* params);
// Writes config.json and model.safetensors into dir (created if needed), each atomically.
void save_hf_checkpoint(const std::string& dir, const ModelConfig& config, const ParamLayout& layout,
                        const float* params, DType dtype = DType::F32);
// Initial weights: normal(0, 0.02) matrices and embeddings, ones for norms, zeros for biases (Philox seed).
void init_params(const ModelConfig& config, const ParamLayout& layout, float* params, uint64_t seed);

// True when dir holds a config.json.
bool is_model_dir(const std::string& dir);

}  // namespace r1
