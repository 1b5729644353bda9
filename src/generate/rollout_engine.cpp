// The engine factory registry: the CPU engine is built in, GPU backends register theirs.
#include "generate/rollout_engine.h"

#include <map>
#include <mutex>
#include <string>

#include "core/error.h"
#include "generate/engine.h"
#include "model/transformer.h"

namespace r1::gen {

namespace {

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}

std::map<Device, EngineFactory>& registry() {
  static std::map<Device, EngineFactory> r;
  return r;
}

}  // namespace

void register_engine_factory(Device device, EngineFactory factory) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  registry()[device] = std::move(factory);
}

std::unique_ptr<RolloutEngine> make_engine(TrainableModel& model, const EngineOptions& options) {
  if (model.device() == Device::CPU) {
    auto* cpu = dynamic_cast<Transformer*>(&model);
    if (!cpu) throw Error("make_engine: a CPU model that is not a Transformer");
    return std::make_unique<Engine>(*cpu, options);
  }
  EngineFactory factory;
  {
    std::lock_guard<std::mutex> lock(registry_mutex());
    auto it = registry().find(model.device());
    if (it != registry().end()) factory = it->second;
  }
  if (!factory)
    throw Error(std::string("no rollout engine for device '") + device_name(model.device()) +
                "' in this build (the CUDA backend needs nvcc at build time: cmake --preset cuda)");
  return factory(model, options);
}

}  // namespace r1::gen
