// A small fork-join pool. The calling thread works too, so n_threads == 1
// runs everything inline. Workers spin briefly between jobs before sleeping:
// a forward pass hands out hundreds of short jobs per token, and waking a
// sleeping thread costs more than most of them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace edgerun {

class ThreadPool {
 public:
  // Runs body(0..n-1) on n threads of another threading runtime and returns
  // when all are done. A backend whose library brings its own threads
  // (onednn: OpenMP) runs our jobs on those too, so that two sets of threads
  // never spin against each other for the same cores.
  using Team = void (*)(int n, const std::function<void(int)>& body);

  explicit ThreadPool(int n_threads, Team team = nullptr);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }
  // Runs fn(begin, end, thread_index) over pieces of [0, n). Each thread owns
  // a contiguous share and works through it in a few pieces; one that is done
  // takes pieces from the others' shares, so a thread the OS delays (this is
  // a shared machine) does not hold the rest up. fn may be called several
  // times per thread, never concurrently for one thread_index.
  // `active` (1..size(), 0 = all) threads take part; the others sit this job out.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn, int active = 0);

 private:
  using Job = std::function<void(int64_t, int64_t, int)>;
  void worker(int index);
  void run_shares(int index);

  int n_threads_;
  Team team_;
  // One thread's share of the current job; pieces are claimed from `next`.
  struct alignas(64) Share {
    std::atomic<int64_t> next{0};
    int64_t end = 0;
  };
  std::unique_ptr<Share[]> shares_;
  int64_t piece_ = 1;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable wake_;
  const Job* job_ = nullptr;
  int job_threads_ = 1;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace edgerun
