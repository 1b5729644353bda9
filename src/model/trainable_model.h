// TrainableModel: what every job (pretrain, SFT, GRPO, eval, rollouts) needs from a model, whatever device holds
// it. The CPU Transformer is the float32 reference implementation; the CUDA implementation (src/model/cuda/) keeps
// bf16 working weights, float32 master weights, gradients and AdamW moments in GPU memory.
//
// Parameters, gradients and moments are flat float32 buffers laid out by ParamLayout on the model's device, so
// the optimizer, gradient all-reduce / reduce-scatter (ZeRO-1 shards are [begin, end) ranges) and checkpointing
// are loops over one table, identical on every device. The host sees the parameters through host_params(): on
// the CPU that IS the live buffer; on a GPU it is a mirror that pull_params() refreshes and push_params() uploads.
//
// Devices register a factory (register_model_factory); a build without nvcc has only the CPU one, and asking for
// another names what is missing. The CLI registers the CUDA backend at startup when it was compiled in.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/tensor.h"  // Device
#include "model/config.h"
#include "model/packed_batch.h"
#include "model/param_layout.h"

namespace r1 {

class Config;
class ConfigSchema;

// "cpu" / "cuda"; anything else is an r1::Error naming `where` (a config field or option).
Device parse_device(const std::string& name, const std::string& where);
const char* device_name(Device d);
// Declares a job's `threads` (CPU threads, 0: auto) and `device` (default cpu) keys; `device_help` says what
// runs there.
void add_device_keys(ConfigSchema& schema, const std::string& device_help);
// The job's `device` key, parsed (errors name the config file and the field).
Device job_device(const Config& config);

// Hyper-parameters of one AdamW update (decoupled decay, 1-based step for bias correction). grad_scale multiplies
// the gradients first (clipping by global norm is fused into the update that way).
struct AdamWUpdate {
  float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f, weight_decay = 0.0f;
  int64_t step = 1;
  float grad_scale = 1.0f;
};

class TrainableModel {
 public:
  virtual ~TrainableModel() = default;

  virtual Device device() const = 0;
  virtual const ModelConfig& config() const = 0;
  virtual const ParamLayout& layout() const = 0;
  int64_t num_params() const { return layout().total(); }

  // ---- parameters as the host sees them ----
  virtual float* host_params() = 0;
  virtual const float* host_params() const = 0;
  virtual void push_params() {}  // host_params() -> device (after loading or initialising weights)
  virtual void pull_params() {}  // device -> host_params() (before saving a checkpoint)

  // ---- flat buffers on the model's device (device pointers for CUDA), for collectives ----
  virtual float* device_params() = 0;
  virtual float* device_grads() = 0;

  // ---- training forward / backward over packed batches (host-side inputs and outputs) ----
  // Prepares activations for batches of up to max_tokens tokens (optional: forward grows them).
  virtual void reserve(int max_tokens) = 0;
  virtual void zero_grads() = 0;
  virtual void forward(const PackedBatch& batch) = 0;
  // Per-token log p(target) and entropy (entropy may be null) at the inverse temperature; [T] host arrays.
  virtual void head_forward(const PackedBatch& batch, float* logprob, float* entropy, float inv_temperature = 1.0f) = 0;
  // Backward from d(loss)/d(logprob[t]) and optionally d(loss)/d(entropy[t]); accumulates into the gradients.
  virtual void backward(const PackedBatch& batch, const float* dlogprob, const float* dentropy,
                        float inv_temperature = 1.0f) = 0;
  // Mean next-token cross-entropy over the batch's targets (+ its gradients accumulated when train is set).
  virtual double cross_entropy_step(const PackedBatch& batch, bool train) = 0;

  // ---- optimizer primitives over [begin, end) of the flat buffers (whole tensors or a ZeRO-1 shard) ----
  // Sum of squared gradients, in double.
  virtual double grad_sum_squares(int64_t begin, int64_t end) = 0;
  // Allocates zeroed AdamW moments for [begin, end) (the only range adamw() may touch afterwards).
  virtual void init_optimizer_state(int64_t begin, int64_t end) = 0;
  // One AdamW update of [begin, end); weight decay applies where ParamLayout says so. Devices that keep a
  // low-precision working copy refresh it for the range.
  virtual void adamw(const AdamWUpdate& u, int64_t begin, int64_t end) = 0;
  // Host copies of the moments of [begin, end) (checkpoints), and back.
  virtual void read_optimizer_state(float* m, float* v, int64_t begin, int64_t end) const = 0;
  virtual void write_optimizer_state(const float* m, const float* v, int64_t begin, int64_t end) = 0;
  // After device_params() was written by someone else (an all-gather of ZeRO-1 shards): refresh derived copies.
  virtual void device_params_changed(int64_t begin, int64_t end) {}

  // ---- memory reports (ZeRO-1's saving shows in both) ----
  // Bytes of the AdamW moments this model holds (this rank's shard).
  virtual size_t optimizer_state_bytes() const = 0;
  // Bytes in use on the model's device, as the driver counts them (the CUDA context, the allocator's pools and
  // communication buffers included: what a user sees in nvidia-smi); 0 where the device has no such count (CPU).
  virtual size_t device_bytes_in_use() const { return 0; }
};

// Token ids inside the vocabulary, positions below max_position_embeddings, well-formed cu_seqlens: r1::Error
// naming the offending position otherwise. Every model checks its batch with this before any work.
void validate_batch(const ModelConfig& config, const PackedBatch& batch);

using ModelFactory = std::function<std::unique_ptr<TrainableModel>(const ModelConfig&)>;
void register_model_factory(Device device, ModelFactory factory);
// A model with freshly allocated (zero) parameters on `device`; r1::Error when this build lacks that device.
std::unique_ptr<TrainableModel> make_model(const ModelConfig& config, Device device);
// make_model + the weights of the Hugging Face directory model_dir (its config.json's model), on the device.
std::unique_ptr<TrainableModel> load_model(const std::string& model_dir, Device device);
// Replaces model's weights with those of model_dir (a checkpoint of the same shape).
void reload_weights(TrainableModel& model, const std::string& model_dir);

}  // namespace r1
