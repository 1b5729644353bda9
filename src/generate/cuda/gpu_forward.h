// The GPU engine's model forward over the paged KV cache in GPU memory, reading a bf16 weight buffer laid out by
// ParamLayout in place (a trainer may update it between calls). The same structure as gen::ModelRunner:
//
//   prefill  prompts packed into one batch through the training kernels (cuda::attention_forward, causal within
//            each prompt); each layer's post-RoPE K/V go into the prompts' pages; the logits of each prompt's
//            last token land in rows of a device buffer that the samples' first draws read.
//   decode   one token per sequence: embedding, per layer norm / q,k,v / RoPE / K,V into its slot / paged decode
//            attention / o_proj / MLP, final norm, LM head, fused sampling. The whole step is one CUDA graph per
//            batch-size bucket (powers of two up to max_slots; padding rows decode a dummy page greedily), captured
//            after one eager run of that bucket and replayed afterwards, so a step costs one launch. Steps are
//            double-buffered: the host launches step s + 1 before it reads step s's tokens (the next step takes
//            them from the device), so its bookkeeping overlaps the device's work.
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
// source_rows[b] >= 0: row b's input token is what the previously launched step sampled for its row
// source_rows[b] (still on the device); -1: tokens[b].
struct DecodeInputs {
  std::vector<int32_t> tokens, source_rows, positions, slots, lens, indptr{0}, indices;
  std::vector<cuda::RowSampling> params;
  std::vector<double> uniforms;
  void clear() {
    tokens.clear(), source_rows.clear(), positions.clear(), slots.clear(), lens.clear(), indices.clear(), params.clear(), uniforms.clear();
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
  // Enqueues one decode step for in.tokens.size() sequences without waiting for it. At most two steps are in
  // flight: launch step s + 1, then finish_decode() step s.
  void launch_decode(const DecodeInputs& in);
  // Waits for the oldest launched step and returns its sampled tokens.
  void finish_decode(SampledRows* out);
  // Waits for every launched step and forgets them (a generate() that threw midway may leave one behind).
  void drop_decode_steps();
  // Device time of the last finished step from its input upload to its output download, in seconds.
  double last_decode_device_seconds() const { return last_device_s_; }

 private:
  struct Layer {
    const __nv_bfloat16 *input_norm, *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *post_norm, *gate_w, *up_w, *down_w;
    const __nv_bfloat16 *o_b, *gate_b, *up_b, *down_b;  // Llama attention_bias / mlp_bias; null when absent
  };
  // The decode step's kernels for Bp rows of buffer set `set` (inputs already on the device): what a graph
  // captures.
  void decode_kernels(int Bp, int set);
  void reserve_prefill(int T, int n);
  bool gate_up_adjacent(const Layer& w) const;
  void layer_rest(const Layer& w, const __nv_bfloat16* next_norm, int T, __nv_bfloat16* x, __nv_bfloat16* n,
                  __nv_bfloat16* att, __nv_bfloat16* tmp, __nv_bfloat16* h, __nv_bfloat16* gate_up, float* rstd);
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
  // One step's inputs (one device block mirrored by pinned host memory, uploaded with one copy) and outputs
  // (token, logprob, sampling_logprob per row). Two sets: step s uses set s % 2 and reads its input tokens from
  // the other set's outputs.
  struct StepBuffers {
    cuda::DeviceBuffer<unsigned char> din, dout;
    unsigned char *hin = nullptr, *hout = nullptr;
    cudaEvent_t start = nullptr, end = nullptr;  // around upload .. download
    int rows = 0;
  };
  StepBuffers sets_[2];
  int next_set_ = 0;
  std::vector<int> in_flight_;  // sets of launched, unfinished steps, oldest first
  size_t in_bytes_ = 0, off_src_ = 0, off_pos_ = 0, off_slot_ = 0, off_len_ = 0, off_indptr_ = 0, off_indices_ = 0,
         off_params_ = 0, off_u_ = 0;
  std::map<int, cudaGraphExec_t> graphs_;  // 2 * bucket rows + set -> captured step
  std::map<int, bool> warmed_;             // keys that ran eagerly once
  double last_device_s_ = 0;
  void drop_graphs();

  // Prefill buffers (grown on demand; never captured).
  int prefill_T_ = 0, prefill_n_ = 0;
  cuda::DeviceBuffer<__nv_bfloat16> px_, pn_, pq_, pk_, pv_, patt_, ptmp_, ph_, pgate_up_;
  cuda::DeviceBuffer<float> prstd_, plse_, plogits_;
  cuda::DeviceBuffer<int32_t> pints_;  // tokens, positions, slots, cu_seqlens, last rows
  // First-token sampling buffers.
  cuda::DeviceBuffer<unsigned char> dfirst_;
};

}  // namespace r1::gen
