// Causal grouped-query attention for head dims 64 and 128 on Hopper's warpgroup tensor cores (wgmma, sm_90a): the
// forward, dk/dv and dq kernels of attention_forward.cu / attention_backward.cu with the same block
// decomposition, masking, online softmax and deterministic reductions (see those files for the arithmetic),
// but each block is one warpgroup whose products are m64nNk16 wgmmas (N = 64 for scores, D for outputs):
//   - tiles of 64 rows x D dims live in shared memory as D / 64 column blocks of 128-byte-swizzled rows
//     (wgmma.cuh), copied by TMA (tma.cuh): one thread requests whole 64 x 64 boxes, an mbarrier per stage says
//     when they landed, and the other threads issue no copies (with cp.async from every thread the kernels were
//     bound by instruction issue);
//   - products whose reduction runs over the head dim (S = Q K^T, dP = dout V^T and their transposes) read both
//     tiles in place as K-major operands;
//   - products whose reduction runs over the rows (O += P V, dQ += dS K, dV += P^T dout, dK += dS^T Q) take the
//     probabilities from registers — the accumulator layout of one product is the A-fragment layout of the next,
//     packed to bf16 — and read the same swizzled tile as an MN-major (transposed) operand.
// The tensor cores run asynchronously to the warps, and up to four blocks share an SM, so one block's softmax
// overlaps another's products (the mma.sync kernels stall their own warps on every product).
#include <cuda_bf16.h>

#include <type_traits>

#include "backend/cuda/attention.cuh"
#include "backend/cuda/attention_wgmma.h"
#include "backend/cuda/check.h"
#include "backend/cuda/cluster_launch.cuh"
#include "backend/cuda/common.cuh"
#include "backend/cuda/mma.cuh"
#include "backend/cuda/tma.cuh"
#include "backend/cuda/wgmma.cuh"
#include "core/error.h"

namespace r1::cuda::attention {

namespace {

constexpr int kBlockBytes = kTile * 128;  // [64 rows][64 dims] bf16: one column block of a tile
constexpr int kWgThreads = 128;           // one warpgroup

template <int D>
constexpr int kTileBytes = kBlockBytes * (D / 64);  // [64][D]: D / 64 column blocks, one after the other

// The tensor maps of q, k, v (and dout) as 2-D matrices [T, heads x D], read in boxes of 64 rows x 64 dims.
struct HeadMaps {
  CUtensorMap q, k, v, dout;
};

// The device code below exists in the sm_90a pass only (the compute_90 PTX pass compiles the kernels empty).
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

__device__ __forceinline__ uint32_t shared_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// The block's dynamic shared memory, rounded up to the 1024-byte boundary the swizzle atoms need.
__device__ __forceinline__ unsigned char* aligned_smem(unsigned char* raw) {
  return raw + (1024 - shared_addr(raw) % 1024) % 1024;
}

template <int N>
__device__ __forceinline__ void zero(float (&d)[N]) {
#pragma unroll
  for (int i = 0; i < N; i++) d[i] = 0.0f;
}

// One thread's request for rows r0 .. r0 + 63 of head `head` (all D / 64 column blocks) into a swizzled tile,
// completing on `bar`. Rows past the tensor's end arrive as zeros; rows past the sequence's end are the next
// sequence's (callers never use them: such keys are masked for every valid row, such query rows not stored).
template <int D>
__device__ __forceinline__ void tma_tile(unsigned char* dst, const CUtensorMap* map, int row, int head, uint32_t bar) {
#pragma unroll
  for (int blk = 0; blk < D / 64; blk++)
    tma_load_2d(shared_addr(dst + blk * kBlockBytes), map, head * D + blk * 64, row, bar);
}

// d[64 x 64] = A B^T over the D dims, A and B swizzled [64][D] tiles (K-major: each k16 slice is 32 bytes into
// the rows of one column block). Issued, not waited for.
template <int D>
__device__ __forceinline__ void issue_rows_times_rows(float (&d)[32], const unsigned char* a, const unsigned char* b) {
  const uint32_t sa = shared_addr(a), sb = shared_addr(b);
#pragma unroll
  for (int kk = 0; kk < D / 16; kk++) {
    const uint32_t at = (kk / 4) * kBlockBytes + (kk % 4) * 32;
    wgmma_bf16_64(d, wgmma_desc(sa + at), wgmma_desc(sb + at), kk > 0);
  }
}

// The two score products of a tile pair, d1 = A1 B1^T and d2 = A2 B2^T over the head dim (S and dP, or their
// transposes), issued together and waited for.
template <int D>
__device__ __forceinline__ void score_products(float (&d1)[32], const unsigned char* a1, const unsigned char* b1,
                                               float (&d2)[32], const unsigned char* a2, const unsigned char* b2) {
  wgmma_fence();
  issue_rows_times_rows<D>(d1, a1, b1);
  issue_rows_times_rows<D>(d2, a2, b2);
  wgmma_commit();
  wgmma_wait<0>();
  wgmma_fence_operands(d1);
  wgmma_fence_operands(d2);
}

// d[64 x D] += P B over the 64 rows of B, P given as A fragments per 16 rows, B a swizzled [64][D] tile read
// MN-major (its column blocks are wgmma_desc_mn's 8 KiB apart). Issued, not waited for.
template <int D>
__device__ __forceinline__ void issue_regs_times_tile(float (&d)[D / 2], const uint32_t (&p)[4][4],
                                                      const unsigned char* b) {
  const uint32_t sb = shared_addr(b);
#pragma unroll
  for (int kk = 0; kk < 4; kk++) wgmma_bf16_rs_mn<D>(d, p[kk], wgmma_desc_mn(sb + kk * 16 * 128));
}

// The key-tile walk of the forward and dq kernels, by TMA: K/V tile n lands in stage n % 2 (K, then V), whose
// mbarrier at bars + 8 (n % 2) completes phase n / 2. One thread requests tile n + 1 while tile n is computed on;
// the block barrier ending each step frees the stage it refills. `extra` bytes (the block's own Q / dout tiles,
// requested by the caller on the same barrier) ride on tile 0.
template <int D>
__device__ __forceinline__ void request_kv(unsigned char* kv, uint32_t bars, const HeadMaps& maps, int n, int s0,
                                           int g, uint32_t extra = 0) {
  unsigned char* stage = kv + (n % 2) * 2 * kTileBytes<D>;
  const uint32_t bar = bars + 8 * (n % 2);
  mbarrier_expect_bytes(bar, uint32_t(2 * kTileBytes<D>) + extra);
  tma_tile<D>(stage, &maps.k, s0 + n * kTile, g, bar);
  tma_tile<D>(stage + kTileBytes<D>, &maps.v, s0 + n * kTile, g, bar);
}

// Waits for K/V tile n and returns its K (V follows it).
template <int D>
__device__ __forceinline__ const unsigned char* kv_landed(const unsigned char* kv, uint32_t bars, int n) {
  mbarrier_wait(bars + 8 * (n % 2), uint32_t((n / 2) & 1));
  return kv + (n % 2) * 2 * kTileBytes<D>;
}

// Sets the scores of keys after their row to -inf: only the diagonal tile (keys j0 .. j0 + 63 against this lane's
// rows row_a and row_a + 8) has any, so the other tiles pay no instruction for the mask.
__device__ __forceinline__ void mask_after_rows(float (&s)[32], int j0, int row_a) {
  const int tq = int(threadIdx.x) % 4;
#pragma unroll
  for (int i = 0; i < 32; i++) {
    const int key = j0 + 8 * (i / 4) + 2 * tq + (i & 1), row = row_a + ((i & 2) ? 8 : 0);
    if (key > row) s[i] = -INFINITY;
  }
}

// One 16 x 64 score tile of this warp (already masked) folded into the online softmax in base 2: the running row
// max m (of the scaled scores) and this lane's partial row sum l updated, and s turned into the unnormalised
// probabilities 2^(s scale_log2 - m), one FFMA and one EX2 each (the max is taken over the raw scores: the scale
// is positive). The output rows must be rescaled by corr. The arithmetic of attention_forward.cu, whose mma.sync
// kernel keeps its own copy: through a shared function it ran 16% slower at head dim 64 (0.105 -> 0.122 ms).
__device__ __forceinline__ void online_softmax_tile(float (&s)[32], float (&m)[2], float (&l)[2], float (&corr)[2],
                                                    float scale_log2) {
  float raw[2] = {-INFINITY, -INFINITY};
#pragma unroll
  for (int i = 0; i < 32; i++) raw[(i >> 1) & 1] = fmaxf(raw[(i >> 1) & 1], s[i]);
  float rs[2] = {0.0f, 0.0f}, neg_m[2];
#pragma unroll
  for (int r = 0; r < 2; r++) {
    raw[r] = fmaxf(raw[r], __shfl_xor_sync(0xffffffffu, raw[r], 1));
    raw[r] = fmaxf(raw[r], __shfl_xor_sync(0xffffffffu, raw[r], 2));
    const float mx = fmaxf(m[r], raw[r] * scale_log2);
    corr[r] = exp2f(m[r] - mx);  // 0 on the first tile (m = -inf); key 0 makes mx finite there
    m[r] = mx;
    neg_m[r] = -mx;
  }
#pragma unroll
  for (int i = 0; i < 32; i++) {
    s[i] = exp2f(fmaf(s[i], scale_log2, neg_m[(i >> 1) & 1]));
    rs[(i >> 1) & 1] += s[i];
  }
  // l stays a per-lane partial sum (the quad's lanes share m), reduced over the quad once at the end.
  l[0] = l[0] * corr[0] + rs[0];
  l[1] = l[1] * corr[1] + rs[1];
}

// The 64 x 64 accumulator (warp w: rows 16 w + g and + 8; d[4 j + i]: columns 8 j + 2 q + (i & 1), rows by i / 2)
// as the bf16 A fragments of the next product, 16 columns at a time.
__device__ __forceinline__ void pack_fragments(uint32_t (&p)[4][4], const float (&d)[32]) {
#pragma unroll
  for (int kk = 0; kk < 4; kk++)
#pragma unroll
    for (int i = 0; i < 4; i++) p[kk][i] = pack_bf16(d[8 * kk + 2 * i], d[8 * kk + 2 * i + 1]);
}

#endif  // __CUDA_ARCH_FEAT_SM90_ALL

// Forward: a block owns 64 query rows of one (sequence, head) and walks the keys up to the diagonal in tiles of
// 64, K/V double-buffered. Shared memory: Q, then 2 stages of (K, V).
template <int D>
constexpr size_t kForwardSmem = 5 * kTileBytes<D> + 1024;

template <int D>
__global__ void __launch_bounds__(kWgThreads)
    forward_kernel(bf16* out, float* lse, const __grid_constant__ HeadMaps maps, const int32_t* cu_seqlens, int Hq,
                   int Hkv, float scale_log2) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ __align__(16) unsigned char smem_raw[];
  unsigned char* qs = aligned_smem(smem_raw);
  unsigned char* kv = qs + kTileBytes<D>;  // stage s: K at kv + 2 s kTileBytes<D>, V after it
  __shared__ __align__(8) uint64_t full[2];  // K/V stage s has landed (and Q, with tile 0)
  const uint32_t full_addr = shared_addr(full);

  const int h = blockIdx.x, b = blockIdx.y, g = h / (Hq / Hkv);
  const int s0 = cu_seqlens[b], len = cu_seqlens[b + 1] - s0;
  const int r0 = heavy_first_tile(true) * kTile;
  if (r0 >= len) return;
  const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32, tq = lane % 4;
  const int row_a = r0 + 16 * warp + lane / 4, row_b = row_a + 8;
  const bool producer = threadIdx.x == 0;

  const int tiles = r0 / kTile + 1;  // key tiles 0 .. the diagonal one
  if (producer) {
    mbarrier_init(full_addr, 1);
    mbarrier_init(full_addr + 8, 1);
    mbarrier_init_fence();
    request_kv<D>(kv, full_addr, maps, 0, s0, g, kTileBytes<D>);
    tma_tile<D>(qs, &maps.q, s0 + r0, h, full_addr);
  }
  __syncthreads();

  float o[D / 2];
  zero(o);
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
  for (int n = 0; n < tiles; n++) {
    const int j0 = n * kTile;
    if (producer && n + 1 < tiles) request_kv<D>(kv, full_addr, maps, n + 1, s0, g);
    const unsigned char* ks = kv_landed<D>(kv, full_addr, n);
    const unsigned char* vs = ks + kTileBytes<D>;

    float s[32];
    wgmma_fence();
    issue_rows_times_rows<D>(s, qs, ks);
    wgmma_commit();
    wgmma_wait<0>();
    wgmma_fence_operands(s);

    float corr[2];
    if (j0 == r0) mask_after_rows(s, j0, row_a);
    online_softmax_tile(s, m, l, corr, scale_log2);
#pragma unroll
    for (int i = 0; i < D / 2; i++) o[i] *= corr[(i >> 1) & 1];

    uint32_t p[4][4];
    pack_fragments(p, s);
    wgmma_fence_operands(o);
    wgmma_fence_fragments(p);
    issue_regs_times_tile<D>(o, p, vs);
    wgmma_commit();
    wgmma_wait<0>();
    wgmma_fence_operands(o);
    __syncthreads();  // this stage is refilled by the copy issued in the next iteration
  }

#pragma unroll
  for (int r = 0; r < 2; r++) {
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
  }
  const int64_t stride = int64_t(Hq) * D;
  float inv_l[2] = {1.0f / l[0], 1.0f / l[1]};
#pragma unroll
  for (int i = 0; i < D / 2; i++) o[i] *= inv_l[(i >> 1) & 1];
  store_rows_bf16<D>(out + (int64_t(s0) + row_a) * stride + int64_t(h) * D, stride, row_a < len, row_b < len, o, 1.0f,
                  false);
  if (tq == 0) {
    if (row_a < len) lse[(int64_t(s0) + row_a) * Hq + h] = (m[0] + log2f(l[0])) * kLn2;
    if (row_b < len) lse[(int64_t(s0) + row_b) * Hq + h] = (m[1] + log2f(l[1])) * kLn2;
  }
#else
  __trap();  // compute_90 PTX: Context::attention_wgmma() keeps this from being launched
#endif
}

// dk/dv: a block owns 64 keys of one (sequence, kv head) and, for each of up to kDkdvHeadsPerBlock query heads of
// the group in turn, loops over the query tiles at or after them, Q / dout (and their rows' lse, Di)
// double-buffered. Shared memory: K, V, then 2 stages of (Q, dout), then 2 stages of (lse log2 e [64], Di [64]).
// A block takes up to this many query heads of a group one after the other, adding into the same accumulators:
// the group sum then reads ceil(G / 3) partials per kv head instead of G (Qwen2.5-0.5B: 3 instead of 7), and a
// group of up to 3 needs none. Measured on an H100 at 8 x 1024 (backward, head dims 64 / 128): 2 heads per block
// 0.217-0.231 / 0.367 ms, 3 heads 0.219-0.221 / 0.349-0.351, 4 heads 0.251 / 0.377 (the causal triangle's
// longest blocks then outlast the rest of the grid).
constexpr int kDkdvHeadsPerBlock = 3;
__host__ __device__ constexpr int dkdv_parts(int G) { return (G + kDkdvHeadsPerBlock - 1) / kDkdvHeadsPerBlock; }

template <int D>
constexpr size_t kDkdvSmem = 6 * kTileBytes<D> + 1024 + 2 * 2 * kTile * sizeof(float);

template <int D>
__global__ void __launch_bounds__(kWgThreads)
    dkdv_kernel(bf16* dk, bf16* dv, float* dk_part, float* dv_part, const __grid_constant__ HeadMaps maps,
                const float* lse, const float* Di, const int32_t* cu_seqlens, int Hq, int Hkv, float scale,
                bool accumulate) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ __align__(16) unsigned char smem_raw[];
  unsigned char* ks = aligned_smem(smem_raw);
  unsigned char* vs = ks + kTileBytes<D>;
  unsigned char* qdo = vs + kTileBytes<D>;  // stage s: Q at qdo + 2 s kTileBytes<D>, dout after it
  float* rows_s = reinterpret_cast<float*>(qdo + 4 * kTileBytes<D>);
  __shared__ __align__(8) uint64_t full[2];  // Q / dout stage s has landed (and K, V, with item 0)
  const uint32_t full_addr = shared_addr(full);

  // Block x = g parts + part: kv head g, query heads h0 .. h0 + nh - 1 of its group.
  const int G = Hq / Hkv, parts = dkdv_parts(G), g = int(blockIdx.x) / parts, part = int(blockIdx.x) % parts;
  const int h0 = g * G + part * kDkdvHeadsPerBlock, nh = min(kDkdvHeadsPerBlock, G - part * kDkdvHeadsPerBlock);
  const int b = blockIdx.y, s0 = cu_seqlens[b], len = cu_seqlens[b + 1] - s0;
  const int j0 = heavy_first_tile(false) * kTile;
  if (j0 >= len) return;
  const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32, tq = lane % 4;
  const int key_a = j0 + 16 * warp + lane / 4, key_b = key_a + 8;
  const float scale_log2 = scale * kLog2e;

  // Work item m: query tile m % items of head h0 + m / items. Its Q and dout tiles come by TMA into stage m % 2
  // (one thread; query rows past the sequence's end hold the next sequence's values, and get lse = +inf, so P = 0);
  // its rows' lse and Di by the first 64 threads. The block barrier ending each step frees the stage refilled.
  const int items = (len - j0 + kTile - 1) / kTile, work = nh * items;
  const bool producer = threadIdx.x == 0;
  auto request_item = [&](int m, uint32_t extra) {
    const int h = h0 + m / items, i0 = j0 + m % items * kTile;
    unsigned char* qt = qdo + (m % 2) * 2 * kTileBytes<D>;
    const uint32_t bar = full_addr + 8 * (m % 2);
    mbarrier_expect_bytes(bar, uint32_t(2 * kTileBytes<D>) + extra);
    tma_tile<D>(qt, &maps.q, s0 + i0, h, bar);
    tma_tile<D>(qt + kTileBytes<D>, &maps.dout, s0 + i0, h, bar);
  };
  auto load_rows = [&](int m) {
    if (threadIdx.x < kTile) {
      const int h = h0 + m / items, i = j0 + m % items * kTile + int(threadIdx.x);
      float* rs = rows_s + (m % 2) * 2 * kTile;
      const int64_t r = (int64_t(s0) + i) * Hq + h;
      rs[threadIdx.x] = i < len ? lse[r] * kLog2e : INFINITY;  // past the end: P = 0
      rs[kTile + threadIdx.x] = i < len ? Di[r] : 0.0f;
    }
  };
  if (producer) {
    mbarrier_init(full_addr, 1);
    mbarrier_init(full_addr + 8, 1);
    mbarrier_init_fence();
    request_item(0, 2 * kTileBytes<D>);
    tma_tile<D>(ks, &maps.k, s0 + j0, g, full_addr);
    tma_tile<D>(vs, &maps.v, s0 + j0, g, full_addr);
  }
  load_rows(0);
  __syncthreads();

  float dk_acc[D / 2], dv_acc[D / 2];
  zero(dk_acc);
  zero(dv_acc);
  for (int m = 0; m < work; m++) {
    if (m + 1 < work) {
      if (producer) request_item(m + 1, 0);
      load_rows(m + 1);
    }
    mbarrier_wait(full_addr + 8 * (m % 2), uint32_t((m / 2) & 1));
    const int i0 = j0 + m % items * kTile, stage = m % 2;
    const unsigned char* qt = qdo + stage * 2 * kTileBytes<D>;
    const unsigned char* dot = qt + kTileBytes<D>;
    const float* lse_s = rows_s + stage * 2 * kTile;
    const float* di_s = lse_s + kTile;

    float pt[32], dst[32];  // S^T = K Q^T, dP^T = V dout^T: [64 keys x 64 queries]
    score_products<D>(pt, ks, qt, dst, vs, dot);

    // P^T = exp(S^T - lse), dS^T = P^T (dP^T - Di); on the diagonal tile (i0 == j0) queries before a key get P = 0.
    auto probabilities = [&](auto diagonal) {
#pragma unroll
      for (int i = 0; i < 32; i++) {
        const int qi = 8 * (i / 4) + 2 * tq + (i & 1);
        float pv = exp2f(pt[i] * scale_log2 - lse_s[qi]);
        if constexpr (diagonal) pv = i0 + qi < ((i & 2) ? key_b : key_a) ? 0.0f : pv;
        pt[i] = pv;
        dst[i] = pv * (dst[i] - di_s[qi]);
      }
    };
    if (i0 == j0) probabilities(std::true_type{});
    else probabilities(std::false_type{});
    uint32_t pf[4][4], dsf[4][4];
    pack_fragments(pf, pt);
    pack_fragments(dsf, dst);
    wgmma_fence_operands(dv_acc);
    wgmma_fence_operands(dk_acc);
    wgmma_fence_fragments(pf);
    wgmma_fence_fragments(dsf);
    issue_regs_times_tile<D>(dv_acc, pf, dot);  // dV += P^T dout
    issue_regs_times_tile<D>(dk_acc, dsf, qt);  // dK += dS^T Q
    wgmma_commit();
    wgmma_wait<0>();
    wgmma_fence_operands(dv_acc);
    wgmma_fence_operands(dk_acc);
    __syncthreads();  // this stage is refilled by the copy issued in the next iteration
  }

  if (parts > 1) {  // this block's share of the group, summed over the parts by attention_group_sum_kernel
    const int64_t stride = int64_t(Hkv) * parts * D;
    const int64_t base = (int64_t(s0) + key_a) * stride + int64_t(blockIdx.x) * D;
    store_rows_f32<D>(dk_part + base, stride, key_a < len, key_b < len, dk_acc);
    store_rows_f32<D>(dv_part + base, stride, key_a < len, key_b < len, dv_acc);
    return;
  }
  const int64_t stride = int64_t(Hkv) * D;
  const int64_t base = (int64_t(s0) + key_a) * stride + int64_t(g) * D;
  store_rows_bf16<D>(dk + base, stride, key_a < len, key_b < len, dk_acc, scale, accumulate);
  store_rows_bf16<D>(dv + base, stride, key_a < len, key_b < len, dv_acc, 1.0f, accumulate);
#else
  __trap();
#endif
}

// dq: a block owns 64 query rows of one (sequence, head) and walks the keys up to the diagonal, K/V
// double-buffered. Shared memory: Q, dout, then 2 stages of (K, V).
template <int D>
constexpr size_t kDqSmem = 6 * kTileBytes<D> + 1024;

template <int D>
__global__ void __launch_bounds__(kWgThreads)
    dq_kernel(bf16* dq, const __grid_constant__ HeadMaps maps, const float* lse, const float* Di,
              const int32_t* cu_seqlens, int Hq, int Hkv, float scale, bool accumulate) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ __align__(16) unsigned char smem_raw[];
  unsigned char* qs = aligned_smem(smem_raw);
  unsigned char* dos = qs + kTileBytes<D>;
  unsigned char* kv = dos + kTileBytes<D>;
  __shared__ __align__(8) uint64_t full[2];  // K/V stage s has landed (and Q, dout, with tile 0)
  const uint32_t full_addr = shared_addr(full);

  const int h = blockIdx.x, b = blockIdx.y, g = h / (Hq / Hkv);
  const int s0 = cu_seqlens[b], len = cu_seqlens[b + 1] - s0;
  const int r0 = heavy_first_tile(true) * kTile;
  if (r0 >= len) return;
  const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32, tq = lane % 4;
  const int row_a = r0 + 16 * warp + lane / 4, row_b = row_a + 8;
  const float scale_log2 = scale * kLog2e;

  float lse2[2], di[2];
  load_row_stats(lse2, di, lse, Di, s0, row_a, len, Hq, h);

  // Query rows past the sequence's end hold the next sequence's values; their lse of +inf makes their P zero.
  const int tiles = r0 / kTile + 1;
  const bool producer = threadIdx.x == 0;
  if (producer) {
    mbarrier_init(full_addr, 1);
    mbarrier_init(full_addr + 8, 1);
    mbarrier_init_fence();
    request_kv<D>(kv, full_addr, maps, 0, s0, g, 2 * kTileBytes<D>);
    tma_tile<D>(qs, &maps.q, s0 + r0, h, full_addr);
    tma_tile<D>(dos, &maps.dout, s0 + r0, h, full_addr);
  }
  __syncthreads();

  float dq_acc[D / 2];
  zero(dq_acc);
  for (int n = 0; n < tiles; n++) {
    const int j0 = n * kTile;
    if (producer && n + 1 < tiles) request_kv<D>(kv, full_addr, maps, n + 1, s0, g);
    const unsigned char* ks = kv_landed<D>(kv, full_addr, n);
    const unsigned char* vs = ks + kTileBytes<D>;

    float s[32], ds[32];  // S = Q K^T, dP = dout V^T
    score_products<D>(s, qs, ks, ds, dos, vs);

    // dS = P (dP - Di); on the diagonal tile (j0 == r0) keys after a row get P = 0.
    auto score_gradients = [&](auto diagonal) {
#pragma unroll
      for (int i = 0; i < 32; i++) {
        float pv = exp2f(s[i] * scale_log2 - lse2[(i >> 1) & 1]);
        if constexpr (diagonal)
          pv = j0 + 8 * (i / 4) + 2 * tq + (i & 1) > ((i & 2) ? row_b : row_a) ? 0.0f : pv;
        ds[i] = pv * (ds[i] - di[(i >> 1) & 1]);
      }
    };
    if (j0 == r0) score_gradients(std::true_type{});
    else score_gradients(std::false_type{});
    uint32_t dsf[4][4];
    pack_fragments(dsf, ds);
    wgmma_fence_operands(dq_acc);
    wgmma_fence_fragments(dsf);
    issue_regs_times_tile<D>(dq_acc, dsf, ks);  // dQ += dS K
    wgmma_commit();
    wgmma_wait<0>();
    wgmma_fence_operands(dq_acc);
    __syncthreads();  // this stage is refilled by the copy issued in the next iteration
  }

  const int64_t stride = int64_t(Hq) * D;
  store_rows_bf16<D>(dq + (int64_t(s0) + row_a) * stride + int64_t(h) * D, stride, row_a < len, row_b < len, dq_acc,
                  scale, accumulate);
#else
  __trap();
#endif
}

// The tensor maps of the kernels' operands ([T, heads x D] in 64 x 64 boxes); dout may be null (forward).
HeadMaps head_maps(const bf16* q, const bf16* k, const bf16* v, const bf16* dout, int T, int Hq, int Hkv, int D,
                   const char* op) {
  HeadMaps maps{};
  maps.q = tma_map_bf16(q, T, int64_t(Hq) * D, kTile, op);
  maps.k = tma_map_bf16(k, T, int64_t(Hkv) * D, kTile, op);
  maps.v = tma_map_bf16(v, T, int64_t(Hkv) * D, kTile, op);
  if (dout) maps.dout = tma_map_bf16(dout, T, int64_t(Hq) * D, kTile, op);
  return maps;
}

template <int D>
void launch_forward(Context& ctx, bf16* out, float* lse, const bf16* q, const bf16* k, const bf16* v,
                    const int32_t* cu_seqlens, int B, int T, int Hq, int Hkv, int max_seqlen) {
  static const bool configured = configure_kernel("attention_forward (wgmma)", forward_kernel<D>, kForwardSmem<D>);
  (void)configured;
  const HeadMaps maps = head_maps(q, k, v, nullptr, T, Hq, Hkv, D, "attention_forward (wgmma)");
  forward_kernel<D><<<tile_grid(Hq, B, max_seqlen), kWgThreads, kForwardSmem<D>, ctx.stream()>>>(
      out, lse, maps, cu_seqlens, Hq, Hkv, kLog2e / sqrtf(float(D)));
  R1_CUDA_LAUNCH_CHECK("attention_forward (wgmma)");
}

template <int D>
void launch_dkdv(Context& ctx, bf16* dk, bf16* dv, float* dk_part, float* dv_part, const bf16* dout, const bf16* q,
                 const bf16* k, const bf16* v, const float* lse, const float* Di, const int32_t* cu_seqlens, int B,
                 int T, int Hq, int Hkv, int max_seqlen, float scale, bool accumulate) {
  static const bool configured =
      configure_kernel("attention_backward (wgmma dk, dv)", dkdv_kernel<D>, kDkdvSmem<D>);
  (void)configured;
  R1_CHECK(dkdv_parts(Hq / Hkv) == 1 || dk_part, "attention_backward (wgmma dk, dv): grouped heads need partials");
  const HeadMaps maps = head_maps(q, k, v, dout, T, Hq, Hkv, D, "attention_backward (wgmma dk, dv)");
  dkdv_kernel<D><<<tile_grid(Hkv * dkdv_parts(Hq / Hkv), B, max_seqlen), kWgThreads, kDkdvSmem<D>, ctx.stream()>>>(
      dk, dv, dk_part, dv_part, maps, lse, Di, cu_seqlens, Hq, Hkv, scale, accumulate);
  R1_CUDA_LAUNCH_CHECK("attention_backward (wgmma dk, dv)");
}

template <int D>
void launch_dq(Context& ctx, bf16* dq, const bf16* dout, const bf16* q, const bf16* k, const bf16* v,
               const float* lse, const float* Di, const int32_t* cu_seqlens, int B, int T, int Hq, int Hkv,
               int max_seqlen, float scale, bool accumulate) {
  static const bool configured = configure_kernel("attention_backward (wgmma dq)", dq_kernel<D>, kDqSmem<D>);
  (void)configured;
  const HeadMaps maps = head_maps(q, k, v, dout, T, Hq, Hkv, D, "attention_backward (wgmma dq)");
  dq_kernel<D><<<tile_grid(Hq, B, max_seqlen), kWgThreads, kDqSmem<D>, ctx.stream()>>>(
      dq, maps, lse, Di, cu_seqlens, Hq, Hkv, scale, accumulate);
  R1_CUDA_LAUNCH_CHECK("attention_backward (wgmma dq)");
}

}  // namespace

bool wgmma_head_dim(int D) { return D == 64 || D == 128; }

int dkdv_wgmma_parts(int Hq, int Hkv) { return dkdv_parts(Hq / Hkv); }

void forward_wgmma(Context& ctx, bf16* out, float* lse, const bf16* q, const bf16* k, const bf16* v,
                   const int32_t* cu_seqlens, int B, int T, int Hq, int Hkv, int D, int max_seqlen) {
  if (D == 64) return launch_forward<64>(ctx, out, lse, q, k, v, cu_seqlens, B, T, Hq, Hkv, max_seqlen);
  R1_CHECK(D == 128, "attention_forward (wgmma): head dim must be 64 or 128");
  launch_forward<128>(ctx, out, lse, q, k, v, cu_seqlens, B, T, Hq, Hkv, max_seqlen);
}

void dkdv_wgmma(Context& ctx, bf16* dk, bf16* dv, float* dk_part, float* dv_part, const bf16* dout, const bf16* q,
                const bf16* k, const bf16* v, const float* lse, const float* Di, const int32_t* cu_seqlens, int B,
                int T, int Hq, int Hkv, int D, int max_seqlen, float scale, bool accumulate) {
  if (D == 64)
    return launch_dkdv<64>(ctx, dk, dv, dk_part, dv_part, dout, q, k, v, lse, Di, cu_seqlens, B, T, Hq, Hkv,
                           max_seqlen, scale, accumulate);
  R1_CHECK(D == 128, "attention_backward (wgmma): head dim must be 64 or 128");
  launch_dkdv<128>(ctx, dk, dv, dk_part, dv_part, dout, q, k, v, lse, Di, cu_seqlens, B, T, Hq, Hkv, max_seqlen,
                   scale, accumulate);
}

void dq_wgmma(Context& ctx, bf16* dq, const bf16* dout, const bf16* q, const bf16* k, const bf16* v,
              const float* lse, const float* Di, const int32_t* cu_seqlens, int B, int T, int Hq, int Hkv, int D,
              int max_seqlen, float scale, bool accumulate) {
  if (D == 64)
    return launch_dq<64>(ctx, dq, dout, q, k, v, lse, Di, cu_seqlens, B, T, Hq, Hkv, max_seqlen, scale, accumulate);
  R1_CHECK(D == 128, "attention_backward (wgmma): head dim must be 64 or 128");
  launch_dq<128>(ctx, dq, dout, q, k, v, lse, Di, cu_seqlens, B, T, Hq, Hkv, max_seqlen, scale, accumulate);
}

}  // namespace r1::cuda::attention
