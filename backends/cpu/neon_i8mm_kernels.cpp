// The NEON kernels (group_kernels_neon.h, row_kernels_neon.h) with the int8 matrix multiply
// instructions (smmla) for q4_0 and q8_0 prompts, sdot for the rest, for the
// CPUs whose kernel reports HWCAP2_I8MM (Neoverse V1/N2 and later, Cortex-A710
// and later, Apple M2 and later). Compiled with dotprod and i8mm enabled
// (core/layers.cmake); called only where cpu_has_neon_i8mm() says so.
#include <arm_neon.h>

#include <cstring>

#include "blocks.h"
#include "cpu/block_order.h"
#include "cpu/group_common.h"
#include "cpu/kernels.h"
#include "layouts.h"
#include "quant_impl.h"

namespace edgerun::cpu {
namespace neon_i8mm {
#include "cpu/group_kernels_neon.h"  // NOLINT: compiled here with dotprod and i8mm
#include "cpu/row_kernels_neon.h"  // NOLINT: the same instructions
}  // namespace neon_i8mm

void fill_neon_i8mm_kernels(KernelSet* ks) {
  neon_i8mm::GroupNeonI8mm::Fill(ks);
  neon_i8mm::FillRowKernelsNeon<true>(ks);
}

}  // namespace edgerun::cpu
