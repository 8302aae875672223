#include "cpu/cpu_backend.h"

#include <sys/mman.h>
#include <unistd.h>

namespace edgerun {

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<cpu::CpuBackend>(); }

namespace cpu {

void regroup_if_it_pays(CpuWeight& w) {
  const auto kernel = best_kernels().group_q4_0x16;
  // EDGERUN_NO_REGROUP=1 keeps the row layout (to compare the two).
  if (w.type != DType::Q4_0 || !kernel || w.rows % kGroupRows != 0 || w.cols % 64 != 0 ||
      std::getenv("EDGERUN_NO_REGROUP"))
    return;
  w.group_bytes = q4_0x16_group_bytes(w.cols);
  const size_t bytes = static_cast<size_t>(w.rows / kGroupRows) * w.group_bytes;
  w.groups.reset(static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)));
  if (!w.groups) fail(w.name, "out of memory regrouping the weights");
  for (int64_t g = 0; g < w.rows / kGroupRows; ++g)
    repack_q4_0x16(w.row(g * kGroupRows), w.cols, w.groups.get() + g * w.group_bytes);
  // The rows themselves are needed no more (but for a lookup now and then):
  // let the kernel reclaim their pages, so the weights are not held twice.
  // MADV_PAGEOUT keeps the contents of any kind of memory.
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(w.data) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(w.data) + w.rows * w.row_bytes) / page * page;
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_PAGEOUT);
}

}  // namespace cpu
}  // namespace edgerun
