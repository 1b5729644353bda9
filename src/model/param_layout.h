// ParamLayout: ONE table describing every parameter of a model — HF name, shape, offset into the flat buffer,
// whether weight decay applies — generated from the config. Parameters, gradients and optimizer moments are
// flat buffers laid out by this table, so an all-reduce, a fused AdamW or a checkpoint is one loop over it.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/tensor.h"
#include "model/config.h"

namespace r1 {

struct ParamInfo {
  std::string hf_name;
  Shape shape;
  int64_t offset = 0;  // in floats
  bool weight_decay = false;
};

class ParamLayout {
 public:
  struct Layer {
    int64_t input_norm, q_w, q_b, k_w, k_b, v_w, v_b, o_w, post_norm, gate_w, up_w, down_w;  // biases -1 if absent
  };
  explicit ParamLayout(const ModelConfig& config);

  int64_t total() const { return total_; }
  const std::vector<ParamInfo>& params() const { return params_; }
  const ParamInfo& get(const std::string& hf_name) const;  // throws r1::Error naming the tensor
  bool has(const std::string& hf_name) const { return index_.count(hf_name) > 0; }
  const Layer& layer(int i) const { return layers_[size_t(i)]; }

  int64_t embed = 0, final_norm = 0, lm_head = 0;  // lm_head == embed when the embeddings are tied

 private:
  int64_t add(const std::string& name, Shape shape, bool decay);
  std::vector<ParamInfo> params_;
  std::unordered_map<std::string, size_t> index_;
  std::vector<Layer> layers_;
  int64_t total_ = 0;
};

}  // namespace r1
