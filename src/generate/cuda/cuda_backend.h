// Registers the CUDA model (make_model(config, Device::CUDA)) and the GPU rollout engine (make_engine on a CUDA
// model) with the device registries. Programs built with the CUDA backend call it once at startup (the r1 CLI
// does); without it, asking for device cuda is an error that says the backend is missing.
#pragma once

namespace r1::cuda {

void register_cuda_backend();

}  // namespace r1::cuda
