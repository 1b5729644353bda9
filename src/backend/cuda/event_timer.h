// Device time of repeated runs on a Context's stream, measured with a pair of cudaEvents around each run (what the
// algorithm choices of gemm.cpp and decode_gemm.cpp compare). Host-side only; never inside a graph capture.
#pragma once
#include <cuda_runtime.h>

#include "backend/cuda/check.h"
#include "backend/cuda/context.h"

namespace r1::cuda {

class EventTimer {
 public:
  EventTimer(Context& ctx, const char* op) : ctx_(ctx), op_(op) {
    R1_CUDA_CHECK(op, cudaEventCreate(&t0_));
    R1_CUDA_CHECK(op, cudaEventCreate(&t1_));
  }
  ~EventTimer() {
    cudaEventDestroy(t0_);
    cudaEventDestroy(t1_);
  }
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;

  // Total milliseconds of `reps` runs of run(); before(rep) runs untimed ahead of each (e.g. an L2 flush).
  template <typename Before, typename Run>
  float total_ms(int reps, Before&& before, Run&& run) {
    float total = 0;
    for (int r = 0; r < reps; r++) {
      before(r);
      R1_CUDA_CHECK(op_, cudaEventRecord(t0_, ctx_.stream()));
      run();
      R1_CUDA_CHECK(op_, cudaEventRecord(t1_, ctx_.stream()));
      R1_CUDA_CHECK(op_, cudaEventSynchronize(t1_));
      float ms = 0;
      R1_CUDA_CHECK(op_, cudaEventElapsedTime(&ms, t0_, t1_));
      total += ms;
    }
    return total;
  }

 private:
  Context& ctx_;
  const char* op_;
  cudaEvent_t t0_ = nullptr, t1_ = nullptr;
};

}  // namespace r1::cuda
