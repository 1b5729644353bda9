// Causal grouped-query attention over packed variable-length sequences: the forward, FlashAttention-2 style on
// tensor cores (mma.sync m16n8k16, bf16 in, float32 accumulators).
// A block owns 64 query rows of one (sequence, query head); each of its 4 warps owns 16 rows, keeps their Q
// fragments in registers, and walks the sequence's keys up to the diagonal in tiles of 64 staged in shared
// memory, with the online softmax (in base 2: scores pre-multiplied by log2 e):
//   s = q k^T / sqrt(D);  m' = max(m, rowmax s);  l = l 2^(m-m') + rowsum 2^(s-m');  O = O 2^(m-m') + 2^(s-m') V
//   out = O / l;  lse = (m + log2 l) ln 2   (natural log, saved for the backward)
// No [T x T] matrix exists: a warp holds its 16 x 64 score tile in registers only. K/V tiles are double-buffered
// with cp.async, so the copy of the next tile overlaps the products on the current one.
#include "backend/cuda/attention.cuh"
#include "backend/cuda/attention_wgmma.h"
#include "backend/cuda/ops.h"
#include "core/error.h"

namespace r1::cuda {

namespace {

using namespace attention;

template <int D>
__global__ void __launch_bounds__(kThreads)
attention_forward_kernel(bf16* out, float* lse, const bf16* q, const bf16* k, const bf16* v,
                         const int32_t* cu_seqlens, int Hq, int Hkv, float scale_log2) {
  constexpr int LD = ld<D>();
  extern __shared__ __align__(16) unsigned char smem_raw[];
  bf16* qs = reinterpret_cast<bf16*>(smem_raw);  // [64][LD]
  bf16* kv = qs + kTile * LD;                    // 2 stages x (K [64][LD], V [64][LD])

  const int h = blockIdx.x, b = blockIdx.y, g = h / (Hq / Hkv);
  const int s0 = cu_seqlens[b], len = cu_seqlens[b + 1] - s0;
  const int r0 = heavy_first_tile(true) * kTile;
  if (r0 >= len) return;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, gq = lane / 4, tq = lane % 4;
  const int warp_first = r0 + 16 * warp;
  const int row_a = warp_first + gq, row_b = row_a + 8;  // this lane's two rows, relative to the sequence

  load_tile<D>(qs, q, s0, r0, len, Hq, h);
  __syncthreads();
  uint32_t qf[D / 16][4];
#pragma unroll
  for (int kk = 0; kk < D / 16; kk++) load_a(qf[kk], qs, LD, 16 * warp, 16 * kk);

  float o[D / 8][4];
#pragma unroll
  for (int dn = 0; dn < D / 8; dn++) o[dn][0] = o[dn][1] = o[dn][2] = o[dn][3] = 0.0f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};

  // K/V tiles are double-buffered: tile n+1 is copied asynchronously while tile n is computed on.
  const int block_last = min(r0 + kTile, len) - 1;
  const int tiles = block_last / kTile + 1;
  load_tile_async<D>(kv, k, s0, 0, len, Hkv, g);
  load_tile_async<D>(kv + kTile * LD, v, s0, 0, len, Hkv, g);
  cp_async_commit();
  for (int n = 0; n < tiles; n++) {
    const int j0 = n * kTile;
    if (n + 1 < tiles) {
      bf16* next = kv + ((n + 1) % 2) * 2 * kTile * LD;
      load_tile_async<D>(next, k, s0, j0 + kTile, len, Hkv, g);
      load_tile_async<D>(next + kTile * LD, v, s0, j0 + kTile, len, Hkv, g);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    const bf16* ks = kv + (n % 2) * 2 * kTile * LD;
    const bf16* vs = ks + kTile * LD;
    if (j0 <= warp_first + 15) {  // else every key of the tile is after every row of this warp
      float s[8][4];
#pragma unroll
      for (int nt = 0; nt < 8; nt++) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
#pragma unroll
      for (int kk = 0; kk < D / 16; kk++)
#pragma unroll
        for (int nt = 0; nt < 8; nt++) {
          uint32_t bf[2];
          load_b_nk(bf, ks, LD, 8 * nt, 16 * kk);
          mma_bf16(s[nt], qf[kk], bf);
        }

      const bool diagonal = j0 + kTile - 1 > warp_first;  // some key of the tile may follow some row
      float mx[2] = {m[0], m[1]};
#pragma unroll
      for (int nt = 0; nt < 8; nt++)
#pragma unroll
        for (int i = 0; i < 4; i++) {
          const int key = j0 + 8 * nt + 2 * tq + (i & 1), row = i < 2 ? row_a : row_b;
          float x = s[nt][i] * scale_log2;
          if (diagonal && key > row) x = -INFINITY;
          s[nt][i] = x;
          mx[i / 2] = fmaxf(mx[i / 2], x);
        }
      float corr[2], rs[2] = {0.0f, 0.0f};
#pragma unroll
      for (int r = 0; r < 2; r++) {
        mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
        mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
        corr[r] = exp2f(m[r] - mx[r]);  // 0 on the first tile (m = -inf); key 0 makes mx finite there
        m[r] = mx[r];
      }
#pragma unroll
      for (int nt = 0; nt < 8; nt++)
#pragma unroll
        for (int i = 0; i < 4; i++) {
          s[nt][i] = exp2f(s[nt][i] - mx[i / 2]);
          rs[i / 2] += s[nt][i];
        }
      // l stays a per-lane partial sum (the quad's lanes share m), reduced over the quad once at the end.
      l[0] = l[0] * corr[0] + rs[0];
      l[1] = l[1] * corr[1] + rs[1];
#pragma unroll
      for (int dn = 0; dn < D / 8; dn++) {
        o[dn][0] *= corr[0];
        o[dn][1] *= corr[0];
        o[dn][2] *= corr[1];
        o[dn][3] *= corr[1];
      }
#pragma unroll
      for (int kk = 0; kk < 4; kk++) {  // keys 16 kk .. 16 kk + 15 of the tile
        uint32_t a[4];
        pack_a(a, s[2 * kk], s[2 * kk + 1]);
#pragma unroll
        for (int dn = 0; dn < D / 8; dn++) {
          uint32_t bf[2];
          load_b_kn(bf, vs, LD, 16 * kk, 8 * dn);
          mma_bf16(o[dn], a, bf);
        }
      }
    }
    __syncthreads();  // this buffer is refilled by the copy issued in the next iteration
  }

#pragma unroll
  for (int r = 0; r < 2; r++) {
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
  }
#pragma unroll
  for (int r = 0; r < 2; r++) {
    const int row = r == 0 ? row_a : row_b;
    if (row >= len) continue;
    const int64_t t = int64_t(s0) + row;
    const float inv = 1.0f / l[r];
    bf16* dst = out + (t * Hq + h) * D + 2 * tq;
#pragma unroll
    for (int dn = 0; dn < D / 8; dn++)
      *reinterpret_cast<uint32_t*>(dst + 8 * dn) = pack_bf16(o[dn][2 * r] * inv, o[dn][2 * r + 1] * inv);
    if (tq == 0) lse[t * Hq + h] = (m[r] + log2f(l[r])) * kLn2;
  }
}

template <int D>
void launch(Context& ctx, bf16* out, float* lse, const bf16* q, const bf16* k, const bf16* v,
            const int32_t* cu_seqlens, int B, int Hq, int Hkv, int max_seqlen) {
  const size_t smem = sizeof(bf16) * 5 * kTile * ld<D>();
  auto kernel = attention_forward_kernel<D>;
  R1_CUDA_CHECK("attention_forward",
                cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
  const dim3 grid = tile_grid(Hq, B, max_seqlen);
  kernel<<<grid, kThreads, smem, ctx.stream()>>>(out, lse, q, k, v, cu_seqlens, Hq, Hkv,
                                                 kLog2e / sqrtf(float(D)));
  R1_CUDA_LAUNCH_CHECK("attention_forward");
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

void attention_forward(Context& ctx, bf16* out, float* lse, const bf16* q, const bf16* k, const bf16* v,
                       const int32_t* cu_seqlens, int B, int T, int Hq, int Hkv, int D, int max_seqlen) {
  if (T <= 0 || B <= 0 || max_seqlen <= 0) return;
  R1_CHECK(Hkv > 0 && Hq % Hkv == 0, "attention_forward: Hq must be a multiple of Hkv");
  R1_CHECK(aligned16(out) && aligned16(q) && aligned16(k) && aligned16(v),
           "attention_forward: q, k, v and out must be 16-byte aligned");
  if (ctx.attention_wgmma() && attention::wgmma_head_dim(D))
    return attention::forward_wgmma(ctx, out, lse, q, k, v, cu_seqlens, B, T, Hq, Hkv, D, max_seqlen);
  switch (D) {
    case 32: return launch<32>(ctx, out, lse, q, k, v, cu_seqlens, B, Hq, Hkv, max_seqlen);
    case 64: return launch<64>(ctx, out, lse, q, k, v, cu_seqlens, B, Hq, Hkv, max_seqlen);
    case 128: return launch<128>(ctx, out, lse, q, k, v, cu_seqlens, B, Hq, Hkv, max_seqlen);
    default: throw Error("cuda: attention_forward: head dim " + std::to_string(D) + " is not supported (32, 64, 128)");
  }
}

}  // namespace r1::cuda
