// The engine factory registry: the CPU engine is built in, GPU backends register theirs.
#include "generate/rollout_engine.h"

#include <string>

#include "core/device_registry.h"
#include "core/error.h"
#include "generate/engine.h"
#include "model/transformer.h"

namespace r1::gen {

namespace {

DeviceRegistry<EngineFactory>& registry() {
  static DeviceRegistry<EngineFactory> r;
  return r;
}

}  // namespace

void register_engine_factory(Device device, EngineFactory factory) { registry().set(device, std::move(factory)); }

std::unique_ptr<RolloutEngine> make_engine(TrainableModel& model, const EngineOptions& options) {
  if (model.device() == Device::CPU) {
    auto* cpu = dynamic_cast<Transformer*>(&model);
    if (!cpu) throw Error("make_engine: a CPU model that is not a Transformer");
    return std::make_unique<Engine>(*cpu, options);
  }
  const EngineFactory factory = registry().find(model.device());
  if (!factory)
    throw Error(std::string("no rollout engine for device '") + device_name(model.device()) +
                "' in this build (the CUDA backend needs nvcc at build time: cmake --preset cuda)");
  return factory(model, options);
}

}  // namespace r1::gen
