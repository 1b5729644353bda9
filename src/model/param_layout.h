// ParamLayout: ONE table describing every parameter of a model — HF name, shape, offset into the flat buffer,
// kind, whether weight decay applies — generated from the config, so there are no parallel hand-kept lists.
// Parameters, gradients and optimizer moments are flat float buffers laid out by this table, so an all-reduce, a
// fused AdamW, an initialisation or a checkpoint is one loop over it. Tensors are packed back to back in HF order
// (embeddings, layer 0..L-1, final norm, untied lm_head); total() equals count_parameters(config).
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/tensor.h"
#include "model/config.h"

namespace r1 {

enum class ParamKind : uint8_t {
  Embedding,  // token embeddings [V, H] (also the output head when tied)
  Matrix,     // projection weights and an untied lm_head
  Norm,       // RMSNorm gains
  Bias,       // projection biases (q/k/v; o and MLP for Llama with attention_bias / mlp_bias)
};

struct ParamInfo {
  std::string hf_name;
  Shape shape;
  int64_t offset = 0;         // in floats, into the flat buffer
  bool weight_decay = false;  // matrices and embeddings yes, norms and biases no
  ParamKind kind = ParamKind::Matrix;
  int64_t numel() const { return shape.numel(); }
};

class ParamLayout {
 public:
  // Float offsets of one decoder block's tensors; biases are -1 when the model has none. q/k/v biases: Qwen2, or
  // Llama with attention_bias; o_b: Llama with attention_bias; gate_b/up_b/down_b: Llama with mlp_bias.
  struct Layer {
    int64_t input_norm, q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b = -1, post_norm, gate_w, gate_b = -1, up_w, up_b = -1,
                                                           down_w, down_b = -1;
  };
  explicit ParamLayout(const ModelConfig& config);

  int64_t total() const { return total_; }
  const std::vector<ParamInfo>& params() const { return params_; }
  // The parameter named hf_name; r1::Error naming it when the model has none.
  const ParamInfo& get(const std::string& hf_name) const;
  const ParamInfo* find(const std::string& hf_name) const;  // nullptr when absent
  bool has(const std::string& hf_name) const { return find(hf_name) != nullptr; }
  int num_layers() const { return int(layers_.size()); }
  const Layer& layer(int i) const;
  bool tied() const { return lm_head == embed; }

  int64_t embed = 0, final_norm = 0, lm_head = 0;  // lm_head == embed when the embeddings are tied

 private:
  int64_t add(const std::string& name, Shape shape, ParamKind kind);
  std::vector<ParamInfo> params_;
  std::unordered_map<std::string, size_t> index_;
  std::vector<Layer> layers_;
  int64_t total_ = 0;
};

}  // namespace r1
