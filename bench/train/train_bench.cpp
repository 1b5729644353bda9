// CPU training throughput: forward + backward (+ AdamW) tokens/s and GFLOP/s of the float32 reference engine for
// the built-in configs. Model FLOPs per token: 6 * (non-embedding parameters + vocab * hidden for the head)
// + 6 * layers * hidden * context (causal attention: QK^T and PV, forward and backward, half the square).
//   bench_train_bench [--configs tiny,small] [--batch 4] [--seq 256] [--iters 5] [--threads 0]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "backend/cpu/threads.h"
#include "core/rng.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/transformer.h"
#include "train/pretrain.h"

using namespace r1;

int main(int argc, char** argv) {
  std::string configs = "tiny,small";
  int batch = 4, seq = 256, iters = 5, threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--configs") configs = argv[i + 1];
    else if (k == "--batch") batch = std::atoi(argv[i + 1]);
    else if (k == "--seq") seq = std::atoi(argv[i + 1]);
    else if (k == "--iters") iters = std::atoi(argv[i + 1]);
    else if (k == "--threads") threads = std::atoi(argv[i + 1]);
  }
  std::printf("| config | params | threads | tokens/step | fwd+bwd+AdamW ms | tokens/s | GFLOP/s |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  std::stringstream ss(configs);
  for (std::string name; std::getline(ss, name, ',');) {
    ModelConfig c = builtin_model_config(name);
    cpu::set_num_threads(threads > 0 ? threads : cpu::auto_threads(c.hidden_size));
    Transformer model(c);
    init_params(c, model.layout(), model.params(), 1);
    Optimizer opt(model, AdamWConfig{});
    PackedBatch b;
    Philox rng(2, 0);
    for (int s = 0; s < batch; s++) {
      std::vector<int32_t> t(static_cast<size_t>(seq));
      for (auto& x : t) x = int32_t(rng.below(uint64_t(c.vocab_size)));
      b.add_sequence(t);
    }
    auto step = [&] {
      model.zero_grads();
      model.cross_entropy_step(b, true);
      opt.step(1e-4f, 1.0);
    };
    step();  // warm-up: allocations, page faults
    std::vector<double> ms;
    for (int i = 0; i < iters; i++) {
      const auto t0 = std::chrono::steady_clock::now();
      step();
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    const double med = ms[ms.size() / 2];
    const double tokens = double(batch) * seq;
    const double embed = double(c.vocab_size) * c.hidden_size;
    const double n_matmul = double(count_parameters(c)) - (c.tie_word_embeddings ? 0.0 : embed);  // head counted once
    const double flops = tokens * (6.0 * n_matmul + 6.0 * c.num_hidden_layers * c.hidden_size * seq);
    std::printf("| %s | %.2fM | %d | %.0f | %.1f | %.0f | %.2f |\n", name.c_str(), count_parameters(c) / 1e6,
                cpu::num_threads(), tokens, med, tokens / (med / 1e3), flops / (med / 1e3) / 1e9);
  }
  return 0;
}
