#include "settings.h"
#include "cpu/cpu_backend.h"

#include <sys/mman.h>
#include <unistd.h>

namespace edgerun {

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<cpu::CpuBackend>(); }

namespace cpu {

GroupDotFn group_kernel(DType t) {
  const KernelSet& ks = best_kernels();
  switch (t) {
    case DType::Q4_0: return ks.group_q4_0x16;
    case DType::Q8_0: return ks.group_q8_0x16;
    case DType::Q5_0: return ks.group_q5_0x16;
    case DType::Q4_K: return ks.group_q4_Kx16;
    case DType::Q2_K: return ks.group_q2_Kx16;
    case DType::Q3_K: return ks.group_q3_Kx16;
    case DType::Q5_K: return ks.group_q5_Kx16;
    case DType::IQ4_XS: return ks.group_iq4_xsx16;
    case DType::Q6_K: return ks.group_q6_Kx16;
    case DType::F16: return ks.group_f16x16;
    case DType::BF16: return ks.group_bf16x16;
    case DType::IQ4_NL: return ks.group_iq4_nlx16;
    case DType::Q4_1: return ks.group_q4_1x16;
    case DType::Q5_1: return ks.group_q5_1x16;
    default: return nullptr;
  }
}

const char* kernel_form(DType t) {
  if (!quant_ops(t).vec_dot) return nullptr;
  if (group_kernel(t)) return "16-row groups";
  return best_kernels().dot(t) ? "SIMD rows" : "scalar reference";
}

void regroup_if_it_pays(CpuWeight& w) {
  const GroupDotFn kernel = group_kernel(w.type);
  // BackendSettings::no_regroup keeps the row layout (to compare the two);
  // groups from the file are always read as groups.
  if (!kernel || !x16_stored(w.type, w.rows, w.cols) || w.keep_mapped) return;
  if (!w.file_groups && backend_settings().no_regroup) return;
  w.group_dot = kernel;
  w.group_bytes = x16_tensor_bytes(w.type, kGroupRows, w.cols);
  const size_t bytes = static_cast<size_t>(w.rows / kGroupRows) * w.group_bytes;
  // Whole 2 MiB huge pages where the kernel gives them: a token streams
  // through every weight, and with 4 KiB pages the TLB misses cost much of
  // the bandwidth one core gets. That is why groups stored in the file are
  // copied too, not read where they are mapped (docs/PERFORMANCE.md measures both).
  // Only the whole huge pages are asked for: rounding every weight up to
  // 2 MiB would add ~100 MiB of memory to a 1.5B model.
  constexpr size_t kHuge = size_t{2} << 20;
  // posix_memalign, not aligned_alloc: the size need not be a multiple of the
  // alignment (C11's aligned_alloc asks that, and sanitizers hold it to it).
  void* mem = nullptr;
  if (posix_memalign(&mem, bytes >= kHuge ? kHuge : 64, (bytes + 63) / 64 * 64) != 0) mem = nullptr;
  w.owned_groups.reset(static_cast<uint8_t*>(mem));
  if (!w.owned_groups) fail(w.name, "out of memory regrouping the weights");
  if (bytes >= kHuge) madvise(w.owned_groups.get(), bytes / kHuge * kHuge, MADV_HUGEPAGE);
  w.groups = w.owned_groups.get();
  // The source (rows, or the file's groups) is needed no more (but rows for
  // a lookup now and then): the kernel may reclaim its pages as soon as they
  // are copied, so the weights are never held twice. MADV_PAGEOUT keeps the
  // contents of any kind of memory (file pages go back to the page cache).
  auto source = [&](int64_t g) { return w.file_groups ? w.file_groups + g * w.group_bytes : w.row(g * kGroupRows); };
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  uintptr_t released = (reinterpret_cast<uintptr_t>(source(0)) + page - 1) / page * page;
  const int64_t groups = w.rows / kGroupRows;
  for (int64_t g = 0; g < groups; ++g) {
    uint8_t* to = w.owned_groups.get() + g * w.group_bytes;
    if (w.file_groups) std::memcpy(to, source(g), w.group_bytes);
    else rows_to_x16(w.type, source(g), kGroupRows, w.cols, to);
    if (g % 64 == 63 || g == groups - 1) {
      const uintptr_t done = reinterpret_cast<uintptr_t>(source(g + 1)) / page * page;
      if (done > released) madvise(reinterpret_cast<void*>(released), done - released, MADV_PAGEOUT);
      released = std::max(released, done);
    }
  }
}

}  // namespace cpu
}  // namespace edgerun
