// Thread count of the CPU backend (OpenMP loops and OpenBLAS). Small models lose to threading: at hidden size
// 64 a parallel region costs more than the work inside it, and on a busy 2-core machine spinning barriers made
// the tiny model 8x slower with 2 threads than with 1 (measured). auto_threads() picks 1 below hidden 256.
#pragma once

namespace r1::cpu {

void set_num_threads(int n);  // n <= 0: all hardware threads
int num_threads();
// The thread count worth using for a model of this hidden size: `requested` when positive (a job's `threads` key),
// else OMP_NUM_THREADS when set, else 1 below hidden 256 and every hardware thread above.
int auto_threads(int hidden_size, int requested = 0);

}  // namespace r1::cpu
