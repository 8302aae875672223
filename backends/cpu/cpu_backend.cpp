#include "cpu/cpu_backend.h"

#include <sys/mman.h>
#include <unistd.h>

namespace edgerun {

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<cpu::CpuBackend>(); }

namespace cpu {

void regroup_if_it_pays(CpuWeight& w) {
  const KernelSet& ks = best_kernels();
  using Repack = void (*)(const void*, int64_t, void*);
  Repack repack = nullptr;
  switch (w.type) {
    case DType::Q4_0: repack = ks.group_q4_0x16 ? repack_q4_0x16 : nullptr, w.group_bytes = q4_0x16_group_bytes(w.cols); break;
    case DType::Q8_0: repack = ks.group_q8_0x16 ? repack_q8_0x16 : nullptr, w.group_bytes = q8_0x16_group_bytes(w.cols); break;
    case DType::Q4_K: repack = ks.group_q4_Kx16 ? repack_q4_Kx16 : nullptr, w.group_bytes = q4_Kx16_group_bytes(w.cols); break;
    case DType::Q6_K: repack = ks.group_q6_Kx16 ? repack_q6_Kx16 : nullptr, w.group_bytes = q6_Kx16_group_bytes(w.cols); break;
    case DType::F16: repack = ks.group_f16x16 ? repack_f16x16 : nullptr, w.group_bytes = f16x16_group_bytes(w.cols); break;
    default: break;
  }
  // EDGERUN_NO_REGROUP=1 keeps the row layout (to compare the two).
  if (!repack || w.rows % kGroupRows != 0 || w.cols % 64 != 0 || std::getenv("EDGERUN_NO_REGROUP")) {
    w.group_bytes = 0;
    return;
  }
  const size_t bytes = static_cast<size_t>(w.rows / kGroupRows) * w.group_bytes;
  w.groups.reset(static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)));
  if (!w.groups) fail(w.name, "out of memory regrouping the weights");
  // The rows themselves are needed no more (but for a lookup now and then):
  // the kernel may reclaim their pages as soon as they are regrouped, so the
  // weights are never held twice. MADV_PAGEOUT keeps the contents of any kind
  // of memory (file pages go back to the page cache).
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  uintptr_t released = (reinterpret_cast<uintptr_t>(w.data) + page - 1) / page * page;
  const int64_t groups = w.rows / kGroupRows;
  for (int64_t g = 0; g < groups; ++g) {
    repack(w.row(g * kGroupRows), w.cols, w.groups.get() + g * w.group_bytes);
    if (g % 64 == 63 || g == groups - 1) {
      const uintptr_t done = reinterpret_cast<uintptr_t>(w.row((g + 1) * kGroupRows)) / page * page;
      if (done > released) madvise(reinterpret_cast<void*>(released), done - released, MADV_PAGEOUT);
      released = std::max(released, done);
    }
  }
}

}  // namespace cpu
}  // namespace edgerun
