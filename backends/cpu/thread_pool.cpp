#include "cpu/thread_pool.h"

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpu_relax() { _mm_pause(); }
#elif defined(__aarch64__)
static inline void cpu_relax() { asm volatile("yield"); }
#else
static inline void cpu_relax() {}
#endif

namespace edgerun {

namespace {
constexpr int kSpins = 20000;  // roughly half a millisecond before a worker sleeps

void run_chunk(const std::function<void(int64_t, int64_t, int)>& fn, int64_t n, int parts, int index) {
  const int64_t begin = n * index / parts, end = n * (index + 1) / parts;
  if (begin < end) fn(begin, end, index);
}
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::parallel_for(int64_t n, const Job& fn, int active) {
  if (n <= 0) return;
  const int parts = active > 0 ? std::min(active, n_threads_) : n_threads_;
  if (parts == 1 || n == 1) {
    fn(0, n, 0);
    return;
  }
  job_ = &fn;
  job_n_ = n;
  job_threads_ = parts;
  pending_.store(n_threads_ - 1);
  generation_.fetch_add(1);  // publishes job_ and job_n_ (sequentially consistent)
  if (sleepers_.load() > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    wake_.notify_all();
  }
  run_chunk(fn, n, parts, 0);
  while (pending_.load() != 0) cpu_relax();
  job_ = nullptr;
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    int spins = 0;
    uint64_t g;
    while ((g = generation_.load()) == seen && !stop_.load()) {
      if (++spins < kSpins) {
        cpu_relax();
        continue;
      }
      std::unique_lock<std::mutex> lock(mu_);
      sleepers_.fetch_add(1);
      wake_.wait(lock, [&] { return generation_.load() != seen || stop_.load(); });
      sleepers_.fetch_sub(1);
      spins = 0;
    }
    if (stop_.load()) return;
    seen = g;
    if (index < job_threads_) run_chunk(*job_, job_n_, job_threads_, index);
    pending_.fetch_sub(1);
  }
}

}  // namespace edgerun
