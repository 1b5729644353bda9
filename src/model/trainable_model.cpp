// Device names and the model factory registry (the CPU factory is built in; GPU backends register theirs).
#include "model/trainable_model.h"

#include <string>

#include "core/config.h"
#include "core/device_registry.h"
#include "core/error.h"
#include "model/checkpoint_io.h"
#include "model/transformer.h"

namespace r1 {

Device parse_device(const std::string& name, const std::string& where) {
  if (name == "cpu") return Device::CPU;
  if (name == "cuda" || name == "gpu") return Device::CUDA;
  throw Error(where + ": unknown device '" + name + "' (expected cpu or cuda)");
}

const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

void add_device_keys(ConfigSchema& s, const std::string& device_help) {
  s.add("threads", ConfigType::Int, 0, "CPU threads (0: auto — 1 for tiny models)").at_least(0);
  s.add("device", ConfigType::String, "cpu", device_help + ": cpu or cuda");
}

Device job_device(const Config& config) {
  return parse_device(config.get_string("device"), config.source() + ": field 'device'");
}

void validate_batch(const ModelConfig& c, const PackedBatch& batch) {
  const int T = batch.num_tokens();
  if (batch.positions.size() != size_t(T) || batch.targets.size() != size_t(T) || batch.cu_seqlens.empty() ||
      batch.cu_seqlens.front() != 0 || batch.cu_seqlens.back() != T)
    throw Error("packed batch: tokens, positions, targets and cu_seqlens disagree (" + std::to_string(T) + " tokens)");
  for (size_t b = 1; b < batch.cu_seqlens.size(); b++)
    if (batch.cu_seqlens[b] < batch.cu_seqlens[b - 1]) throw Error("packed batch: cu_seqlens decreases at " + std::to_string(b));
  for (int t = 0; t < T; t++) {
    if (batch.tokens[t] < 0 || batch.tokens[t] >= c.vocab_size)
      throw Error("token id " + std::to_string(batch.tokens[t]) + " at position " + std::to_string(t) +
                  " is outside the vocabulary (size " + std::to_string(c.vocab_size) + ")");
    if (batch.positions[t] < 0 || batch.positions[t] >= c.max_position_embeddings)
      throw Error("position " + std::to_string(batch.positions[t]) + " exceeds max_position_embeddings " +
                  std::to_string(c.max_position_embeddings));
    if (batch.targets[t] >= c.vocab_size)
      throw Error("target id " + std::to_string(batch.targets[t]) + " at position " + std::to_string(t) +
                  " is outside the vocabulary (size " + std::to_string(c.vocab_size) + ")");
  }
}

namespace {

DeviceRegistry<ModelFactory>& registry() {
  static DeviceRegistry<ModelFactory> r;
  return r;
}

}  // namespace

void register_model_factory(Device device, ModelFactory factory) { registry().set(device, std::move(factory)); }

std::unique_ptr<TrainableModel> make_model(const ModelConfig& config, Device device) {
  if (device == Device::CPU) return std::make_unique<Transformer>(config);
  const ModelFactory factory = registry().find(device);
  if (!factory)
    throw Error(std::string("device '") + device_name(device) +
                "' is not available: this r1 was built without its backend (the CUDA backend needs nvcc at build "
                "time: cmake --preset cuda)");
  return factory(config);
}

std::unique_ptr<TrainableModel> load_model(const std::string& model_dir, Device device) {
  auto model = make_model(load_model_config(model_dir + "/config.json"), device);
  reload_weights(*model, model_dir);
  return model;
}

void reload_weights(TrainableModel& model, const std::string& model_dir) {
  load_hf_weights(model_dir, model.layout(), model.host_params());
  model.push_params();
}

}  // namespace r1
