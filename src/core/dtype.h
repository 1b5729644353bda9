// Storage dtypes. Compute on the CPU is always float32; bf16/f16 exist for storage (checkpoints, GPU).
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

namespace r1 {

enum class DType : uint8_t { F32, BF16, F16 };

size_t dtype_size(DType t);
const char* dtype_name(DType t);  // "F32", "BF16", "F16" — the safetensors spelling

// bf16: the top 16 bits of a float32; round to nearest even, NaN stays NaN.
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}
inline float bf16_to_f32(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
// IEEE half precision, round to nearest even, with subnormals, infinities and NaN.
uint16_t f32_to_f16(float f);
float f16_to_f32(uint16_t h);

// Converts n values from storage dtype `from` (little-endian bytes) to float32.
void convert_to_f32(DType from, const void* src, float* dst, size_t n);
// Converts n float32 values to storage dtype `to`.
void convert_from_f32(DType to, const float* src, void* dst, size_t n);

}  // namespace r1
