// The 256-bit group kernels with AVX-VNNI (the VEX vpdpbusd of Intel's laptop
// and desktop CPUs since Alder Lake, and AMD's since Zen 5). Highway 1.0.3 has
// no target for it, so this file is compiled apart with the instruction sets
// it needs (core/layers.cmake) and called only where cpu_has_avx_vnni() says
// the CPU runs them (kernels.cpp). x86-64 builds only.
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
// Its own namespace: these inline functions must not be merged with the AVX2
// target's copies, which run on CPUs without VNNI.
namespace avx_vnni {
#include "cpu/group_kernels_256.h"  // NOLINT: compiled here with VNNI
}  // namespace avx_vnni

void fill_avx_vnni_group_kernels(KernelSet* ks) { avx_vnni::Group256<true>::Fill(ks); }

}  // namespace edgerun::cpu
