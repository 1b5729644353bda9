#include "backend/cpu/threads.h"

#include <cblas.h>
#include <omp.h>

#include <cstdlib>
#include <thread>

namespace r1::cpu {

void set_num_threads(int n) {
  if (n <= 0) n = int(std::thread::hardware_concurrency());
  if (n <= 0) n = 1;
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

int num_threads() { return omp_get_max_threads(); }

int auto_threads(int hidden_size, int requested) {
  if (requested > 0) return requested;
  if (const char* env = std::getenv("OMP_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  return hidden_size < 256 ? 1 : int(std::thread::hardware_concurrency());
}

}  // namespace r1::cpu
