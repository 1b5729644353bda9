// Fused token sampling over a batch of float32 logits rows: the same draw as the CPU sampler (gen::Sampler),
// without sorting the vocabulary.
//
// The CPU sampler picks the first token whose cumulative weight exceeds u * kept_total, w_v = exp((z_v - max)/T)
// in float32 by core/sampling_weight.h (the same bits on both engines),
// walking the vocabulary in id order when there is no truncation (its candidate list is never sorted then), and
// otherwise in canonical order (higher logit first, lower id on ties) over the top-k prefix, then the top-p prefix
// (a token stays while the mass before it is below top_p of the total). Rows without top-k / top-p go to
// sampling_cluster.cu where V allows (a row per cluster of blocks, read from memory once); this kernel takes the
// rest, one block per row:
//   pass A  max (and the first argmax), the smallest finite logit, NaN check;
//   pass B  the T = 1 weights summed in double (the log-sum-exp for logprob), the weights' sum per warp segment of
//           ids, and with top-k / top-p level 0: a histogram of count and weight over 1024 bins linear in the
//           logit between min and max (monotone in the canonical order);
//   id order  (no truncation) the segment holding the crossing; the warps sum its kWarps sub-ranges, and the
//           owner of the sub-range holding the crossing scans it 128 ids at a time;
// Everything canonical is "find the position where a prefix sum (of counts or of weights) crosses a target":
//   select  scan the bins from the top to the bin where the prefix crosses the target; if that bin holds at
//           most kCap tokens, gather them (one pass), sort them in shared memory by (logit desc, id asc) and find
//           the exact position; otherwise refine the bin by another histogram over its order keys (10 bits per
//           level) until it is small, or a run of equal logits that is resolved arithmetically plus one pass
//           for the r-th id among them.
// Weights are summed as unsigned integers in 2^-44 fixed point: exact and order independent, so the draw is
// deterministic and every level agrees with the next on the same sums.
#include <algorithm>
#include <cfloat>
#include <climits>
#include <cmath>

#include "backend/cuda/common.cuh"
#include "backend/cuda/decode_ops.h"
#include "backend/cuda/pdl.cuh"
#include "backend/cuda/sampling_cluster.h"
#include "backend/cuda/sampling_scan.cuh"
#include "core/sampling_weight.h"

namespace r1::cuda {

namespace {

using u64 = unsigned long long;

constexpr int kThreads = 512;
constexpr int kWarps = kThreads / 32;
constexpr int kBins = 1024;      // histogram bins per level
constexpr int kCap = 4096;       // tokens sorted in shared memory
constexpr int kMaxLevels = 6;    // level 0 (logit value) + key levels of 10 bits each (32-bit keys: 4 suffice)
enum Mode { kCount = 0, kMassGreater = 1, kMassAtLeast = 2 };

struct Shared {
  uint32_t h0_count[kBins];  // level 0, kept for every select of the row
  u64 h0_mass[kBins];
  uint32_t hw_count[kBins];  // deeper levels
  u64 hw_mass[kBins];
  u64 cand[kCap];  // (~key << 32) | id: ascending = canonical order
  // Levels: 0 is value-linear (lo, scale); k >= 1 key-based ((key - kmin) >> shift). bin[k] = chosen bin.
  float lo0, scale0;
  uint32_t kmin[kMaxLevels];
  int shift[kMaxLevels], bin[kMaxLevels];
  // Broadcast slots.
  int sel_bin, ncand, pick_pos, result_id;
  uint32_t sel_count;
  u64 sel_before, pick_cum;
  int sel_before_n, fallback;
  float fred[kWarps];
  int ired[kWarps];
  double dred[kWarps];
  u64 ured[kWarps];
  u64 seg_mass[kWarps];
  u64 sub_mass[kWarps];
  uint32_t kred[kWarps];
};

// Ascending in the float value, -0 == +0 (the CPU compares floats, so they tie).
__device__ __forceinline__ uint32_t order_key(float x) {
  const uint32_t b = __float_as_uint(x == 0.0f ? 0.0f : x);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}
__device__ __forceinline__ float key_value(uint32_t k) {
  return __uint_as_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}

struct Row {
  const float* z;
  int V;
  float lmax;
  float inv_t;  // 1 / temperature
  int fx_bits;
  double fx;  // 2^fx_bits
  // The CPU sampler's weight, bit for bit (core/sampling_weight.h), and its fixed-point value.
  __device__ float weight(float x) const { return sampling_weight(__fmul_rn(__fsub_rn(x, lmax), inv_t)); }
  __device__ u64 qweight(float x) const { return sampling_weight_fixed(weight(x), fx_bits); }
};

struct Sum {
  template <typename T>
  __device__ T operator()(T a, T b) const { return a + b; }
};
struct Min {
  template <typename T>
  __device__ T operator()(T a, T b) const { return min(a, b); }
};
struct Max {
  template <typename T>
  __device__ T operator()(T a, T b) const { return max(a, b); }
};
// Exclusive prefix sum over the block in thread order; *total gets the sum.
__device__ u64 block_exclusive_scan(u64 v, u64* total, Shared& sh) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  u64 incl = v;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const u64 x = __shfl_up_sync(0xffffffffu, incl, o);
    if (lane >= o) incl += x;
  }
  __syncthreads();
  if (lane == 31) sh.ured[warp] = incl;
  __syncthreads();
  u64 before = 0, all = 0;
  for (int w = 0; w < kWarps; w++) {
    if (w < warp) before += sh.ured[w];
    all += sh.ured[w];
  }
  *total = all;
  return before + incl - v;
}

// ---- levels ----
__device__ __forceinline__ int value_bin(float x, float lo, float scale) {
  const float f = (x - lo) * scale;  // NaN (inf * 0) and -inf land in bin 0
  return f > 0.0f ? (f >= float(kBins - 1) ? kBins - 1 : int(f)) : 0;
}
__device__ __forceinline__ int key_bin(uint32_t key, uint32_t kmin, int shift) { return int((key - kmin) >> shift); }

// Whether logit x belongs to the chosen bins of levels 0 .. last.
__device__ __forceinline__ bool member(float x, int last, const Shared& sh) {
  if (value_bin(x, sh.lo0, sh.scale0) != sh.bin[0]) return false;
  const uint32_t key = order_key(x);
  for (int k = 1; k <= last; k++) {
    if (key < sh.kmin[k]) return false;
    const uint32_t off = (key - sh.kmin[k]) >> sh.shift[k];
    if (off != uint32_t(sh.bin[k])) return false;
  }
  return true;
}

__device__ __forceinline__ bool crosses(int mode, u64 cum, int64_t cum_n, u64 target, int64_t target_index) {
  return mode == kCount ? cum_n > target_index : mode == kMassGreater ? cum > target : cum >= target;
}

// Warp 0 scans the histogram from the top bin down to the bin where the prefix (sh.sel_before / sel_before_n
// plus the bins above) crosses the target. With no crossing (rounding, or u * total rounding up to the total)
// it takes the last non-empty bin and sets sh.fallback: the caller then asks for the last token.
__device__ void scan_bins(const uint32_t* count, const u64* mass, int mode, u64 target, int64_t target_index,
                          Shared& sh) {
  if (threadIdx.x >= 32) return;
  const int lane = threadIdx.x;
  constexpr int kPerLane = kBins / 32;
  u64 lm = 0;
  uint32_t lc = 0;
  for (int i = 0; i < kPerLane; i++) {
    const int b = kBins - 1 - (lane * kPerLane + i);
    lm += mass[b];
    lc += count[b];
  }
  u64 im = lm;
  uint32_t ic = lc;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const u64 xm = __shfl_up_sync(0xffffffffu, im, o);
    const uint32_t xc = __shfl_up_sync(0xffffffffu, ic, o);
    if (lane >= o) im += xm, ic += xc;
  }
  const u64 before = sh.sel_before;
  const int before_n = sh.sel_before_n;
  const unsigned hit =
      __ballot_sync(0xffffffffu, lc > 0 && crosses(mode, before + im, int64_t(before_n) + ic, target, target_index));
  const bool fallback = hit == 0;
  const int owner = fallback ? 31 - __clz(__ballot_sync(0xffffffffu, lc > 0)) : __ffs(hit) - 1;
  if (lane == owner) {
    u64 run = before + (im - lm);
    int64_t run_n = int64_t(before_n) + (ic - lc);
    int chosen = -1;
    if (fallback) {
      // The lowest non-empty bin of this lane (the last in canonical order); the prefix stops before it.
      for (int i = kPerLane - 1; i >= 0 && chosen < 0; i--)
        if (count[kBins - 1 - (lane * kPerLane + i)] > 0) chosen = kBins - 1 - (lane * kPerLane + i);
      for (int i = 0; i < kPerLane; i++) {
        const int b = kBins - 1 - (lane * kPerLane + i);
        if (b == chosen) break;
        run += mass[b], run_n += count[b];
      }
    } else {
      for (int i = 0; i < kPerLane; i++) {
        const int b = kBins - 1 - (lane * kPerLane + i);
        if (count[b] > 0 && crosses(mode, run + mass[b], run_n + count[b], target, target_index)) {
          chosen = b;
          break;
        }
        run += mass[b], run_n += count[b];
      }
    }
    sh.sel_bin = chosen;
    sh.sel_count = count[chosen];
    sh.sel_before = run;
    sh.sel_before_n = int(run_n);
    sh.fallback = fallback;
  }
}

struct Pick {
  int id;
  u64 cum;    // mass of every token up to and including this one, in canonical order
  int index;  // canonical position
};

// The canonical position where the prefix sum crosses the target (see crosses()). All threads call it.
__device__ Pick select(const Row& r, Shared& sh, int mode, u64 target, int64_t target_index) {
  if (threadIdx.x == 0) sh.sel_before = 0, sh.sel_before_n = 0;
  __syncthreads();
  scan_bins(sh.h0_count, sh.h0_mass, mode, target, target_index, sh);
  __syncthreads();
  if (sh.fallback) {
    // Nothing crossed: the last token of the order, found as a count target.
    mode = kCount;
    target_index = int64_t(sh.sel_before_n) + sh.sel_count - 1;
  }
  int level = 0;
  for (;;) {
    if (threadIdx.x == 0) sh.bin[level] = sh.sel_bin;
    __syncthreads();
    const uint32_t n_bin = sh.sel_count;
    const u64 before = sh.sel_before;
    const int before_n = sh.sel_before_n;

    if (n_bin <= uint32_t(kCap)) {
      // Gather the bin's tokens, sort them canonically, and find the exact position.
      if (threadIdx.x == 0) sh.ncand = 0, sh.pick_pos = INT_MAX;
      __syncthreads();
      for (int v = threadIdx.x; v < r.V; v += kThreads) {
        const float x = r.z[v];
        if (member(x, level, sh)) {
          const int i = atomicAdd(&sh.ncand, 1);
          sh.cand[i] = (u64(~order_key(x)) << 32) | uint32_t(v);
        }
      }
      __syncthreads();
      const int n = sh.ncand;
      int P = 1;
      while (P < n) P <<= 1;
      for (int i = n + threadIdx.x; i < P; i += kThreads) sh.cand[i] = ~0ull;
      __syncthreads();
      for (int k = 2; k <= P; k <<= 1) {
        for (int j = k >> 1; j > 0; j >>= 1) {
          for (int i = threadIdx.x; i < P; i += kThreads) {
            const int partner = i ^ j;
            if (partner > i) {
              const u64 a = sh.cand[i], b = sh.cand[partner];
              const bool up = (i & k) == 0;
              if ((a > b) == up) sh.cand[i] = b, sh.cand[partner] = a;
            }
          }
          __syncthreads();
        }
      }
      // Prefix sums in sorted order: thread t owns elements [t * per, (t + 1) * per).
      const int per = (n + kThreads - 1) / kThreads;
      const int i0 = min(n, int(threadIdx.x) * per), i1 = min(n, i0 + per);
      u64 local = 0;
      if (mode != kCount)
        for (int i = i0; i < i1; i++) local += r.qweight(key_value(~uint32_t(sh.cand[i] >> 32)));
      u64 total;
      const u64 excl = block_exclusive_scan(local, &total, sh);
      if (mode == kCount) {
        if (threadIdx.x == 0) {
          sh.pick_pos = int(min(max(target_index - before_n, int64_t(0)), int64_t(n - 1)));
        }
      } else {
        u64 cum = before + excl;
        for (int i = i0; i < i1; i++) {
          cum += r.qweight(key_value(~uint32_t(sh.cand[i] >> 32)));
          if (crosses(mode, cum, 0, target, 0)) {
            atomicMin(&sh.pick_pos, i);
            break;
          }
        }
      }
      __syncthreads();
      if (threadIdx.x == 0 && sh.pick_pos == INT_MAX) sh.pick_pos = n - 1;  // rounding: the bin's last token
      __syncthreads();
      const int pos = sh.pick_pos;
      // The owner of pos (or thread 0 in count mode, which needs the prefix too) writes the cumulative mass.
      if (mode != kCount && i0 <= pos && pos < i1) {
        u64 cum = before + excl;
        for (int i = i0; i <= pos; i++) cum += r.qweight(key_value(~uint32_t(sh.cand[i] >> 32)));
        sh.pick_cum = cum;
      }
      __syncthreads();
      if (mode == kCount) {
        // Count mode skipped the weights above: sum those of the bin's first pos + 1 tokens.
        u64 part = 0;
        for (int i = threadIdx.x; i <= pos; i += kThreads) part += r.qweight(key_value(~uint32_t(sh.cand[i] >> 32)));
        const u64 s = block_reduce<kWarps>(part, sh.ured, Sum{});
        if (threadIdx.x == 0) sh.pick_cum = before + s;
        __syncthreads();
      }
      Pick p{int(uint32_t(sh.cand[pos])), sh.pick_cum, before_n + pos};
      __syncthreads();
      return p;
    }

    // Too many tokens in the bin: their key range decides what comes next.
    uint32_t kmn = 0xffffffffu, kmx = 0;
    for (int v = threadIdx.x; v < r.V; v += kThreads) {
      const float x = r.z[v];
      if (member(x, level, sh)) {
        const uint32_t k = order_key(x);
        kmn = min(kmn, k), kmx = max(kmx, k);
      }
    }
    kmn = block_reduce<kWarps>(kmn, sh.kred, Min{});
    kmx = block_reduce<kWarps>(kmx, sh.kred, Max{});
    if (kmn == kmx || level + 1 >= kMaxLevels) {
      // A run of equal logits (every weight w): position r within it, then the r-th of them by id.
      const u64 w = r.qweight(key_value(kmn));
      int64_t rank;
      if (mode == kCount) {
        rank = target_index - before_n;
      } else if (w == 0) {
        rank = int64_t(n_bin) - 1;
      } else if (mode == kMassGreater) {
        rank = target >= before ? int64_t((target - before) / w) : 0;
      } else {
        rank = target > before ? int64_t((target - before + w - 1) / w) - 1 : 0;
      }
      rank = min(max(rank, int64_t(0)), int64_t(n_bin) - 1);
      if (threadIdx.x == 0) sh.result_id = -1, sh.ncand = 0;  // ncand: members seen in earlier tiles
      __syncthreads();
      for (int base = 0; base < r.V; base += kThreads) {
        const int v = base + threadIdx.x;
        const bool is = v < r.V && member(r.z[v], level, sh);
        const unsigned ballot = __ballot_sync(0xffffffffu, is);
        if (threadIdx.x % 32 == 0) sh.ired[threadIdx.x / 32] = __popc(ballot);
        __syncthreads();
        int before_warp = sh.ncand, tile = 0;
        for (int w = 0; w < kWarps; w++) {
          if (w < int(threadIdx.x / 32)) before_warp += sh.ired[w];
          tile += sh.ired[w];
        }
        const int my_rank = before_warp + __popc(ballot & ((1u << (threadIdx.x % 32)) - 1));
        if (is && my_rank == rank) sh.result_id = v;
        __syncthreads();
        if (threadIdx.x == 0) sh.ncand += tile;
        __syncthreads();
        if (sh.result_id >= 0) break;
      }
      Pick p{sh.result_id, before + u64(rank + 1) * w, int(before_n + rank)};
      __syncthreads();
      return p;
    }
    // Refine: 10-bit digits of the key offset within the bin.
    const uint32_t range = kmx - kmn;
    const int bits = 32 - __clz(range);
    level++;
    if (threadIdx.x == 0) {
      sh.kmin[level] = kmn;
      sh.shift[level] = max(0, bits - 10);
    }
    for (int i = threadIdx.x; i < kBins; i += kThreads) sh.hw_count[i] = 0, sh.hw_mass[i] = 0;
    __syncthreads();
    for (int v = threadIdx.x; v < r.V; v += kThreads) {
      const float x = r.z[v];
      if (member(x, level - 1, sh)) {
        const int b = key_bin(order_key(x), sh.kmin[level], sh.shift[level]);
        atomicAdd(&sh.hw_count[b], 1u);
        atomicAdd(&sh.hw_mass[b], r.qweight(x));  // count mode too: the pick's cumulative mass needs it
      }
    }
    __syncthreads();
    scan_bins(sh.hw_count, sh.hw_mass, mode, target, target_index, sh);
    __syncthreads();
  }
}

// Two blocks per SM (64 registers a thread): 256 rows then run in one wave of 32 warps per SM. With one block per
// SM (126 registers) they took two waves of 16 warps, latency bound (ncu: 0.26 eligible warps per scheduler).
__global__ void __launch_bounds__(kThreads, 2)
    sample_kernel(int32_t* token, float* logprob, float* sampling_logprob, const float* logits, const int32_t* rows,
                  const RowSampling* params, const double* uniforms, int V, int fx_bits, bool truncated_only) {
  extern __shared__ __align__(16) unsigned char smem[];
  Shared& sh = *reinterpret_cast<Shared*>(smem);
  dependency_wait();  // launched as a programmatic dependent (pdl.cuh) of the LM head
  const int b = blockIdx.x;
  const float* z = logits + int64_t(rows ? rows[b] : b) * V;
  const RowSampling p = params[b];
  const bool truncated = sampling_row_truncated(p, V);
  if (truncated_only && !truncated) return;  // sampling_cluster.cu drew it

  // Pass A: max, first argmax, smallest finite logit, NaN. Rows are read as float4 (when V % 4 == 0), four
  // vectors in flight per thread: a block per row is otherwise bound by memory latency, not bandwidth.
  const bool vec = V % 4 == 0;
  float mx = -INFINITY, mn = INFINITY;
  int first = INT_MAX, nan_seen = 0;
  auto visit_a = [&](float x, int v) {
    if (isnan(x)) nan_seen = 1;
    if (x > mx) mx = x, first = v;  // ids grow along a thread's walk: the first maximum of this thread
    if (x > -INFINITY) mn = fminf(mn, x);
  };
  if (vec) {
    const float4* z4 = reinterpret_cast<const float4*>(z);
    const int n4 = V / 4;
    int i = threadIdx.x;
    for (; i + 3 * kThreads < n4; i += 4 * kThreads) {
      float4 q[4];
#pragma unroll
      for (int k = 0; k < 4; k++) q[k] = z4[i + k * kThreads];
#pragma unroll
      for (int k = 0; k < 4; k++) {
        const int v = 4 * (i + k * kThreads);
        visit_a(q[k].x, v), visit_a(q[k].y, v + 1), visit_a(q[k].z, v + 2), visit_a(q[k].w, v + 3);
      }
    }
    for (; i < n4; i += kThreads) {
      const float4 q = z4[i];
      visit_a(q.x, 4 * i), visit_a(q.y, 4 * i + 1), visit_a(q.z, 4 * i + 2), visit_a(q.w, 4 * i + 3);
    }
  } else {
    for (int v = threadIdx.x; v < V; v += kThreads) visit_a(z[v], v);
  }
  const float row_max = block_reduce<kWarps>(mx, sh.fred, Max{});
  mn = block_reduce<kWarps>(mn, sh.fred, Min{});
  // Threads visit ids out of order across iterations, so "first" is only per thread: keep it where it is the
  // row's maximum and take the smallest.
  first = block_reduce<kWarps>(mx == row_max ? first : INT_MAX, sh.ired, Min{});
  mx = row_max;
  const int any_nan = block_reduce<kWarps>(nan_seen ? 0 : 1, sh.ired, Min{}) == 0;
  if (any_nan || first == INT_MAX) {
    if (threadIdx.x == 0) token[b] = -1, logprob[b] = NAN, sampling_logprob[b] = NAN;
    return;
  }

  const bool greedy = p.temperature <= 0.0f;
  Row r{z, V, mx, greedy ? 1.0f : 1.0f / p.temperature, fx_bits, ldexp(1.0, fx_bits)};
  // Pass B: the T = 1 normaliser; for sampling the fixed-point weights, summed per warp segment (warp w owns
  // ids [w * seg, (w + 1) * seg), seg a multiple of 4, read coalesced), and for top-k / top-p level 0 of the
  // histogram.
  if (truncated) {
    for (int i = threadIdx.x; i < kBins; i += kThreads) sh.h0_count[i] = 0, sh.h0_mass[i] = 0;
    if (threadIdx.x == 0) {
      const float range = mx - mn;
      float scale = range > 0.0f ? float(kBins) / range : 0.0f;
      if (!(scale < FLT_MAX)) scale = 0.0f;  // a range too small to divide: one bin, refined by keys
      sh.lo0 = mn, sh.scale0 = scale;
    }
    __syncthreads();
  }
  const bool unit_t = !greedy && r.inv_t == 1.0f;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int seg = ((V + kWarps - 1) / kWarps + 3) / 4 * 4, seg0 = min(V, warp * seg), seg1 = min(V, seg0 + seg);
  double s1 = 0;
  u64 total_local = 0;
  auto visit_b = [&](float x) {
    const float e1 = sampling_weight(__fsub_rn(x, mx));  // the T = 1 weight
    s1 += double(e1);
    if (!greedy) {
      const u64 q = sampling_weight_fixed(unit_t ? e1 : r.weight(x), fx_bits);
      total_local += q;
      if (truncated) {
        const int bin = value_bin(x, sh.lo0, sh.scale0);
        atomicAdd(&sh.h0_count[bin], 1u);
        atomicAdd(&sh.h0_mass[bin], q);
      }
    }
  };
  if (vec) {
    const float4* z4 = reinterpret_cast<const float4*>(z);
    const int e4 = seg1 / 4;
    int i = seg0 / 4 + lane;
    for (; i + 96 < e4; i += 128) {
      float4 q[4];
#pragma unroll
      for (int k = 0; k < 4; k++) q[k] = z4[i + 32 * k];
#pragma unroll
      for (int k = 0; k < 4; k++) visit_b(q[k].x), visit_b(q[k].y), visit_b(q[k].z), visit_b(q[k].w);
    }
    for (; i < e4; i += 32) {
      const float4 q = z4[i];
      visit_b(q.x), visit_b(q.y), visit_b(q.z), visit_b(q.w);
    }
  } else {
    for (int v = seg0 + lane; v < seg1; v += 32) visit_b(z[v]);
  }
  s1 = block_reduce<kWarps>(s1, sh.dred, Sum{});
  const double lse1 = double(mx) + log(s1);
  if (greedy) {
    if (threadIdx.x == 0) {
      token[b] = first;
      logprob[b] = float(double(z[first]) - lse1);
      sampling_logprob[b] = 0.0f;
    }
    return;
  }
  u64 warp_total = total_local;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) warp_total += __shfl_xor_sync(0xffffffffu, warp_total, o);
  if (lane == 0) sh.seg_mass[warp] = warp_total;
  const u64 total_all = block_reduce<kWarps>(total_local, sh.ured, Sum{});  // also a barrier for seg_mass and the histogram

  if (!truncated) {
    // No truncation: the CPU sampler walks the vocabulary in id order (its candidate list is never sorted),
    // so the draw is the first id whose prefix weight exceeds u * total: find the warp segment, then its
    // sub-range, then scan that.
    const u64 target = u64(floor(uniforms[b] * double(total_all)));
    u64 run = 0;
    int ws = -1;
    for (int w = 0; w < kWarps && ws < 0; w++) {
      if (run + sh.seg_mass[w] > target) ws = w;
      else run += sh.seg_mass[w];
    }
    if (threadIdx.x == 0) sh.result_id = V - 1;  // no crossing (rounding): the CPU's fallback, the last id
    // 4 consecutive ids per lane from base (128 per step), -inf past hi.
    auto load4 = [&](int base, int hi, float* x) {
      const int v = base + 4 * lane;
      if (vec && v + 3 < hi) {
        const float4 q = *reinterpret_cast<const float4*>(z + v);
        x[0] = q.x, x[1] = q.y, x[2] = q.z, x[3] = q.w;
      } else {
        for (int k = 0; k < 4; k++) x[k] = v + k < hi ? z[v + k] : -INFINITY;
      }
    };
    auto qw = [&](float x) { return x == -INFINITY ? u64(0) : r.qweight(x); };
    // Level 2: the segment's kWarps sub-ranges (multiples of 4 ids), one per warp, summed. One warp scanning the
    // whole segment (~9.5k ids at V = 151936, ~75 serial steps) kept the other 15 waiting.
    const int lo = ws < 0 ? V : min(V, ws * seg), hi = min(V, lo + seg);
    const int sub = ((hi - lo + kWarps - 1) / kWarps + 3) / 4 * 4;
    const int a0 = min(hi, lo + warp * sub), a1 = min(hi, a0 + sub);
    u64 part = 0;
    for (int base = a0; base < a1; base += 128) {
      float x[4];
      load4(base, a1, x);
      part += qw(x[0]) + qw(x[1]) + qw(x[2]) + qw(x[3]);
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) part += __shfl_xor_sync(0xffffffffu, part, o);
    if (lane == 0) sh.sub_mass[warp] = part;
    __syncthreads();
    int wsub = -1;
    for (int w = 0; w < kWarps && wsub < 0 && ws >= 0; w++) {
      if (run + sh.sub_mass[w] > target) wsub = w;
      else run += sh.sub_mass[w];
    }
    if (warp == wsub) {
      // The next step's logits loaded before this step's scan.
      float cur[4], nxt[4];
      load4(a0, a1, cur);
      for (int base = a0; base < a1; base += 128) {
        if (base + 128 < a1) load4(base + 128, a1, nxt);
        const u64 q[4] = {qw(cur[0]), qw(cur[1]), qw(cur[2]), qw(cur[3])};
        const int at = warp_crossing(q, run, target);
        if (at >= 0) {
          if (lane == 0) sh.result_id = base + at;
          break;
        }
#pragma unroll
        for (int k = 0; k < 4; k++) cur[k] = nxt[k];
      }
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      const int id = sh.result_id;
      const float x = z[id];
      token[b] = id;
      logprob[b] = float(double(x) - lse1);
      sampling_logprob[b] = float(log(double(r.weight(x))) - log(double(total_all) / r.fx));
    }
    return;
  }

  // Kept prefix: top-k, then top-p within it.
  bool limited = false;
  Pick limit{-1, total_all, V - 1};
  if (p.top_k > 0 && p.top_k < V) {
    limit = select(r, sh, kCount, 0, p.top_k - 1);
    limited = true;
  }
  if (p.top_p < 1.0f) {
    const u64 need = u64(ceil(double(p.top_p) * double(limit.cum)));
    const Pick pp = select(r, sh, kMassAtLeast, need, 0);
    if (!limited || pp.index < limit.index) limit = pp;
    limited = true;
  }
  const u64 kept_total = limit.cum;
  const u64 target = u64(floor(uniforms[b] * double(kept_total)));
  Pick pick = select(r, sh, kMassGreater, target, 0);
  if (limited && pick.index > limit.index) pick = limit;
  if (threadIdx.x == 0) {
    const float x = z[pick.id];
    token[b] = pick.id;
    logprob[b] = float(double(x) - lse1);
    sampling_logprob[b] = float(log(double(r.weight(x))) - log(double(kept_total) / r.fx));
  }
}

}  // namespace

void sample_tokens(Context& ctx, int32_t* token, float* logprob, float* sampling_logprob, const float* logits,
                   const int32_t* rows, const RowSampling* params, const double* u, int B, int V) {
  if (B <= 0) return;
  static_assert(sizeof(Shared) <= 227 * 1024, "sampling: shared memory");
  // Raise the kernel's dynamic shared memory limit once per device (not a stream operation, but keep it out of
  // graph captures: the engine's first, uncaptured step does it).
  static uint64_t raised = 0;  // bit d: done on device d
  int dev = 0;
  R1_CUDA_CHECK("sample_tokens", cudaGetDevice(&dev));
  if (dev >= 64 || !(raised >> dev & 1)) {
    R1_CUDA_CHECK("sample_tokens", cudaFuncSetAttribute(sample_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                        int(sizeof(Shared))));
    R1_CUDA_CHECK("sample_tokens", cudaFuncSetAttribute(sample_kernel, cudaFuncAttributePreferredSharedMemoryCarveout,
                                                        int(cudaSharedmemCarveoutMaxShared)));
    if (dev < 64) raised |= uint64_t(1) << dev;
  }
  // Fixed point with 2^fx_bits per unit weight: the total (<= V units) must stay below 2^63.
  int vbits = 0;
  while ((int64_t(1) << vbits) <= V) vbits++;
  const int fx_bits = std::min(44, 62 - vbits);
  // Untruncated rows (greedy, temperature): a row per cluster, read once. This kernel then draws the top-k /
  // top-p rows (its other blocks exit at once), or every row where V does not split into a cluster.
  const bool clustered = sample_untruncated_rows(ctx, token, logprob, sampling_logprob, logits, rows, params, u, B, V,
                                                 fx_bits);
  launch_dependent("sample_tokens", sample_kernel, dim3(B), dim3(kThreads), sizeof(Shared), ctx.stream(), token,
                   logprob, sampling_logprob, logits, rows, params, u, V, fx_bits, clustered);
}

}  // namespace r1::cuda
