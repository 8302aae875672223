#include "cpu/cpu_backend.h"

#include <sys/mman.h>
#include <unistd.h>

namespace edgerun {

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<cpu::CpuBackend>(); }

namespace cpu {

void regroup_if_it_pays(CpuWeight& w) {
  // Per type: the group kernel of this CPU (null where there is none), the
  // layout's regrouping and its size.
  struct Layout {
    GroupDotFn kernel;
    void (*repack)(const void*, int64_t, void*);
    size_t (*group_bytes)(int64_t);
  };
  const KernelSet& ks = best_kernels();
  Layout l{};
  switch (w.type) {
    case DType::Q4_0: l = {ks.group_q4_0x16, repack_q4_0x16, q4_0x16_group_bytes}; break;
    case DType::Q8_0: l = {ks.group_q8_0x16, repack_q8_0x16, q8_0x16_group_bytes}; break;
    case DType::Q4_K: l = {ks.group_q4_Kx16, repack_q4_Kx16, q4_Kx16_group_bytes}; break;
    case DType::Q6_K: l = {ks.group_q6_Kx16, repack_q6_Kx16, q6_Kx16_group_bytes}; break;
    case DType::F16: l = {ks.group_f16x16, repack_f16x16, f16x16_group_bytes}; break;
    default: return;
  }
  // EDGERUN_NO_REGROUP=1 keeps the row layout (to compare the two).
  if (!l.kernel || w.rows % kGroupRows != 0 || w.cols % 64 != 0 || std::getenv("EDGERUN_NO_REGROUP")) return;
  w.group_dot = l.kernel;
  w.group_bytes = l.group_bytes(w.cols);
  const size_t bytes = static_cast<size_t>(w.rows / kGroupRows) * w.group_bytes;
  // Whole 2 MiB huge pages where the kernel gives them: a token streams
  // through every weight, and with 4 KiB pages the TLB misses cost a third
  // of the bandwidth one core gets.
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t alloc_bytes = bytes >= kHuge ? (bytes + kHuge - 1) / kHuge * kHuge : (bytes + 63) / 64 * 64;
  w.groups.reset(static_cast<uint8_t*>(std::aligned_alloc(bytes >= kHuge ? kHuge : 64, alloc_bytes)));
  if (!w.groups) fail(w.name, "out of memory regrouping the weights");
  if (bytes >= kHuge) madvise(w.groups.get(), alloc_bytes, MADV_HUGEPAGE);
  // The rows themselves are needed no more (but for a lookup now and then):
  // the kernel may reclaim their pages as soon as they are regrouped, so the
  // weights are never held twice. MADV_PAGEOUT keeps the contents of any kind
  // of memory (file pages go back to the page cache).
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  uintptr_t released = (reinterpret_cast<uintptr_t>(w.data) + page - 1) / page * page;
  const int64_t groups = w.rows / kGroupRows;
  for (int64_t g = 0; g < groups; ++g) {
    l.repack(w.row(g * kGroupRows), w.cols, w.groups.get() + g * w.group_bytes);
    if (g % 64 == 63 || g == groups - 1) {
      const uintptr_t done = reinterpret_cast<uintptr_t>(w.row((g + 1) * kGroupRows)) / page * page;
      if (done > released) madvise(reinterpret_cast<void*>(released), done - released, MADV_PAGEOUT);
      released = std::max(released, done);
    }
  }
}

}  // namespace cpu
}  // namespace edgerun
