// Decode throughput of the rollout engine on the CPU: tokens/s against batch size (1, 4, 16, 64) for the
// built-in tiny and small configs with random weights. Beside ours, the reference: the same generation
// without a KV cache (a full training forward over every sequence at each step), and the ratio.
//
//   decode_bench [--configs tiny,small] [--batches 1,4,16,64] [--prompt 32] [--new 32] [--reference-max-batch 16]
//
// "decode tok/s" counts only decode steps (model + sampling); "e2e tok/s" includes prefill and scheduling.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "backend/cpu/ops.h"
#include "core/arena.h"
#include "core/rng.h"
#include "generate/engine.h"
#include "generate/sampler.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/transformer.h"

namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::vector<int32_t> prompt_of(int len, uint64_t seed, int vocab) {
  r1::Philox rng(seed, 0);
  std::vector<int32_t> p(static_cast<size_t>(len));
  for (auto& t : p) t = int32_t(rng.below(uint64_t(vocab)));
  return p;
}

// Generation without a KV cache: every step runs the training forward over the whole of every sequence and
// samples each sequence's next token from its last row. Returns generated tokens per second.
double reference_tokens_per_second(r1::Transformer& m, const std::vector<std::vector<int32_t>>& prompts, int steps) {
  const int C = m.config().hidden_size, V = m.config().vocab_size;
  std::vector<std::vector<int32_t>> seqs = prompts;
  std::vector<float> logits(V);
  r1::gen::Sampler sampler;
  r1::gen::SamplingParams params;
  const auto t0 = Clock::now();
  for (int s = 0; s < steps; s++) {
    r1::PackedBatch batch;
    for (const auto& q : seqs) batch.add_sequence(q);
    m.forward(batch);
    for (size_t b = 0; b < seqs.size(); b++) {
      const int row = batch.cu_seqlens[b + 1] - 1;
      r1::cpu::lm_head_logits(logits.data(), m.hidden() + size_t(row) * C, m.params() + m.layout().lm_head, 1, C, V);
      seqs[b].push_back(sampler.sample(logits.data(), V, params, r1::gen::sampling_uniform(1, b, uint64_t(s))).token);
    }
  }
  return double(steps) * double(seqs.size()) / std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> configs = {"tiny", "small"};
  std::vector<int> batches = {1, 4, 16, 64};
  int prompt_len = 32, new_tokens = 32, reference_max_batch = 16;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--configs") {
      configs = split(v);
    } else if (k == "--batches") {
      batches.clear();
      for (const auto& b : split(v)) batches.push_back(std::atoi(b.c_str()));
    } else if (k == "--prompt") {
      prompt_len = std::atoi(v.c_str());
    } else if (k == "--new") {
      new_tokens = std::atoi(v.c_str());
    } else if (k == "--reference-max-batch") {
      reference_max_batch = std::atoi(v.c_str());
    } else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  std::printf(
      "decode benchmark: CPU float32, %d OpenMP threads, prompt %d tokens, %d new tokens per sequence, "
      "sampling T=1\n\n",
      omp_get_max_threads(), prompt_len, new_tokens);
  std::printf(
      "| config | params | batch | decode tok/s | ms/step | e2e tok/s | no-cache ref tok/s | ratio | peak KV |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& name : configs) {
    const r1::ModelConfig c = r1::builtin_model_config(name);
    r1::Transformer m(c);
    r1::init_params(c, m.layout(), m.params(), 1);
    for (int B : batches) {
      std::vector<r1::gen::GenerationRequest> reqs(static_cast<size_t>(B));
      std::vector<std::vector<int32_t>> prompts;
      for (int b = 0; b < B; b++) {
        reqs[size_t(b)].prompt = prompt_of(prompt_len, uint64_t(b), c.vocab_size);
        reqs[size_t(b)].seed = uint64_t(b);
        reqs[size_t(b)].params.max_new_tokens = new_tokens;
        reqs[size_t(b)].params.ignore_eos = true;
        prompts.push_back(reqs[size_t(b)].prompt);
      }
      r1::gen::EngineOptions opt;
      opt.max_slots = B;
      r1::gen::Engine engine(m, opt);
      engine.generate(reqs);  // warm-up: allocates the pool and scratch
      engine.generate(reqs);
      const auto& s = engine.stats();
      const double decode_s = s.decode_seconds + s.sample_seconds;
      const double decode_tps = double(s.decode_rows) / decode_s;
      const double e2e_tps = double(s.generated_tokens) / s.total_seconds;
      std::string ref = "-", ratio = "-";
      if (B <= reference_max_batch) {
        const double r = reference_tokens_per_second(m, prompts, std::min(new_tokens, 16));
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.0f", r);
        ref = buf;
        std::snprintf(buf, sizeof buf, "%.1fx", decode_tps / r);
        ratio = buf;
      }
      std::printf("| %s | %.2fM | %d | %.0f | %.2f | %.0f | %s | %s | %s |\n", name.c_str(),
                  double(m.num_params()) / 1e6, B, decode_tps, 1e3 * decode_s / double(s.decode_steps), e2e_tps,
                  ref.c_str(), ratio.c_str(), r1::format_bytes(double(s.peak_kv_bytes)).c_str());
      std::fflush(stdout);
    }
  }
  return 0;
}
