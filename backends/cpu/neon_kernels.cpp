// The NEON kernels (group_kernels_neon.h: the 16-row groups; row_kernels_neon.h:
// the other types' rows) for every ARMv8 CPU: plain NEON in this file, the
// dot-product ones in neon_dotprod_kernels.cpp, with smmla in neon_i8mm_kernels.cpp.
// Highway 1.0.3 has no int8 dot products for ARM, and no check for the CPU's
// dotprod, so these files are compiled apart (core/layers.cmake) and chosen
// by kernels.cpp from the kernel's HWCAP bits. aarch64 builds only.
#include <arm_neon.h>

#include <cstring>

#include "blocks.h"
#include "cpu/block_order.h"
#include "cpu/group_common.h"
#include "cpu/kernels.h"
#include "layouts.h"
#include "quant_impl.h"

namespace edgerun::cpu {
// Its own namespace: these inline functions must not be merged with the
// dotprod file's copies, which run only on CPUs that have sdot.
namespace neon {
#include "cpu/group_kernels_neon.h"  // NOLINT: compiled here for ARMv8-A
#include "cpu/row_kernels_neon.h"  // NOLINT: the same instructions
}  // namespace neon

void fill_neon_kernels(KernelSet* ks) {
  neon::GroupNeon<false>::Fill(ks);
  neon::FillRowKernelsNeon<false>(ks);
}

}  // namespace edgerun::cpu
