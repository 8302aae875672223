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

// Pieces per share: enough that a delayed thread's last pieces can be taken
// over, few enough that claiming one costs nothing beside its work.
constexpr int64_t kPiecesPerShare = 8;
}  // namespace

ThreadPool::ThreadPool(int n_threads, Team team)
    : n_threads_(std::max(1, n_threads)), team_(team), shares_(std::make_unique<Share[]>(static_cast<size_t>(n_threads_))) {
  if (team_) return;
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
  job_threads_ = parts;
  for (int i = 0; i < parts; ++i) {
    shares_[i].next.store(n * i / parts, std::memory_order_relaxed);
    shares_[i].end = n * (i + 1) / parts;
  }
  piece_ = std::max<int64_t>(1, n / parts / kPiecesPerShare);
  if (team_) {  // a team that starts fewer threads is fine: the others' shares are taken over
    team_(parts, [this](int index) { run_shares(index); });
    job_ = nullptr;
    return;
  }
  pending_.store(n_threads_ - 1);
  generation_.fetch_add(1);  // publishes job_ and the shares (sequentially consistent)
  if (sleepers_.load() > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    wake_.notify_all();
  }
  run_shares(0);
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
    if (index < job_threads_) run_shares(index);
    pending_.fetch_sub(1);
  }
}

void ThreadPool::run_shares(int index) {
  const Job& fn = *job_;
  const int parts = job_threads_;
  // Own share first (its pieces are contiguous, so prefetching runs ahead
  // into work this thread does next), then the others', in turn.
  for (int k = 0; k < parts; ++k) {
    Share& s = shares_[(index + k) % parts];
    for (;;) {
      const int64_t begin = s.next.fetch_add(piece_, std::memory_order_relaxed);
      if (begin >= s.end) break;
      fn(begin, std::min(begin + piece_, s.end), index);
    }
  }
}

}  // namespace edgerun
