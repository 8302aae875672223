// Row kernels of the cpu backend for q4_1 and q5_1 (against q8_1 blocks),
// q5_0 (q8_0), q2_K, q3_K and q5_K (q8_K) — for matrices whose shape does not
// fit 16-row groups, and every matrix on targets without group kernels —
// compiled once per Highway target like kernels.cpp. Each
// unpacks a block to bytes (fifth bits spread in, 2-bit values shifted out)
// and then multiplies as q4_0's and q4_K's kernels do, in docs/NUMERICS.md's
// order. x86 targets from SSSE3 have them (two 128-bit halves below AVX2,
// int8_helpers.h); ARM has its own (row_kernels_neon.h).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/row_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <cstring>

#include "blocks.h"
#include "cpu/block_order.h"
#include "cpu/kernels.h"
#include "fp16.h"
#include "quant_impl.h"

HWY_BEFORE_NAMESPACE();
namespace edgerun::cpu::HWY_NAMESPACE {
#include "cpu/int8_helpers.h"  // NOLINT: per target

#ifdef EDGERUN_X86_ROWS
// 32 fifth bits (bit e for element e) -> byte e is 0x10 where the bit is set.
HWY_INLINE V32 fifth_bits(const uint8_t* qh) {
  uint32_t h;
  std::memcpy(&h, qh, 4);
  const V32 byte_of = v_set64(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
  const V32 bit = v_set1_64(static_cast<int64_t>(0x8040201008040201ull));
  const V32 v = v_and(v_shuffle8(v_set1_32(static_cast<int>(h)), byte_of), bit);
  return v_and(v_cmpeq8(v, bit), v_set1_8(0x10));
}

// nt (1..kMaxTokens) tokens against one q5_0 row: per block the weights
// (q - 16, signed) are unpacked once for all of them; docs/NUMERICS.md rule 2.
void DotNQ5_0(const void* w, const void* const* act, int nt, float* out, int64_t n) {
  const auto* x = static_cast<const block_q5_0*>(w);
  const V32 sixteen = v_set1_8(16);
  float sum[kMaxTokens] = {};
  for (int64_t b = 0; b < n / QK; ++b) {
    const V32 v = v_sub8(v_or(unpack_nibbles(x[b].qs), fifth_bits(x[b].qh)), sixteen);
    const float dw = h2f(x[b].d);
    for (int t = 0; t < nt; ++t) {
      const auto* y = static_cast<const block_q8_0*>(act[t]) + b;
      sum[t] = add_block(sum[t], dw * h2f(y->d), hsum_i32x8(dot_s8s8(v, load32(y->qs))));
    }
  }
  for (int t = 0; t < nt; ++t) out[t] = sum[t];
}

// q5_K: q4_K's nibbles with a fifth bit from qh (bit c of byte l for element
// 32 c + l of each 256), scaled per 32 in the int16 pair step; the mins'
// share from the activations' 16-element sums.
void DotNQ5_K(const void* w, const void* const* act, int nt, float* out, int64_t n) {
  const auto* x = static_cast<const block_q5_K*>(w);
  const V32 m4 = v_set1_8(0x0F), one = v_set1_8(1);
  float sum[kMaxTokens] = {};
  for (int64_t b = 0; b < n / QK_K; ++b) {
    int sc[8], mn[8];
    for (int j = 0; j < 8; ++j) quant::scale_min_6bit(x[b].scales, j, &sc[j], &mn[j]);
    const V32 qh = load32(x[b].qh);
    V32 lo[4], hi[4];
    for (int c = 0; c < 4; ++c) {
      const V32 q = load32(x[b].qs + 32 * c);
      lo[c] = v_or(v_and(q, m4), v_slli16(v_and(v_srli16(qh, 2 * c), one), 4));
      hi[c] = v_or(v_and(v_srli16(q, 4), m4), v_slli16(v_and(v_srli16(qh, 2 * c + 1), one), 4));
    }
    const float d = h2f(x[b].d), dmin = h2f(x[b].dmin);
    for (int t = 0; t < nt; ++t) {
      const auto* y = static_cast<const block_q8_K*>(act[t]) + b;
      int32_t imin = 0;
      for (int j = 0; j < 8; ++j) imin += mn[j] * (y->bsums[2 * j] + y->bsums[2 * j + 1]);
      V32 acc = v_zero();
      for (int c = 0; c < 4; ++c) {
        acc = dot_u8s8_scaled(acc, lo[c], load32(y->qs + 64 * c), v_set1_16(static_cast<int16_t>(sc[2 * c])));
        acc = dot_u8s8_scaled(acc, hi[c], load32(y->qs + 64 * c + 32), v_set1_16(static_cast<int16_t>(sc[2 * c + 1])));
      }
      sum[t] = add_block_k(sum[t], d, dmin, y->d, hsum_i32x8(acc), imin);
    }
  }
  for (int t = 0; t < nt; ++t) out[t] = sum[t];
}

// q4_1 / q5_1: unsigned values with a min: (d_w d_a) I + m_w s_a per block,
// s_a the activation block's f16 (d_a times its quants' sum).
template <bool kFive>
void DotNQx_1(const void* w, const void* const* act, int nt, float* out, int64_t n) {
  float sum[kMaxTokens] = {};
  for (int64_t b = 0; b < n / QK; ++b) {
    V32 v;
    float dw, mw;
    if (kFive) {
      const auto& x = static_cast<const block_q5_1*>(w)[b];
      v = v_or(unpack_nibbles(x.qs), fifth_bits(x.qh));
      dw = h2f(x.d);
      mw = h2f(x.m);
    } else {
      const auto& x = static_cast<const block_q4_1*>(w)[b];
      v = unpack_nibbles(x.qs);
      dw = h2f(x.d);
      mw = h2f(x.m);
    }
    for (int t = 0; t < nt; ++t) {
      const auto* y = static_cast<const block_q8_1*>(act[t]) + b;
      const int32_t i = hsum_i32x8(dot_u8s8(v, load32(y->qs)));
      sum[t] = add_block_min(sum[t], dw * h2f(y->d), i, mw * h2f(y->s));
    }
  }
  for (int t = 0; t < nt; ++t) out[t] = sum[t];
}

// 16 int16 scales for a 32-byte product: the first 16 bytes' pair sums take a, the rest b.
HWY_INLINE V32 two_scales(int a, int b) { return v_set_halves16(static_cast<int16_t>(a), static_cast<int16_t>(b)); }

// q2_K: 2-bit values, a 4-bit scale and min per 16: element 128 h + 32 s + l
// is bits 2s.. of byte 32 h + l.
void DotNQ2_K(const void* w, const void* const* act, int nt, float* out, int64_t n) {
  const auto* x = static_cast<const block_q2_K*>(w);
  const V32 m2 = v_set1_8(3);
  float sum[kMaxTokens] = {};
  for (int64_t b = 0; b < n / QK_K; ++b) {
    V32 q[8];
    for (int h = 0; h < 2; ++h) {
      const V32 bytes = load32(x[b].qs + 32 * h);
      for (int sh = 0; sh < 4; ++sh) q[4 * h + sh] = v_and(v_srli16(bytes, 2 * sh), m2);
    }
    const float d = h2f(x[b].d), dmin = h2f(x[b].dmin);
    for (int t = 0; t < nt; ++t) {
      const auto* y = static_cast<const block_q8_K*>(act[t]) + b;
      int32_t imin = 0;
      for (int g = 0; g < 16; ++g) imin += (x[b].scales[g] >> 4) * y->bsums[g];
      V32 acc = v_zero();
      for (int k = 0; k < 8; ++k)  // 32 elements, groups 2k and 2k + 1
        acc = dot_u8s8_scaled(acc, q[k], load32(y->qs + 32 * k),
                              two_scales(x[b].scales[2 * k] & 0x0F, x[b].scales[2 * k + 1] & 0x0F));
      sum[t] = add_block_k(sum[t], d, dmin, y->d, hsum_i32x8(acc), imin);
    }
  }
  for (int t = 0; t < nt; ++t) out[t] = sum[t];
}

// q3_K: values q2 - 4 (high bit clear) or q2 (set), taken as q2 + 4 h in 0..7
// with the 4 back through the activations' sums: sum sc (q + 4) a - 4 sum sc bsum.
// Sixteen signed 6-bit scales (minus 32). dmin is 0: (d d_a) I alone.
void DotNQ3_K(const void* w, const void* const* act, int nt, float* out, int64_t n) {
  const auto* x = static_cast<const block_q3_K*>(w);
  const V32 m2 = v_set1_8(3), one = v_set1_8(1);
  float sum[kMaxTokens] = {};
  for (int64_t b = 0; b < n / QK_K; ++b) {
    int sc[16];
    for (int g = 0; g < 16; ++g) {
      const int low = g < 8 ? x[b].scales[g] & 0x0F : x[b].scales[g - 8] >> 4;
      const int high = (x[b].scales[8 + g % 4] >> (2 * (g / 4))) & 3;
      sc[g] = (low | (high << 4)) - 32;
    }
    const V32 hm = load32(x[b].hmask);
    V32 q[8];
    for (int h = 0; h < 2; ++h) {
      const V32 bytes = load32(x[b].qs + 32 * h);
      for (int sh = 0; sh < 4; ++sh) {
        const V32 hbit = v_and(v_srli16(hm, 4 * h + sh), one);
        q[4 * h + sh] = v_or(v_and(v_srli16(bytes, 2 * sh), m2), v_slli16(hbit, 2));
      }
    }
    const float d = h2f(x[b].d);
    for (int t = 0; t < nt; ++t) {
      const auto* y = static_cast<const block_q8_K*>(act[t]) + b;
      int32_t ioff = 0;
      for (int g = 0; g < 16; ++g) ioff += sc[g] * y->bsums[g];
      V32 acc = v_zero();
      for (int k = 0; k < 8; ++k) acc = dot_u8s8_scaled(acc, q[k], load32(y->qs + 32 * k), two_scales(sc[2 * k], sc[2 * k + 1]));
      sum[t] = add_block(sum[t], d * y->d, hsum_i32x8(acc) - 4 * ioff);
    }
  }
  for (int t = 0; t < nt; ++t) out[t] = sum[t];
}

#endif

void FillRowKernels(KernelSet* ks) {
#ifdef EDGERUN_X86_ROWS
  ks->dot_q5_0 = &OneToken<DotNQ5_0>;
  ks->dot_q5_K = &OneToken<DotNQ5_K>;
  ks->dotn_q5_0 = &DotNQ5_0;
  ks->dotn_q5_K = &DotNQ5_K;
  ks->dot_q4_1 = &OneToken<DotNQx_1<false>>;
  ks->dot_q5_1 = &OneToken<DotNQx_1<true>>;
  ks->dotn_q4_1 = &DotNQx_1<false>;
  ks->dotn_q5_1 = &DotNQx_1<true>;
  ks->dot_q2_K = &OneToken<DotNQ2_K>;
  ks->dot_q3_K = &OneToken<DotNQ3_K>;
  ks->dotn_q2_K = &DotNQ2_K;
  ks->dotn_q3_K = &DotNQ3_K;
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
HWY_EXPORT(FillRowKernels);
// Called with the same target chosen as FillKernels (kernels_for_each_target sets it for tests).
void fill_row_kernels(KernelSet* ks) { HWY_DYNAMIC_DISPATCH(FillRowKernels)(ks); }
}  // namespace edgerun::cpu
#endif
