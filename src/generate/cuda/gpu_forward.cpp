#include "generate/cuda/gpu_forward.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "backend/cpu/ops.h"
#include "backend/cuda/check.h"
#include "backend/cuda/ops.h"
#include "core/error.h"
#include "model/transformer.h"

namespace r1::gen {

using cuda::bf16;

namespace {

size_t align16(size_t n) { return (n + 15) / 16 * 16; }

// Smallest power of two >= B, capped at max_rows: the graph buckets.
int bucket_rows(int B, int max_rows) {
  int b = 1;
  while (b < B) b <<= 1;
  return std::min(b, max_rows);
}

int num_sms() {
  int dev = 0, n = 0;
  R1_CUDA_CHECK("gpu engine", cudaGetDevice(&dev));
  R1_CUDA_CHECK("gpu engine", cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev));
  return n;
}

}  // namespace

GpuForward::GpuForward(const ModelConfig& config, const bf16* weights, cuda::Context& ctx)
    : c_(config), layout_(config), w_(weights), ctx_(ctx) {
  R1_CHECK(weights != nullptr, "GpuForward needs device weights");
  if (c_.head_dim != 64 && c_.head_dim != 128)
    throw Error("gpu engine: head_dim " + std::to_string(c_.head_dim) + " is not supported (64, 128)");
  auto at = [&](int64_t off) { return off >= 0 ? weights + off : nullptr; };
  for (int l = 0; l < c_.num_hidden_layers; l++) {
    const auto& L = layout_.layer(l);
    layers_.push_back({at(L.input_norm), at(L.q_w), at(L.q_b), at(L.k_w), at(L.k_b), at(L.v_w), at(L.v_b),
                       at(L.o_w), at(L.post_norm), at(L.gate_w), at(L.up_w), at(L.down_w), at(L.o_b),
                       at(L.gate_b), at(L.up_b), at(L.down_b)});
  }
  embed_ = at(layout_.embed), final_norm_ = at(layout_.final_norm), lm_head_ = at(layout_.lm_head);
  // The CPU's RoPE tables, so both backends rotate by the same angles.
  const size_t n = size_t(c_.max_position_embeddings) * size_t(c_.head_dim / 2);
  std::vector<float> cs(n), sn(n);
  cpu::rope_tables(cs.data(), sn.data(), c_.max_position_embeddings, c_.head_dim, c_.rope_theta, rope_scaling_of(c_));
  rope_cos_.allocate(n, "rope cos table");
  rope_sin_.allocate(n, "rope sin table");
  R1_CUDA_CHECK("gpu engine", cudaMemcpy(rope_cos_.get(), cs.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  R1_CUDA_CHECK("gpu engine", cudaMemcpy(rope_sin_.get(), sn.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  for (StepBuffers& set : sets_) {
    R1_CUDA_CHECK("gpu engine: step events", cudaEventCreate(&set.start));
    R1_CUDA_CHECK("gpu engine: step events", cudaEventCreate(&set.end));
  }
}

GpuForward::~GpuForward() {
  drop_graphs();
  cudaStreamSynchronize(ctx_.stream());  // no step may still write the buffers freed here
  for (StepBuffers& set : sets_) {
    if (set.hin) cudaFreeHost(set.hin);
    if (set.hout) cudaFreeHost(set.hout);
    if (set.start) cudaEventDestroy(set.start);
    if (set.end) cudaEventDestroy(set.end);
  }
}

void GpuForward::drop_graphs() {
  for (auto& [rows, g] : graphs_) cudaGraphExecDestroy(g);
  graphs_.clear();
  warmed_.clear();
}

size_t GpuForward::page_bytes(int page_size) const {
  return size_t(2) * c_.num_hidden_layers * size_t(page_size) * c_.num_key_value_heads * c_.head_dim * sizeof(bf16);
}

void GpuForward::configure(int num_pages, int page_size, int max_rows, int max_len) {
  const int C = c_.hidden_size, F = c_.intermediate_size, D = c_.head_dim, V = c_.vocab_size;
  const int QD = c_.num_attention_heads * D, KVD = c_.num_key_value_heads * D;
  const int max_pages_per_seq = (max_len + page_size - 1) / page_size;
  const bool pool_same = num_pages == num_pages_ && page_size == page_size_;
  const bool rows_same = max_rows == max_rows_ && max_len == max_len_ && max_pages_per_seq == max_pages_per_seq_;
  if (pool_same && rows_same) return;
  ctx_.synchronize("gpu engine: configure");
  in_flight_.clear();
  drop_graphs();
  if (!pool_same) {
    num_pages_ = num_pages, page_size_ = page_size;
    pool_elems_ = int64_t(num_pages + 1) * page_size * KVD;  // + the dummy page of padding rows
    pools_.allocate(size_t(2 * c_.num_hidden_layers) * size_t(pool_elems_), "KV cache pool");
  }
  if (rows_same) return;
  max_rows_ = max_rows, max_len_ = max_len, max_pages_per_seq_ = max_pages_per_seq;
  const size_t R = size_t(max_rows);
  prompt_logits_.allocate(R * V, "prompt logits");
  dx_.allocate(R * C, "decode x"), dn_.allocate(R * C, "decode norm"), dtmp_.allocate(R * C, "decode tmp");
  dq_.allocate(R * QD, "decode q"), datt_.allocate(R * QD, "decode attention");
  dk_.allocate(R * KVD, "decode k"), dv_.allocate(R * KVD, "decode v");
  dgate_.allocate(R * F, "decode gate"), dup_.allocate(R * F, "decode up");
  dgate_up_.allocate(R * 2 * F, "decode gate|up");
  drstd_.allocate(R, "decode rstd"), dlogits_.allocate(R * V, "decode logits");
  int64_t work = 1;
  const int sms = num_sms();
  for (int b = 1;; b <<= 1) {
    const int rows = std::min(b, max_rows);
    const auto plan = cuda::plan_decode_attention(rows, c_.num_key_value_heads, max_len, sms);
    work = std::max(work, cuda::decode_attention_workspace_floats(rows, c_.num_attention_heads, D, plan.splits));
    if (rows == max_rows) break;
  }
  dwork_.allocate(size_t(work), "decode attention workspace");

  // Input block: tokens, source rows, positions, slots, lens, indptr, indices (+1 dummy page per padding row),
  // params, u.
  size_t off = align16(R * 4);
  off_src_ = off, off += align16(R * 4);
  off_pos_ = off, off += align16(R * 4);
  off_slot_ = off, off += align16(R * 4);
  off_len_ = off, off += align16(R * 4);
  off_indptr_ = off, off += align16((R + 1) * 4);
  off_indices_ = off, off += align16(R * size_t(max_pages_per_seq + 1) * 4);
  off_params_ = off, off += align16(R * sizeof(cuda::RowSampling));
  off_u_ = off, off += align16(R * sizeof(double));
  in_bytes_ = off;
  for (StepBuffers& set : sets_) {
    set.din.allocate(in_bytes_, "decode inputs");
    if (set.hin) cudaFreeHost(set.hin);
    set.hin = nullptr;
    R1_CUDA_CHECK("gpu engine", cudaMallocHost(reinterpret_cast<void**>(&set.hin), in_bytes_));
    set.dout.allocate(R * 12, "decode outputs");
    if (set.hout) cudaFreeHost(set.hout);
    set.hout = nullptr;
    R1_CUDA_CHECK("gpu engine", cudaMallocHost(reinterpret_cast<void**>(&set.hout), R * 12));
    // A first step's source rows may name rows of the other set: its tokens start as valid ids.
    R1_CUDA_CHECK("gpu engine", cudaMemsetAsync(set.dout.get(), 0, R * 12, ctx_.stream()));
  }
  dfirst_.allocate(R * 12 + align16(R * 4) + align16(R * sizeof(cuda::RowSampling)) + R * sizeof(double),
                   "first-token sampling");
}

void GpuForward::copy_pages(const std::vector<std::pair<int32_t, int32_t>>& pairs) {
  if (pairs.empty()) return;
  std::vector<int32_t> idx(pairs.size() * 2);
  for (size_t i = 0; i < pairs.size(); i++) idx[i] = pairs[i].first, idx[pairs.size() + i] = pairs[i].second;
  // Synchronous upload from pageable memory: the buffer is reused right after.
  auto* d = static_cast<int32_t*>(ctx_.scratch(idx.size() * sizeof(int32_t)));
  R1_CUDA_CHECK("kv copy-on-write",
                cudaMemcpyAsync(d, idx.data(), idx.size() * sizeof(int32_t), cudaMemcpyHostToDevice, ctx_.stream()));
  cuda::kv_copy_pages(ctx_, pools_.get(), pool_elems_, 2 * c_.num_hidden_layers, d, d + pairs.size(),
                      int(pairs.size()), page_size_ * c_.num_key_value_heads * c_.head_dim);
  ctx_.synchronize("kv copy-on-write");
}

void GpuForward::reserve_prefill(int T, int n) {
  if (T <= prefill_T_ && n <= prefill_n_) return;
  T = std::max(T, prefill_T_), n = std::max(n, prefill_n_);
  const size_t C = c_.hidden_size, F = c_.intermediate_size, D = c_.head_dim;
  const size_t QD = c_.num_attention_heads * D, KVD = c_.num_key_value_heads * D, t = size_t(T);
  ctx_.synchronize("gpu engine: prefill buffers");
  px_.allocate(t * C, "prefill x"), pn_.allocate(t * C, "prefill norm"), ptmp_.allocate(t * C, "prefill tmp");
  pq_.allocate(t * QD, "prefill q"), patt_.allocate(t * QD, "prefill attention");
  pk_.allocate(t * KVD, "prefill k"), pv_.allocate(t * KVD, "prefill v");
  ph_.allocate(t * F, "prefill swiglu"), pgate_up_.allocate(t * 2 * F, "prefill gate|up");
  prstd_.allocate(t, "prefill rstd"), plse_.allocate(t * c_.num_attention_heads, "prefill lse");
  plogits_.allocate(size_t(n) * c_.vocab_size, "prefill logits");
  pints_.allocate(3 * t + 2 * size_t(n) + 1, "prefill indices");
  prefill_T_ = T, prefill_n_ = n;
}

// gate_proj and up_proj back to back in the weight buffer (ParamLayout does that when there is no MLP bias): one
// [2F, C] product (one launch, twice the columns to spread over the SMs), then SwiGLU over the two halves of a row.
bool GpuForward::gate_up_adjacent(const Layer& w) const {
  return !w.gate_b && !w.up_b && w.up_w == w.gate_w + int64_t(c_.intermediate_size) * c_.hidden_size;
}

// Prefill's attention output projection and MLP; x += both, n = the norm that follows (the next layer's input
// norm, or none after the last layer, whose rows are gathered first). add_rmsnorm is bitwise add_inplace +
// rmsnorm_forward.
void GpuForward::layer_rest(const Layer& w, const bf16* next_norm, int T, bf16* x, bf16* n, bf16* att, bf16* tmp,
                            bf16* h, bf16* gate_up, float* rstd) {
  const int C = c_.hidden_size, F = c_.intermediate_size, QD = c_.num_attention_heads * c_.head_dim;
  const float eps = c_.rms_norm_eps;
  cuda::linear_forward(ctx_, tmp, att, w.o_w, w.o_b, T, QD, C);
  cuda::add_rmsnorm(ctx_, x, tmp, n, rstd, w.post_norm, T, C, eps);
  if (gate_up_adjacent(w)) {
    cuda::linear_forward(ctx_, gate_up, n, w.gate_w, nullptr, T, C, 2 * F);
    cuda::decode_swiglu_rows(ctx_, h, gate_up, T, F);
  } else {
    cuda::linear_forward(ctx_, h, n, w.gate_w, w.gate_b, T, C, F);
    cuda::linear_forward(ctx_, gate_up, n, w.up_w, w.up_b, T, C, F);
    cuda::swiglu_forward(ctx_, h, h, gate_up, int64_t(T) * F);  // elementwise: in place is safe
  }
  cuda::linear_forward(ctx_, tmp, h, w.down_w, w.down_b, T, F, C);
  if (next_norm) cuda::add_rmsnorm(ctx_, x, tmp, n, rstd, next_norm, T, C, eps);
  else cuda::add_inplace(ctx_, x, tmp, int64_t(T) * C);
}

void GpuForward::prefill(const std::vector<int32_t>& tokens, const std::vector<int32_t>& cu_seqlens,
                         const std::vector<int32_t>& slots, const std::vector<int32_t>& out_rows) {
  const int T = int(tokens.size()), n = int(cu_seqlens.size()) - 1;
  R1_CHECK(n > 0 && cu_seqlens[size_t(n)] == T && int(slots.size()) == T && int(out_rows.size()) == n,
           "gpu prefill batch shape");
  reserve_prefill(T, n);
  const int C = c_.hidden_size, Hq = c_.num_attention_heads, Hkv = c_.num_key_value_heads, D = c_.head_dim;
  // Host ints: tokens, positions, slots, cu_seqlens, last rows.
  std::vector<int32_t> ints(3 * size_t(T) + 2 * size_t(n) + 1);
  int max_len = 0;
  for (int b = 0; b < n; b++) {
    const int begin = cu_seqlens[size_t(b)], len = cu_seqlens[size_t(b) + 1] - begin;
    max_len = std::max(max_len, len);
    for (int i = 0; i < len; i++) ints[size_t(T + begin + i)] = i;
    ints[size_t(3 * T + n + 1 + b)] = begin + len - 1;
  }
  std::copy(tokens.begin(), tokens.end(), ints.begin());
  std::copy(slots.begin(), slots.end(), ints.begin() + 2 * T);
  std::copy(cu_seqlens.begin(), cu_seqlens.end(), ints.begin() + 3 * T);
  int32_t* d = pints_.get();
  R1_CUDA_CHECK("gpu prefill", cudaMemcpyAsync(d, ints.data(), ints.size() * sizeof(int32_t), cudaMemcpyHostToDevice,
                                               ctx_.stream()));
  const int32_t *ids = d, *pos = d + T, *slot = d + 2 * T, *cu = d + 3 * T, *last = d + 3 * T + n + 1;

  cuda::embedding_forward(ctx_, px_.get(), ids, embed_, T, C);
  cuda::rmsnorm_forward(ctx_, pn_.get(), prstd_.get(), px_.get(), layers_[0].input_norm, T, C, c_.rms_norm_eps);
  for (int l = 0; l < c_.num_hidden_layers; l++) {
    const Layer& w = layers_[size_t(l)];
    cuda::linear_forward(ctx_, pq_.get(), pn_.get(), w.q_w, w.q_b, T, C, Hq * D);
    cuda::linear_forward(ctx_, pk_.get(), pn_.get(), w.k_w, w.k_b, T, C, Hkv * D);
    cuda::linear_forward(ctx_, pv_.get(), pn_.get(), w.v_w, w.v_b, T, C, Hkv * D);
    cuda::rope_forward_qk(ctx_, pq_.get(), pk_.get(), pos, rope_cos_.get(), rope_sin_.get(), T, Hq, Hkv, D);
    cuda::kv_write(ctx_, k_pool(l), v_pool(l), pk_.get(), pv_.get(), slot, T, Hkv * D);
    cuda::attention_forward(ctx_, patt_.get(), plse_.get(), pq_.get(), pk_.get(), pv_.get(), cu, n, T, Hq, Hkv, D,
                            max_len);
    const bf16* next_norm = l + 1 < c_.num_hidden_layers ? layers_[size_t(l) + 1].input_norm : nullptr;
    layer_rest(w, next_norm, T, px_.get(), pn_.get(), patt_.get(), ptmp_.get(), ph_.get(), pgate_up_.get(),
               prstd_.get());
  }
  cuda::gather_rows(ctx_, ptmp_.get(), px_.get(), last, n, C);
  cuda::rmsnorm_forward(ctx_, pn_.get(), prstd_.get(), ptmp_.get(), final_norm_, n, C, c_.rms_norm_eps);
  cuda::lm_head_logits(ctx_, plogits_.get(), pn_.get(), lm_head_, n, C, c_.vocab_size);
  const size_t row_bytes = size_t(c_.vocab_size) * sizeof(float);
  for (int b = 0; b < n; b++)
    R1_CUDA_CHECK("gpu prefill",
                  cudaMemcpyAsync(prompt_logits_.get() + size_t(out_rows[size_t(b)]) * c_.vocab_size,
                                  plogits_.get() + size_t(b) * c_.vocab_size, row_bytes, cudaMemcpyDeviceToDevice,
                                  ctx_.stream()));
  ctx_.synchronize("gpu prefill");  // `ints` is pageable host memory still being read
}

void GpuForward::sample_prompt_rows(const std::vector<int32_t>& logit_rows, const std::vector<cuda::RowSampling>& params,
                                    const std::vector<double>& u, SampledRows* out) {
  const int B = int(logit_rows.size());
  if (B == 0) return;
  R1_CHECK(B <= max_rows_, "first-token batch larger than max_slots");
  const size_t R = size_t(max_rows_);
  unsigned char* base = dfirst_.get();
  auto* tok = reinterpret_cast<int32_t*>(base);
  auto* lp = reinterpret_cast<float*>(base + R * 4);
  auto* slp = reinterpret_cast<float*>(base + R * 8);
  auto* rows = reinterpret_cast<int32_t*>(base + R * 12);
  auto* prm = reinterpret_cast<cuda::RowSampling*>(base + R * 12 + align16(R * 4));
  auto* du = reinterpret_cast<double*>(base + R * 12 + align16(R * 4) + align16(R * sizeof(cuda::RowSampling)));
  const auto s = ctx_.stream();
  R1_CUDA_CHECK("first tokens", cudaMemcpyAsync(rows, logit_rows.data(), size_t(B) * 4, cudaMemcpyHostToDevice, s));
  R1_CUDA_CHECK("first tokens", cudaMemcpyAsync(prm, params.data(), size_t(B) * sizeof(cuda::RowSampling),
                                                cudaMemcpyHostToDevice, s));
  R1_CUDA_CHECK("first tokens", cudaMemcpyAsync(du, u.data(), size_t(B) * sizeof(double), cudaMemcpyHostToDevice, s));
  cuda::sample_tokens(ctx_, tok, lp, slp, prompt_logits_.get(), rows, prm, du, B, c_.vocab_size);
  out->token.resize(size_t(B)), out->logprob.resize(size_t(B)), out->sampling_logprob.resize(size_t(B));
  R1_CUDA_CHECK("first tokens", cudaMemcpyAsync(out->token.data(), tok, size_t(B) * 4, cudaMemcpyDeviceToHost, s));
  R1_CUDA_CHECK("first tokens", cudaMemcpyAsync(out->logprob.data(), lp, size_t(B) * 4, cudaMemcpyDeviceToHost, s));
  R1_CUDA_CHECK("first tokens",
                cudaMemcpyAsync(out->sampling_logprob.data(), slp, size_t(B) * 4, cudaMemcpyDeviceToHost, s));
  ctx_.synchronize("first tokens");
}

void GpuForward::decode_kernels(int Bp, int set) {
  const int C = c_.hidden_size, Hq = c_.num_attention_heads, Hkv = c_.num_key_value_heads, D = c_.head_dim;
  unsigned char* in = sets_[set].din.get();
  const auto* ids = reinterpret_cast<const int32_t*>(in);
  const auto* src = reinterpret_cast<const int32_t*>(in + off_src_);
  const auto* prev_tokens = reinterpret_cast<const int32_t*>(sets_[1 - set].dout.get());
  const auto* pos = reinterpret_cast<const int32_t*>(in + off_pos_);
  const auto* slot = reinterpret_cast<const int32_t*>(in + off_slot_);
  const auto* lens = reinterpret_cast<const int32_t*>(in + off_len_);
  const auto* indptr = reinterpret_cast<const int32_t*>(in + off_indptr_);
  const auto* indices = reinterpret_cast<const int32_t*>(in + off_indices_);
  const auto* params = reinterpret_cast<const cuda::RowSampling*>(in + off_params_);
  const auto* u = reinterpret_cast<const double*>(in + off_u_);
  static int sms = num_sms();
  const auto plan = cuda::plan_decode_attention(Bp, Hkv, max_len_, sms);

  // Fused where it saves launches (the same formulas and rounding points): RoPE + cache write (into the q/k/v
  // product's epilogue when our kernel computes it), and every residual add with the RMSNorm that follows it (the
  // next layer's input norm, or the final norm).
  const int F = c_.intermediate_size, QD = Hq * D;
  const float eps = c_.rms_norm_eps;
  cuda::decode_embedding(ctx_, dx_.get(), ids, src, prev_tokens, embed_, Bp, C);
  cuda::rmsnorm_forward(ctx_, dn_.get(), drstd_.get(), dx_.get(), layers_[0].input_norm, Bp, C, eps);
  for (int l = 0; l < c_.num_hidden_layers; l++) {
    const Layer& w = layers_[size_t(l)];
    const cuda::DecodeProduct qkv[3] = {{w.q_w, w.q_b, dq_.get(), Hq * D}, {w.k_w, w.k_b, dk_.get(), Hkv * D},
                                        {w.v_w, w.v_b, dv_.get(), Hkv * D}};
    const cuda::DecodeRopeEpilogue rope{pos, slot, rope_cos_.get(), rope_sin_.get(), k_pool(l), v_pool(l), Hkv, D};
    cuda::decode_qkv_rope(ctx_, dn_.get(), Bp, C, qkv, rope, Hq, D);
    cuda::paged_decode_attention(ctx_, datt_.get(), nullptr, dq_.get(), k_pool(l), v_pool(l), indptr, indices, lens,
                                 Bp, Hq, Hkv, D, page_size_, plan, dwork_.get());
    cuda::decode_linears(ctx_, datt_.get(), Bp, QD, {{w.o_w, w.o_b, dtmp_.get(), C}});
    cuda::add_rmsnorm(ctx_, dx_.get(), dtmp_.get(), dn_.get(), drstd_.get(), w.post_norm, Bp, C, eps);
    if (gate_up_adjacent(w)) {
      cuda::decode_linears(ctx_, dn_.get(), Bp, C, {{w.gate_w, nullptr, dgate_up_.get(), 2 * F}});
      cuda::decode_swiglu_rows(ctx_, dgate_.get(), dgate_up_.get(), Bp, F);
    } else {
      cuda::decode_linears(ctx_, dn_.get(), Bp, C,
                           {{w.gate_w, w.gate_b, dgate_.get(), F}, {w.up_w, w.up_b, dup_.get(), F}});
      cuda::swiglu_forward(ctx_, dgate_.get(), dgate_.get(), dup_.get(), int64_t(Bp) * F);
    }
    cuda::decode_linears(ctx_, dgate_.get(), Bp, F, {{w.down_w, w.down_b, dtmp_.get(), C}});
    const bf16* next_norm = l + 1 < c_.num_hidden_layers ? layers_[size_t(l) + 1].input_norm : final_norm_;
    cuda::add_rmsnorm(ctx_, dx_.get(), dtmp_.get(), dn_.get(), drstd_.get(), next_norm, Bp, C, eps);
  }
  cuda::decode_lm_head(ctx_, dlogits_.get(), dn_.get(), lm_head_, Bp, C, c_.vocab_size);
  unsigned char* o = sets_[set].dout.get();
  const size_t R = size_t(max_rows_);
  cuda::sample_tokens(ctx_, reinterpret_cast<int32_t*>(o), reinterpret_cast<float*>(o + R * 4),
                      reinterpret_cast<float*>(o + R * 8), dlogits_.get(), nullptr, params, u, Bp, c_.vocab_size);
}

void GpuForward::launch_decode(const DecodeInputs& in) {
  const int B = int(in.tokens.size());
  R1_CHECK(B > 0 && B <= max_rows_, "decode batch larger than max_slots");
  R1_CHECK(in.source_rows.size() == size_t(B), "decode inputs: one source row per row");
  R1_CHECK(in_flight_.size() < 2, "decode: finish a step before launching a third");
  const int set = next_set_;
  StepBuffers& sb = sets_[set];
  const int Bp = bucket_rows(B, max_rows_);
  const size_t R = size_t(max_rows_);
  // Stage the inputs, padding rows Bp > B with a greedy row that writes and reads the dummy page. The set's last
  // upload has finished: its step was finished (waited for) before this launch.
  unsigned char* h = sb.hin;
  auto* tok = reinterpret_cast<int32_t*>(h);
  auto* src = reinterpret_cast<int32_t*>(h + off_src_);
  auto* pos = reinterpret_cast<int32_t*>(h + off_pos_);
  auto* slot = reinterpret_cast<int32_t*>(h + off_slot_);
  auto* len = reinterpret_cast<int32_t*>(h + off_len_);
  auto* indptr = reinterpret_cast<int32_t*>(h + off_indptr_);
  auto* indices = reinterpret_cast<int32_t*>(h + off_indices_);
  auto* prm = reinterpret_cast<cuda::RowSampling*>(h + off_params_);
  auto* u = reinterpret_cast<double*>(h + off_u_);
  R1_CHECK(in.indices.size() <= R * size_t(max_pages_per_seq_), "decode page table larger than planned");
  std::memcpy(tok, in.tokens.data(), size_t(B) * 4);
  std::memcpy(src, in.source_rows.data(), size_t(B) * 4);
  std::memcpy(pos, in.positions.data(), size_t(B) * 4);
  std::memcpy(slot, in.slots.data(), size_t(B) * 4);
  std::memcpy(len, in.lens.data(), size_t(B) * 4);
  std::memcpy(indptr, in.indptr.data(), size_t(B + 1) * 4);
  std::memcpy(indices, in.indices.data(), in.indices.size() * 4);
  std::memcpy(prm, in.params.data(), size_t(B) * sizeof(cuda::RowSampling));
  std::memcpy(u, in.uniforms.data(), size_t(B) * sizeof(double));
  int next = int(in.indices.size());
  for (int b = B; b < Bp; b++) {
    tok[b] = 0, src[b] = -1, pos[b] = 0, slot[b] = num_pages_ * page_size_, len[b] = 1;
    indices[next++] = num_pages_;
    indptr[b + 1] = next;
    prm[b] = cuda::RowSampling{0.0f, 0, 1.0f, 0};
    u[b] = 0.0;
  }
  const auto s = ctx_.stream();
  R1_CUDA_CHECK("decode step", cudaEventRecord(sb.start, s));
  R1_CUDA_CHECK("decode step", cudaMemcpyAsync(sb.din.get(), h, in_bytes_, cudaMemcpyHostToDevice, s));

  const bool graphs = use_graphs_ && s != nullptr;  // the legacy default stream cannot be captured
  const int key = 2 * Bp + set;
  auto it = graphs_.find(key);
  if (it != graphs_.end()) {
    R1_CUDA_CHECK("decode step", cudaGraphLaunch(it->second, s));
  } else {
    decode_kernels(Bp, set);
    if (graphs && warmed_[key]) {
      // Second use of this bucket and set: capture it (the eager run above already did this step's work).
      cudaGraph_t graph = nullptr;
      R1_CUDA_CHECK("decode graph", cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
      try {
        decode_kernels(Bp, set);
      } catch (...) {
        cudaStreamEndCapture(s, &graph);
        if (graph) cudaGraphDestroy(graph);
        throw;
      }
      R1_CUDA_CHECK("decode graph", cudaStreamEndCapture(s, &graph));
      cudaGraphExec_t exec = nullptr;
      R1_CUDA_CHECK("decode graph", cudaGraphInstantiate(&exec, graph, 0));
      cudaGraphDestroy(graph);
      graphs_[key] = exec;
    }
    warmed_[key] = true;
  }
  R1_CUDA_CHECK("decode step", cudaMemcpyAsync(sb.hout, sb.dout.get(), R * 12, cudaMemcpyDeviceToHost, s));
  R1_CUDA_CHECK("decode step", cudaEventRecord(sb.end, s));
  sb.rows = B;
  in_flight_.push_back(set);
  next_set_ = 1 - set;
}

void GpuForward::finish_decode(SampledRows* out) {
  R1_CHECK(!in_flight_.empty(), "decode: no step in flight");
  StepBuffers& sb = sets_[in_flight_.front()];
  in_flight_.erase(in_flight_.begin());
  R1_CUDA_CHECK("decode step", cudaEventSynchronize(sb.end));
  float ms = 0;
  R1_CUDA_CHECK("decode step", cudaEventElapsedTime(&ms, sb.start, sb.end));
  last_device_s_ = 1e-3 * double(ms);
  const size_t R = size_t(max_rows_), B = size_t(sb.rows);
  const unsigned char* h = sb.hout;
  out->token.assign(reinterpret_cast<const int32_t*>(h), reinterpret_cast<const int32_t*>(h) + B);
  out->logprob.assign(reinterpret_cast<const float*>(h + R * 4), reinterpret_cast<const float*>(h + R * 4) + B);
  out->sampling_logprob.assign(reinterpret_cast<const float*>(h + R * 8),
                               reinterpret_cast<const float*>(h + R * 8) + B);
}

void GpuForward::drop_decode_steps() {
  if (in_flight_.empty()) return;
  ctx_.synchronize("decode step");
  in_flight_.clear();
}

}  // namespace r1::gen
