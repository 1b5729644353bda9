#include "backend/cuda/check.h"

#include <string>

#include "core/error.h"

namespace r1::cuda {

void fail_cuda(const char* op, const char* call, cudaError_t err, const char* file, int line) {
  throw Error(std::string("cuda: ") + op + ": " + call + " failed: " + cudaGetErrorName(err) + " (" +
              cudaGetErrorString(err) + ") at " + file + ":" + std::to_string(line));
}

void fail_cublas(const char* op, const char* call, cublasStatus_t status, const char* file, int line) {
  throw Error(std::string("cuda: ") + op + ": " + call + " failed: cuBLAS status " + std::to_string(int(status)) +
              " (" + cublasLtGetStatusName(status) + ": " + cublasLtGetStatusString(status) + ") at " + file + ":" +
              std::to_string(line));
}

}  // namespace r1::cuda
