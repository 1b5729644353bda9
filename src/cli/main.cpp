#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "core/error.h"
#if R1_WITH_CUDA
#include "generate/cuda/cuda_backend.h"
#endif
#if R1_WITH_NCCL
#include "train/cuda/nccl_communicator.h"
#endif

int main(int argc, char** argv) {
#if R1_WITH_CUDA
  r1::cuda::register_cuda_backend();  // device: cuda in every job
#endif
#if R1_WITH_NCCL
  r1::cuda::register_nccl_communicator();  // data parallel over GPUs (RANK/WORLD_SIZE set by the launcher)
#endif
  CLI::App app{"r1 — DeepSeek-R1-style reasoning training in C++ (GRPO, SFT, distillation, evaluation)"};
  app.require_subcommand(1);
  r1::cli::register_info(app);
  r1::cli::register_pretrain(app);
  r1::cli::register_grpo(app);
  r1::cli::register_tokenize(app);
  r1::cli::register_sample(app);
  r1::cli::register_reward(app);
  r1::cli::register_convert(app);
  r1::cli::register_debug_forward(app);
  r1::cli::register_sft(app);
  r1::cli::register_rejection_sample(app);
  r1::cli::register_eval(app);
  r1::cli::register_pipeline(app);
  r1::cli::register_launch(app);
  r1::cli::register_distill(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const r1::Error& e) {
    std::fprintf(stderr, "r1: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "r1: unexpected error: %s\n", e.what());
    return 2;
  }
  return 0;
}
