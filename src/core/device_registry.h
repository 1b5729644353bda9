// A factory per device, registered at startup and looked up by jobs: the model factories (model/trainable_model)
// and the rollout engine factories (generate/rollout_engine) are two instances. The CPU entries are built in by
// their users; a CUDA build registers its own. Thread-safe.
#pragma once
#include <map>
#include <mutex>
#include <utility>

#include "core/tensor.h"

namespace r1 {

template <typename Factory>
class DeviceRegistry {
 public:
  void set(Device device, Factory factory) {
    std::lock_guard<std::mutex> lock(mutex_);
    factories_[device] = std::move(factory);
  }
  // The registered factory, or an empty one.
  Factory find(Device device) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = factories_.find(device);
    return it == factories_.end() ? Factory{} : it->second;
  }

 private:
  mutable std::mutex mutex_;
  std::map<Device, Factory> factories_;
};

}  // namespace r1
