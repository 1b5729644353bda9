// A small fixed-size thread pool: rewards of a batch are independent pure functions, and a code reward spends
// most of its time waiting on a child process, so a pool of N workers overlaps N executions. Tasks are
// std::function<void()>; submit() returns a future so exceptions thrown by a task surface in the caller.
// parallel_for() runs an index range on the pool and rethrows the first exception after all items finished.
#pragma once
#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace r1 {

class ThreadPool {
 public:
  // threads <= 0: one per hardware thread (at least one).
  explicit ThreadPool(int threads = 0) {
    if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    workers_.reserve(static_cast<size_t>(threads));
    for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& worker : workers_) worker.join();  // queued tasks still run: futures handed out stay valid
  }

  int size() const { return static_cast<int>(workers_.size()); }

  template <typename F>
  auto submit(F&& task) -> std::future<decltype(task())> {
    using Result = decltype(task());
    auto packaged = std::make_shared<std::packaged_task<Result()>>(std::forward<F>(task));
    std::future<Result> future = packaged->get_future();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.emplace_back([packaged] { (*packaged)(); });
    }
    wake_.notify_one();
    return future;
  }

  // body(i) for i in [0, n), spread over the pool; blocks until every item ran, then rethrows the first
  // exception (by index) if any item threw. Must not be called from inside a task of the same pool (the
  // caller would wait on workers it occupies).
  void parallel_for(size_t n, const std::function<void(size_t)>& body) {
    std::vector<std::future<void>> done;
    done.reserve(n);
    for (size_t i = 0; i < n; ++i) done.push_back(submit([&body, i] { body(i); }));
    std::exception_ptr first;
    for (auto& f : done) {
      try {
        f.get();
      } catch (...) {
        if (!first) first = std::current_exception();
      }
    }
    if (first) std::rethrow_exception(first);
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping and drained
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();  // packaged_task stores any exception in its future
    }
  }

  std::vector<std::thread> workers_;
  std::deque<std::function<void()>> queue_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

}  // namespace r1
