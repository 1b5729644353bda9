// Which kernel computes a group of decode products (decode_linears' measured choice, kept in the GemmCache):
// cuBLASLt (splits == 0), or one of ours with the reduction over the input cut into `splits` parts added by a
// thread-block cluster — the mma.sync kernel (64 x 64 output tiles) or the wgmma kernel (64 or 128 output
// features x 64, 128 or 256 tokens per block, Hopper only).
#pragma once
#include <algorithm>
#include <array>
#include <string>

namespace r1::cuda {

struct DecodeKernel {
  int splits = 0;
  bool wgmma = false;
  int features = 64, tokens = 64;  // output tile of one block

  // The wgmma kernel's tile shapes (decode_matmul_wgmma.cu instantiates each).
  static constexpr std::array<int, 2> kWgmmaFeatures{64, 128};
  static constexpr std::array<int, 3> kWgmmaTokens{64, 128, 256};

  static DecodeKernel cublas() { return {}; }
  static DecodeKernel mma(int splits) { return {splits, false, 64, 64}; }
  static DecodeKernel warpgroup(int features, int tokens, int splits) { return {splits, true, features, tokens}; }
  bool ours() const { return splits > 0; }
  // Whether a kernel of ours exists for this tile (splits aside).
  bool tile_exists() const {
    if (!wgmma) return features == 64 && tokens == 64;
    return std::find(kWgmmaFeatures.begin(), kWgmmaFeatures.end(), features) != kWgmmaFeatures.end() &&
           std::find(kWgmmaTokens.begin(), kWgmmaTokens.end(), tokens) != kWgmmaTokens.end();
  }
  // "cuBLASLt", "mma 64x64 /4", "wgmma 128x256 /2" (features x tokens / splits), for benchmark tables.
  std::string name() const {
    if (!ours()) return "cuBLASLt";
    return std::string(wgmma ? "wgmma " : "mma ") + std::to_string(features) + "x" + std::to_string(tokens) + " /" +
           std::to_string(splits);
  }
};

}  // namespace r1::cuda
