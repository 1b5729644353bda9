#include "generate/cuda/cuda_backend.h"

#include <memory>

#include "core/error.h"
#include "generate/cuda/gpu_engine.h"
#include "model/cuda/cuda_transformer.h"

namespace r1::cuda {

void register_cuda_backend() {
  register_cuda_model();
  gen::register_engine_factory(Device::CUDA, [](TrainableModel& model, const gen::EngineOptions& options)
                                                 -> std::unique_ptr<gen::RolloutEngine> {
    auto* gpu = dynamic_cast<CudaTransformer*>(&model);
    if (!gpu) throw Error("make_engine: a CUDA model that is not a CudaTransformer");
    // The engine shares the model's stream (and Context): generation sees every optimizer update in order.
    return std::make_unique<gen::GpuEngine>(gpu->config(), gpu->weights_bf16(), options, &gpu->context());
  });
}

}  // namespace r1::cuda
