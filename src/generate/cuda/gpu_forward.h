// The GPU engine's model forward over the paged KV cache in GPU memory, reading a bf16 weight buffer laid out by
// ParamLayout in place (a trainer may update it between calls). The same structure as gen::ModelRunner:
//
//   prefill  prompts packed into one batch through the training kernels (cuda::attention_forward, causal within
//            each prompt); each layer's post-RoPE K/V go into the prompts' pages; the logits of each prompt's
//            last token land in rows of a device buffer that the samples' first draws read.
//   decode   one token per sequence: embedding, per layer norm / q,k,v / RoPE / K,V into its slot / paged decode
//            attention / o_proj / MLP, final norm, LM head, fused sampling. The whole step is one CUDA graph per
//            batch-size bucket (powers of two up to max_slots; padding rows decode a dummy page greedily), captured
//            after one eager run of that bucket and replayed afterwards, so a step costs one launch.
#pragma once
#include <cuda_bf16.h>

#include <cstdint>
#include <map>
#include <vector>

#include "backend/cuda/context.h"
#include "backend/cuda/decode_ops.h"
#include "backend/cuda/device_buffer.h"
#include "model/config.h"
#include "model/param_layout.h"

namespace r1::gen {

// Host view of one decode step (B rows) before it is uploaded.
struct DecodeInputs {
  std::vector<int32_t> tokens, positions, slots, lens, indptr{0}, indices;
  std::vector<cuda::RowSampling> params;
  std::vector<double> uniforms;
  void clear() {
    tokens.clear(), positions.clear(), slots.clear(), lens.clear(), indices.clear(), params.clear(), uniforms.clear();
    indptr.assign(1, 0);
  }
};

struct SampledRows {
  std::vector<int32_t> token;
  std::vector<float> logprob, sampling_logprob;
};

class GpuForward {
 public:
  GpuForward(const ModelConfig& config, const __nv_bfloat16* weights, cuda::Context& ctx);
  ~GpuForward();

  const ModelConfig& config() const { return c_; }
  // Bytes of one KV page across all layers, K and V.
  size_t page_bytes(int page_size) const;
  // (Re)allocates the pool for num_pages pages (+1 dummy page that padding rows write) and sizes the decode
  // buffers for up to max_rows sequences of up to max_len tokens. Drops captured graphs when anything moved.
  void configure(int num_pages, int page_size, int max_rows, int max_len);
  void set_use_graphs(bool on) { use_graphs_ = on; }

  // Copy-on-write page copies, enqueued before the next write.
  void copy_pages(const std::vector<std::pair<int32_t, int32_t>>& pairs);
  // tokens: prompts concatenated, cu_seqlens[n+1]; slots: each prompt token's pool slot; logits of prompt i go
  // to row out_rows[i] of prompt_logits() (device, [max_rows, V]).
  void prefill(const std::vector<int32_t>& tokens, const std::vector<int32_t>& cu_seqlens,
               const std::vector<int32_t>& slots, const std::vector<int32_t>& out_rows);
  float* prompt_logits() const { return prompt_logits_.get(); }
  // First tokens of new samples: row b samples prompt_logits() row logit_rows[b] with params[b] and u[b].
  void sample_prompt_rows(const std::vector<int32_t>& logit_rows, const std::vector<cuda::RowSampling>& params,
                          const std::vector<double>& u, SampledRows* out);
  // One decode step for in.tokens.size() sequences; synchronizes and returns the sampled tokens.
  void decode(const DecodeInputs& in, SampledRows* out);

 private:
  struct Layer {
    const __nv_bfloat16 *input_norm, *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *post_norm, *gate_w, *up_w, *down_w;
    const __nv_bfloat16 *o_b, *gate_b, *up_b, *down_b;  // Llama attention_bias / mlp_bias; null when absent
  };
  // The decode step's kernels for Bp rows (inputs already on the device): what a graph captures.
  void decode_kernels(int Bp);
  void reserve_prefill(int T, int n);
  void layer_rest(const Layer& w, int T, __nv_bfloat16* x, __nv_bfloat16* n, __nv_bfloat16* att,
                  __nv_bfloat16* tmp, __nv_bfloat16* gate, __nv_bfloat16* up, float* rstd);
  __nv_bfloat16* k_pool(int l) const { return pools_.get() + int64_t(2 * l) * pool_elems_; }
  __nv_bfloat16* v_pool(int l) const { return pools_.get() + int64_t(2 * l + 1) * pool_elems_; }

  ModelConfig c_;
  ParamLayout layout_;
  const __nv_bfloat16* w_;
  cuda::Context& ctx_;
  std::vector<Layer> layers_;
  const __nv_bfloat16 *embed_, *final_norm_, *lm_head_;
  cuda::DeviceBuffer<float> rope_cos_, rope_sin_;
  bool use_graphs_ = true;

  // KV pool: [2 * layers][num_pages + 1][page_size][Hkv][D].
  int num_pages_ = 0, page_size_ = 0, max_rows_ = 0, max_len_ = 0, max_pages_per_seq_ = 0;
  int64_t pool_elems_ = 0;
  cuda::DeviceBuffer<__nv_bfloat16> pools_;
  cuda::DeviceBuffer<float> prompt_logits_;

  // Decode buffers for max_rows_ rows (fixed addresses: graphs bake them in).
  cuda::DecodeAttentionPlan plan_;
  cuda::DeviceBuffer<__nv_bfloat16> dx_, dn_, dq_, dk_, dv_, datt_, dtmp_, dgate_, dup_, dgate_up_;
  cuda::DeviceBuffer<float> drstd_, dlogits_, dwork_;
  // Inputs: one device block mirrored by pinned host memory, uploaded with one copy per step.
  cuda::DeviceBuffer<unsigned char> din_;
  unsigned char* hin_ = nullptr;
  size_t in_bytes_ = 0, off_pos_ = 0, off_slot_ = 0, off_len_ = 0, off_indptr_ = 0, off_indices_ = 0,
         off_params_ = 0, off_u_ = 0;
  // Outputs: token, logprob, sampling_logprob per row.
  cuda::DeviceBuffer<unsigned char> dout_;
  unsigned char* hout_ = nullptr;
  std::map<int, cudaGraphExec_t> graphs_;  // bucket rows -> captured step
  std::map<int, bool> warmed_;             // buckets that ran eagerly once
  void drop_graphs();

  // Prefill buffers (grown on demand; never captured).
  int prefill_T_ = 0, prefill_n_ = 0;
  cuda::DeviceBuffer<__nv_bfloat16> px_, pn_, pq_, pk_, pv_, patt_, ptmp_, pgate_, pup_;
  cuda::DeviceBuffer<float> prstd_, plse_, plogits_;
  cuda::DeviceBuffer<int32_t> pints_;  // tokens, positions, slots, cu_seqlens, last rows
  // First-token sampling buffers.
  cuda::DeviceBuffer<unsigned char> dfirst_;
};

}  // namespace r1::gen
