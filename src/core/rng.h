// Philox4x32-10 counter-based RNG (Salmon et al., SC'11). A generator is (seed, stream, position): streams
// with different ids are independent, and the state is three integers, so it checkpoints and resumes
// exactly. The same function runs on the GPU, which lets CPU and CUDA sampling agree draw for draw.
#pragma once
#include <array>
#include <cstdint>

namespace r1 {

// One Philox block: 4 outputs from a 128-bit counter and a 64-bit key.
std::array<uint32_t, 4> philox4x32_10(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key);

class Philox {
 public:
  struct State {
    uint64_t seed = 0, stream = 0, position = 0;  // position counts 32-bit outputs drawn
  };
  Philox() = default;
  Philox(uint64_t seed, uint64_t stream) { state_.seed = seed, state_.stream = stream; }
  explicit Philox(State s) : state_(s) {}

  uint32_t next_u32();
  uint64_t next_u64() {
    // Two statements: the order of the draws must not be left to the compiler.
    const uint64_t hi = next_u32();
    const uint64_t lo = next_u32();
    return (hi << 32) | lo;
  }
  // Uniform in [0, 1) with 24 bits of resolution (exactly representable floats).
  float uniform() { return float(next_u32() >> 8) * (1.0f / 16777216.0f); }
  // Uniform in [0, 1) as a double with 53 bits.
  double uniform_double() { return double(next_u64() >> 11) * (1.0 / 9007199254740992.0); }
  // Standard normal (Box-Muller).
  float normal();
  // Uniform integer in [0, n) without modulo bias.
  uint64_t below(uint64_t n);

  const State& state() const { return state_; }

 private:
  State state_;
};

}  // namespace r1
