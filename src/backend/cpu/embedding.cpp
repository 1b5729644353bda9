// Token embedding: a row gather forward; a scatter-add backward that stays deterministic by giving each thread
// its own slice of columns (no two threads ever add into the same element).
#include <algorithm>
#include <cstring>

#include "backend/cpu/ops.h"
#include "backend/cpu/vec.h"

namespace r1::cpu {

void embedding_forward(float* out, const int32_t* ids, const float* table, int T, int C) {
#pragma omp parallel for schedule(static) if (int64_t(T) * C > kMinParallelWork)
  for (int t = 0; t < T; t++) std::memcpy(out + size_t(t) * C, table + size_t(ids[t]) * C, size_t(C) * sizeof(float));
}

void embedding_backward(float* dtable, const float* dout, const int32_t* ids, int T, int C) {
  constexpr int kColumns = 64;
  const int blocks = (C + kColumns - 1) / kColumns;
#pragma omp parallel for schedule(static) if (int64_t(T) * C > kMinParallelWork)
  for (int b = 0; b < blocks; b++) {
    const int c0 = b * kColumns, c1 = std::min(C, c0 + kColumns);
    for (int t = 0; t < T; t++) {
      float* row = dtable + size_t(ids[t]) * C;
      const float* g = dout + size_t(t) * C;
      for (int c = c0; c < c1; c++) row[c] += g[c];
    }
  }
}

}  // namespace r1::cpu
