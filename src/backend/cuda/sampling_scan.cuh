// Pieces both sampling kernels use (sampling.cu, sampling_cluster.cu): a fixed-order block reduction, and the
// inverse-CDF scan they end with (a warp walks its ids 128 at a time, 4 consecutive ids per lane, over fixed-point
// weights).
#pragma once
#include <cstdint>

namespace r1::cuda {

// v reduced with op over a block of Warps warps in a fixed order (warp shuffles, then the warps' results in warp
// order): the same bits every run. Every thread gets the result; `slots` holds one value per warp in shared
// memory, and the leading barrier protects the previous call's reads.
template <int Warps, typename T, typename Op>
__device__ T block_reduce(T v, T* slots, Op op) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  __syncthreads();
  if (threadIdx.x % 32 == 0) slots[threadIdx.x / 32] = v;
  __syncthreads();
  T r = slots[0];
#pragma unroll
  for (int w = 1; w < Warps; w++) r = op(r, slots[w]);
  return r;
}

// One 128-id step: q holds this lane's 4 weights (ids 4 lane .. 4 lane + 3 of the step), run the weight of every
// id before the step. Returns the offset (0..127, the same in every lane) of the first id whose prefix weight
// exceeds target; or -1, with run advanced past the step's 128 weights.
__device__ inline int warp_crossing(const unsigned long long q[4], unsigned long long& run,
                                    unsigned long long target) {
  const int lane = threadIdx.x % 32;
  const unsigned long long lane_sum = q[0] + q[1] + q[2] + q[3];
  unsigned long long incl = lane_sum;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const unsigned long long y = __shfl_up_sync(0xffffffffu, incl, o);
    if (lane >= o) incl += y;
  }
  const unsigned hit = __ballot_sync(0xffffffffu, run + incl > target);
  if (!hit) {
    run += __shfl_sync(0xffffffffu, incl, 31);
    return -1;
  }
  const int owner = __ffs(hit) - 1;
  int k = 0;
  if (lane == owner) {
    unsigned long long c = run + incl - lane_sum;
    while (k < 3 && c + q[k] <= target) c += q[k++];
  }
  return 4 * owner + __shfl_sync(0xffffffffu, k, owner);
}

}  // namespace r1::cuda
