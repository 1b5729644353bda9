// `r1 info`: what a model is and what it will cost — family, parameters, and the memory plan for training at a
// given batch shape (weights, gradients, AdamW moments, activations, the LM head's chunk scratch).
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "core/arena.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/gpu_memory_plan.h"
#include "model/transformer.h"

namespace r1::cli {

namespace {


struct InfoArgs {
  std::string model = "tiny";
  int batch = 8, seq_len = 1024, head_chunk = 256;
};

void run_info(const InfoArgs& a) {
  const bool dir = is_model_dir(a.model);
  const ModelConfig c = dir ? load_model_config(a.model + "/config.json") : builtin_model_config(a.model);
  const int64_t n = count_parameters(c);
  std::printf("model        %s (%s)\n", a.model.c_str(), dir ? "Hugging Face directory" : "built-in");
  std::printf("family       %s%s%s\n", c.model_type.c_str(), c.attention_bias ? ", q/k/v bias" : "",
              c.tie_word_embeddings ? ", tied embeddings" : "");
  std::printf("shape        %d layers, hidden %d, ffn %d, %d heads / %d kv heads of %d, vocab %d, context %d\n",
              c.num_hidden_layers, c.hidden_size, c.intermediate_size, c.num_attention_heads, c.num_key_value_heads,
              c.head_dim, c.vocab_size, c.max_position_embeddings);
  std::printf("rope         theta %g%s\n", c.rope_theta, c.rope_scaling.type.empty() ? "" : ", llama3 scaling");
  std::printf("parameters   %lld (%.2f M)\n", (long long)n, n / 1e6);
  const int tokens = a.batch * a.seq_len;
  const double w = double(n) * 4;
  const double acts = double(Transformer::activation_bytes(c, tokens, a.head_chunk));
  std::printf("memory plan  float32 CPU training, %d x %d = %d tokens per step:\n", a.batch, a.seq_len, tokens);
  std::printf("  weights            %12s\n", format_bytes(w).c_str());
  std::printf("  gradients          %12s\n", format_bytes(w).c_str());
  std::printf("  AdamW moments      %12s\n", format_bytes(2 * w).c_str());
  std::printf("  activations        %12s  (incl. LM-head chunk of %d x %d logits: %s)\n", format_bytes(acts).c_str(),
              a.head_chunk, c.vocab_size, format_bytes(double(a.head_chunk) * c.vocab_size * 4).c_str());
  std::printf("  total              %12s  (full [tokens x vocab] logits would add %s)\n",
              format_bytes(4 * w + acts).c_str(), format_bytes(double(tokens) * c.vocab_size * 4).c_str());
  // The CUDA model's plan (what CudaTransformer allocates, with its default LM-head chunk).
  const GpuTrainingMemory g = gpu_training_memory(c, tokens, kDefaultGpuHeadChunk);
  std::printf("memory plan  CUDA training (bf16 compute, float32 master weights and AdamW), same batch:\n");
  std::printf("  weights            %12s  (float32 master %s + bf16 working copy %s)\n",
              format_bytes(double(g.master_weights + g.working_weights)).c_str(),
              format_bytes(double(g.master_weights)).c_str(), format_bytes(double(g.working_weights)).c_str());
  std::printf("  gradients          %12s\n", format_bytes(double(g.gradients)).c_str());
  std::printf("  AdamW moments      %12s\n", format_bytes(double(g.moments)).c_str());
  std::printf("  activations        %12s  (bf16; + LM-head chunk of %d x %d logits: %s)\n",
              format_bytes(double(g.activations)).c_str(), std::min(kDefaultGpuHeadChunk, tokens), c.vocab_size,
              format_bytes(double(g.head_scratch)).c_str());
  std::printf("  total              %12s  (+ the CUDA context, ~0.5 GB)\n", format_bytes(double(g.total())).c_str());
  // Saving each layer's SwiGLU product skips its recompute in the backward; the model does it while the whole
  // total stays within half the GPU's memory.
  const GpuTrainingMemory s = gpu_training_memory(c, tokens, kDefaultGpuHeadChunk, /*save_swiglu=*/true);
  std::printf("  with SwiGLU saved  %12s  (done on GPUs of %s or more; the backward then skips its recompute)\n",
              format_bytes(double(s.total())).c_str(), format_bytes(2.0 * double(s.total())).c_str());
}

}  // namespace

void register_info(CLI::App& app) {
  auto a = std::make_shared<InfoArgs>();
  auto* cmd = app.add_subcommand("info", "Describe a model: family, parameter count, memory plan");
  cmd->add_option("model", a->model, "Hugging Face model directory or built-in name (tiny, small, qwen2.5-0.5b)")
      ->capture_default_str();
  cmd->add_option("--batch", a->batch, "Sequences per step for the memory plan")->capture_default_str();
  cmd->add_option("--seq-len", a->seq_len, "Tokens per sequence for the memory plan")->capture_default_str();
  cmd->add_option("--head-chunk", a->head_chunk, "Tokens per LM-head chunk")->capture_default_str();
  cmd->callback([a] { run_info(*a); });
}

}  // namespace r1::cli
