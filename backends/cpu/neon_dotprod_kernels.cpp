// The NEON kernels (group_kernels_neon.h, row_kernels_neon.h) with the ARMv8.2-A dot-product
// instructions (sdot), for the CPUs whose kernel reports HWCAP_ASIMDDP: the
// Raspberry Pi 5's Cortex-A76 and later cores. Compiled with dotprod enabled
// (core/layers.cmake); called only where cpu_has_neon_dotprod() says so.
#include <arm_neon.h>

#include <cstring>

#include "blocks.h"
#include "cpu/block_order.h"
#include "cpu/group_common.h"
#include "cpu/kernels.h"
#include "layouts.h"
#include "quant_impl.h"

namespace edgerun::cpu {
namespace neon_dotprod {
#include "cpu/group_kernels_neon.h"  // NOLINT: compiled here with dotprod
#include "cpu/row_kernels_neon.h"  // NOLINT: the same instructions
}  // namespace neon_dotprod

void fill_neon_dotprod_kernels(KernelSet* ks) {
  neon_dotprod::GroupNeon<true>::Fill(ks);
  neon_dotprod::FillRowKernelsNeon<true>(ks);
}

}  // namespace edgerun::cpu
