// The untruncated rows of sample_tokens (greedy, or any temperature without top-k / top-p: what rollouts draw)
// with each float32 logits row held in the shared memory of a cluster of blocks, so the row is read from memory
// once. The block-per-row kernel (sampling.cu) reads it twice — the maximum, then the weights — and at batch 256
// the 155 MB of logits do not stay in L2 between the passes.
//
// Block k of a row's cluster holds logits [k * part, (k + 1) * part). The draw is sampling.cu's, step for step,
// with the reductions split over the blocks and combined through distributed shared memory in rank order:
//   A  the part's max, first argmax and NaN flag; every block combines all parts (the lowest id of the maximum);
//   B  the T = 1 weights summed in double (the log-sum-exp) and the fixed-point weights, per warp segment;
//   draw  target = floor(u * total) over the integer weights (exact, so the split changes nothing); the block
//         whose part holds the crossing finds its warp segment, that segment's sub-range, and scans it.
#include <cooperative_groups.h>

#include <climits>
#include <cmath>

#include "backend/cuda/async_copy.cuh"
#include "backend/cuda/cluster_launch.cuh"
#include "backend/cuda/common.cuh"
#include "backend/cuda/pdl.cuh"
#include "backend/cuda/sampling_cluster.h"
#include "backend/cuda/sampling_scan.cuh"
#include "core/sampling_weight.h"

namespace r1::cuda {

namespace {

namespace cg = cooperative_groups;
using u64 = unsigned long long;

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;

struct PartA {
  float max;
  int first, nan;
};
struct PartB {
  double sum1;  // the part's T = 1 weights, summed
  u64 mass;     // its fixed-point weights
};

__global__ void __launch_bounds__(kThreads, 3)
    sample_cluster_kernel(int32_t* token, float* logprob, float* sampling_logprob, const float* logits,
                          const int32_t* rows, const RowSampling* params, const double* uniforms, int V, int part,
                          int fx_bits) {
  extern __shared__ __align__(16) float zs[];
  __shared__ PartA part_a;
  __shared__ PartB part_b;
  __shared__ float fred[kWarps];
  __shared__ int ired[kWarps];
  __shared__ double dred[kWarps];
  __shared__ u64 ured[kWarps], seg_mass[kWarps], sub_mass[kWarps];
  __shared__ int result_id;
  cg::cluster_group cluster = cg::this_cluster();
  const int rank = int(cluster.block_rank()), ranks = int(cluster.num_blocks());
  const int b = blockIdx.y, v0 = rank * part, n = max(0, min(V, v0 + part) - v0);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const RowSampling p = params[b];
  const bool greedy = p.temperature <= 0.0f;
  dependency_wait();  // the logits are the previous kernel's output
  allow_dependents();
  if (sampling_row_truncated(p, V)) return;  // the same for the whole cluster: sampling.cu's kernel draws it

  const float* z = logits + int64_t(rows ? rows[b] : b) * V;
  copy_to_shared(zs, z + v0, n);

  // A: max, first argmax (ids grow along a thread's walk, so its first maximum is its lowest id), NaN.
  float mx = -INFINITY;
  int first = INT_MAX, nan_seen = 0;
  for (int i = threadIdx.x; i < n; i += kThreads) {
    const float x = zs[i];
    if (isnan(x)) nan_seen = 1;
    if (x > mx) mx = x, first = v0 + i;
  }
  const float part_max = block_reduce<kWarps>(mx, fred, [](float a, float c) { return fmaxf(a, c); });
  first = block_reduce<kWarps>(mx == part_max ? first : INT_MAX, ired, [](int a, int c) { return min(a, c); });
  nan_seen = block_reduce<kWarps>(nan_seen, ired, [](int a, int c) { return max(a, c); });
  if (threadIdx.x == 0) part_a = PartA{part_max, first, nan_seen};
  cluster.sync();
  PartA row{-INFINITY, INT_MAX, 0};
  for (int k = 0; k < ranks; k++) {  // parts in id order: a strictly larger max moves the first argmax
    const PartA a = *cluster.map_shared_rank(&part_a, k);
    if (a.max > row.max) row.max = a.max, row.first = a.first;
    row.nan |= a.nan;
  }
  if (row.nan || row.first == INT_MAX) {  // NaN, or no finite logit
    if (rank == 0 && threadIdx.x == 0) token[b] = -1, logprob[b] = NAN, sampling_logprob[b] = NAN;
    cluster.sync();  // the peers have read part_a
    return;
  }

  // B: the T = 1 normaliser and, to sample, the fixed-point weights summed per warp segment of the part.
  const float inv_t = greedy ? 1.0f : 1.0f / p.temperature;
  const double fx = ldexp(1.0, fx_bits);
  const bool unit_t = !greedy && inv_t == 1.0f;
  // The CPU sampler's weight, bit for bit (core/sampling_weight.h), and its fixed-point value.
  auto weight = [&](float x) { return sampling_weight(__fmul_rn(__fsub_rn(x, row.max), inv_t)); };
  auto qweight = [&](float x) { return sampling_weight_fixed(weight(x), fx_bits); };
  const int seg = ((n + kWarps - 1) / kWarps + 3) / 4 * 4, s0 = min(n, warp * seg), s1 = min(n, s0 + seg);
  double sum1 = 0;
  u64 mass = 0;
  for (int i = s0 + 4 * lane; i < s1; i += 128) {
    const float4 q = *reinterpret_cast<const float4*>(zs + i);
    const float xs[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
    for (int k = 0; k < 4; k++) {
      const float e1 = sampling_weight(__fsub_rn(xs[k], row.max));
      sum1 += double(e1);
      if (!greedy) mass += sampling_weight_fixed(unit_t ? e1 : weight(xs[k]), fx_bits);
    }
  }
  u64 warp_mass = mass;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) warp_mass += __shfl_xor_sync(0xffffffffu, warp_mass, o);
  if (lane == 0) seg_mass[warp] = warp_mass;
  sum1 = block_reduce<kWarps>(sum1, dred, [](double a, double c) { return a + c; });
  const u64 part_mass = block_reduce<kWarps>(mass, ured, [](u64 a, u64 c) { return a + c; });  // also a barrier: seg_mass
  if (threadIdx.x == 0) part_b = PartB{sum1, part_mass};
  cluster.sync();  // also: every peer has read part_a
  double row_sum1 = 0;
  u64 total = 0, before = 0;  // before: the weights of the parts ahead of this one
  for (int k = 0; k < ranks; k++) {
    const PartB pb = *cluster.map_shared_rank(&part_b, k);
    row_sum1 += pb.sum1;
    total += pb.mass;
    if (k < rank) before += pb.mass;
  }
  cluster.sync();  // every peer has read part_b: from here on each block works alone
  const double lse1 = double(row.max) + log(row_sum1);

  if (greedy) {
    if (threadIdx.x == 0 && row.first >= v0 && row.first < v0 + n) {
      token[b] = row.first;
      logprob[b] = float(double(zs[row.first - v0]) - lse1);
      sampling_logprob[b] = 0.0f;
    }
    return;
  }
  // The draw: the first id whose prefix weight exceeds target; with no crossing (rounding) the CPU sampler takes
  // the last id, which the last block writes.
  const u64 target = u64(floor(uniforms[b] * double(total)));
  const bool mine = before <= target && target < before + part_mass;
  const bool last_block = v0 + n == V;
  if (!mine && !(last_block && target >= total)) return;
  if (!mine) {
    if (threadIdx.x == 0) {
      const float x = z[V - 1];
      token[b] = V - 1;
      logprob[b] = float(double(x) - lse1);
      sampling_logprob[b] = float(log(double(weight(x))) - log(double(total) / fx));
    }
    return;
  }
  u64 run = before;
  int ws = 0;
  for (; ws < kWarps - 1 && run + seg_mass[ws] <= target; ws++) run += seg_mass[ws];
  // The segment's kWarps sub-ranges (multiples of 4 ids), one per warp, summed; then one warp scans its
  // sub-range 128 ids at a time.
  const int lo = min(n, ws * seg), hi = min(n, lo + seg);
  const int sub = ((hi - lo + kWarps - 1) / kWarps + 3) / 4 * 4;
  const int a0 = min(hi, lo + warp * sub), a1 = min(hi, a0 + sub);
  auto qw = [&](float x) { return x == -INFINITY ? u64(0) : qweight(x); };
  u64 sub_part = 0;
  for (int i = a0 + 4 * lane; i < a1; i += 128) {
    const float4 q = *reinterpret_cast<const float4*>(zs + i);
    sub_part += qw(q.x) + qw(q.y) + qw(q.z) + qw(q.w);
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) sub_part += __shfl_xor_sync(0xffffffffu, sub_part, o);
  if (lane == 0) sub_mass[warp] = sub_part;
  if (threadIdx.x == 0) result_id = v0 + hi - 1;  // rounding inside the segment: its last id
  __syncthreads();
  int wsub = 0;
  for (; wsub < kWarps - 1 && run + sub_mass[wsub] <= target; wsub++) run += sub_mass[wsub];
  if (warp == wsub) {
    for (int base = a0; base < a1; base += 128) {
      const int i = base + 4 * lane;
      float x[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
      if (i < a1) {
        const float4 q = *reinterpret_cast<const float4*>(zs + i);
        x[0] = q.x, x[1] = q.y, x[2] = q.z, x[3] = q.w;
      }
      const u64 q[4] = {qw(x[0]), qw(x[1]), qw(x[2]), qw(x[3])};
      const int at = warp_crossing(q, run, target);
      if (at >= 0) {
        if (lane == 0) result_id = v0 + base + at;
        break;
      }
    }
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    const int id = result_id;
    const float x = zs[id - v0];
    token[b] = id;
    logprob[b] = float(double(x) - lse1);
    sampling_logprob[b] = float(log(double(weight(x))) - log(double(total) / fx));
  }
}

}  // namespace

bool sample_untruncated_rows(Context& ctx, int32_t* token, float* logprob, float* sampling_logprob,
                             const float* logits, const int32_t* rows, const RowSampling* params, const double* u,
                             int B, int V, int fx_bits) {
  const int n = row_cluster_size(V);
  if (n == 0) return false;
  const int part = row_cluster_part(V, n);
  static const bool configured =
      configure_kernel("sample_tokens", sample_cluster_kernel, sizeof(float) * kRowPartMaxFloats);
  (void)configured;
  launch_clusters("sample_tokens", sample_cluster_kernel, dim3(unsigned(n), unsigned(B)), dim3(unsigned(n)), kThreads,
                  sizeof(float) * size_t(part), ctx.stream(), /*dependent=*/true, token, logprob, sampling_logprob,
                  logits, rows, params, u, V, part, fx_bits);
  return true;
}

}  // namespace r1::cuda
