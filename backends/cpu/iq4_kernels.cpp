// The IQ4 kernels of the cpu backend (iq4_nl against q8_0 blocks, iq4_xs
// against q8_K), compiled once per Highway target like kernels.cpp. Each
// weight is a 4-bit index into a 16-entry codebook of signed bytes, so one
// byte shuffle turns 32 indices into 32 weights; the products then run as
// q8_0's do. x86 targets from SSSE3 have them (two 128-bit halves below
// AVX2, int8_helpers.h); ARM has its own (row_kernels_neon.h).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/iq4_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <cstring>

#include "blocks.h"
#include "cpu/block_order.h"
#include "cpu/kernels.h"
#include "fp16.h"

HWY_BEFORE_NAMESPACE();
namespace edgerun::cpu::HWY_NAMESPACE {
#include "cpu/int8_helpers.h"  // NOLINT: per target

#ifdef EDGERUN_X86_ROWS
// The codebook in both 128-bit halves, for v_shuffle8.
HWY_INLINE V32 iq4_table() { return v_broadcast16(kIQ4Values); }

// 16 bytes of packed indices -> 32 signed weights: low nibbles, then high.
HWY_INLINE V32 iq4_weights(V32 table, const uint8_t* qs) { return v_shuffle8(table, unpack_nibbles(qs)); }

// nt (1..kMaxTokens) tokens against one iq4_nl row; the weights are unpacked
// once per block for all of them. The order of docs/NUMERICS.md rule 2.
void DotNIQ4NL(const void* w, const void* const* act, int nt, float* out, int64_t n) {
  const auto* x = static_cast<const block_iq4_nl*>(w);
  const V32 table = iq4_table();
  float sum[kMaxTokens] = {};
  for (int64_t b = 0; b < n / QK; ++b) {
    const V32 v = iq4_weights(table, x[b].qs);
    const float dw = h2f(x[b].d);
    for (int t = 0; t < nt; ++t) {
      const auto* y = static_cast<const block_q8_0*>(act[t]) + b;
      const int32_t s = hsum_i32x8(dot_s8s8(v, load32(y->qs)));
      sum[t] = add_block(sum[t], dw * h2f(y->d), s);
    }
  }
  for (int t = 0; t < nt; ++t) out[t] = sum[t];
}

// iq4_xs: per super-block one integer sum of the sub-blocks' sums, each times
// its 6-bit scale (ls - 32), taken in the int16 -> int32 pair step.
void DotNIQ4XS(const void* w, const void* const* act, int nt, float* out, int64_t n) {
  const auto* x = static_cast<const block_iq4_xs*>(w);
  const V32 table = iq4_table();
  float sum[kMaxTokens] = {};
  for (int64_t b = 0; b < n / QK_K; ++b) {
    V32 acc[kMaxTokens];
    for (int t = 0; t < nt; ++t) acc[t] = v_zero();
    for (int ib = 0; ib < QK_K / QK; ++ib) {
      const V32 v = iq4_weights(table, x[b].qs + ib * (QK / 2));
      const V32 scale = v_set1_16(static_cast<int16_t>(iq4_xs_scale(x[b], ib)));
      for (int t = 0; t < nt; ++t) {
        const auto* y = static_cast<const block_q8_K*>(act[t]) + b;
        acc[t] = v_add32(acc[t], v_madd16(pairs_s8s8(v, load32(y->qs + ib * QK)), scale));
      }
    }
    const float dw = h2f(x[b].d);
    for (int t = 0; t < nt; ++t)
      sum[t] = add_block(sum[t], dw * (static_cast<const block_q8_K*>(act[t]) + b)->d, hsum_i32x8(acc[t]));
  }
  for (int t = 0; t < nt; ++t) out[t] = sum[t];
}

#endif

void FillIQ4Kernels(KernelSet* ks) {
#ifdef EDGERUN_X86_ROWS
  ks->dot_iq4_nl = &OneToken<DotNIQ4NL>;
  ks->dot_iq4_xs = &OneToken<DotNIQ4XS>;
  ks->dotn_iq4_nl = &DotNIQ4NL;
  ks->dotn_iq4_xs = &DotNIQ4XS;
#else
  (void)ks;
#endif
}

#undef EDGERUN_X86_INT8
#undef EDGERUN_X86_ROWS
}  // namespace edgerun::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace edgerun::cpu {
HWY_EXPORT(FillIQ4Kernels);
// Called with the same target chosen as FillKernels (kernels_for_each_target sets it for tests).
void fill_iq4_kernels(KernelSet* ks) { HWY_DYNAMIC_DISPATCH(FillIQ4Kernels)(ks); }
}  // namespace edgerun::cpu
#endif
