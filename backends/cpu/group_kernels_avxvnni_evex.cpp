// The AVX-VNNI group kernels (group_kernels_256.h with kVnni) built with the
// EVEX encodings of the same two instructions, which AVX-512 VNNI has on
// 256-bit registers too. CPUs with AVX-512 VNNI but not AVX-VNNI (AMD Zen 4,
// Intel's servers before Sapphire Rapids) run it, so the laptops' code is
// tested bit for bit, and measured, on them as well; kernels.cpp offers it as
// the target AVX_VNNI_EVEX, never picks it by itself. With GCC the upper 16
// vector registers, which AVX-VNNI CPUs lack, are kept out of its code
// (core/layers.cmake), so its register use is theirs.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <utility>

#include "blocks.h"
#include "cpu/group_common.h"
#include "cpu/kernels.h"
#include "layouts.h"

namespace edgerun::cpu {
namespace avx_vnni_evex {
#define EDGERUN_GROUP_DPBUSD _mm256_dpbusd_epi32
#define EDGERUN_GROUP_DPWSSD _mm256_dpwssd_epi32
#include "cpu/group_kernels_256.h"  // NOLINT: compiled here with AVX-512 VNNI
}  // namespace avx_vnni_evex

void fill_avx_vnni_evex_group_kernels(KernelSet* ks) { avx_vnni_evex::Group256<true>::Fill(ks); }

}  // namespace edgerun::cpu
