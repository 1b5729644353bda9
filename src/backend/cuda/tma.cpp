// Host side of tma.cuh: tensor maps are encoded by the driver (cuTensorMapEncodeTiled), reached through the
// runtime's entry-point query so that nothing links libcuda directly.
#include "backend/cuda/tma.cuh"

#include <cudaTypedefs.h>
#include <cuda_runtime.h>

#include <string>

#include "backend/cuda/check.h"
#include "core/error.h"

namespace r1::cuda {

namespace {

PFN_cuTensorMapEncodeTiled_v12000 encoder(const char* op) {
  static PFN_cuTensorMapEncodeTiled_v12000 fn = [op] {
    void* found = nullptr;
    cudaDriverEntryPointQueryResult status{};
    R1_CUDA_CHECK(op, cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &found, 12000, cudaEnableDefault,
                                                       &status));
    if (status != cudaDriverEntryPointSuccess || !found)
      throw Error(std::string("cuda: ") + op + ": the driver has no cuTensorMapEncodeTiled");
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(found);
  }();
  return fn;
}

}  // namespace

CUtensorMap tma_map_bf16(const __nv_bfloat16* base, int64_t rows, int64_t cols, int box_rows, const char* op) {
  CUtensorMap map{};
  const cuuint64_t dims[2] = {cuuint64_t(cols), cuuint64_t(rows)};
  const cuuint64_t strides[1] = {cuuint64_t(cols) * sizeof(__nv_bfloat16)};  // bytes between rows
  const cuuint32_t box[2] = {64, cuuint32_t(box_rows)};
  const cuuint32_t element_strides[2] = {1, 1};
  const CUresult r = encoder(op)(&map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, const_cast<__nv_bfloat16*>(base), dims,
                                 strides, box, element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE,
                                 CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                                 CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS)
    throw Error(std::string("cuda: ") + op + ": cuTensorMapEncodeTiled failed (error " + std::to_string(int(r)) +
                ") for a [" + std::to_string(rows) + ", " + std::to_string(cols) + "] bf16 matrix, box " +
                std::to_string(box_rows) + " x 64");
  return map;
}

}  // namespace r1::cuda
