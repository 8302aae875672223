// The 16-row group kernels of the cpu backend (layouts in quant/layouts.h),
// compiled once per Highway target like kernels.cpp: 512-bit ones for AVX3_DL
// (AVX-512 VNNI), 256-bit ones (group_kernels_256.h) for AVX2 and AVX3; CPUs
// with AVX-VNNI get those from group_kernels_avxvnni.cpp, ARM CPUs theirs
// from neon_kernels.cpp (kernels.cpp adds them). On other targets the
// KernelSet's group entries stay null and the weights keep their rows.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/group_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "blocks.h"
#include "cpu/group_common.h"
#include "cpu/kernels.h"
#include "layouts.h"

HWY_BEFORE_NAMESPACE();
#include "cpu/evex_vnni.h"  // NOLINT: per target
namespace edgerun::cpu::HWY_NAMESPACE {

#if HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX2
#include "cpu/group_kernels_256.h"  // NOLINT: per target
#endif

#if HWY_TARGET == HWY_AVX3_DL
// Four activation bytes broadcast to every lane. From memory, so it is a
// load, not a move from a general register (which cost 3.6x in throughput).
inline __m512i Bcast4(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// 16 rows (a q4_0x16 or q8_0x16 group) against NT tokens: per block, the
// quant vectors are loaded (and for q4_0 unpacked) once, and each token's
// activation bytes are broadcast four at a time into vpdpbusd, so 16 rows'
// block sums come out of eight instructions; offset and scale follow for all
// 16 rows at once. vpdpbusd wants unsigned weights: q4_0's are 0..15 with an
// offset of 8, q8_0's are stored flipped to 0..255 with an offset of 128, and
// sum (q - c) a = sum q a - c sum a, in integers. Then the order every
// backend sums in (kernels.cpp): acc + (d_w d_a) I, rounded at each step.
// q4_0's high nibbles are kept in place (16 q, one AND instead of a shift and
// an AND) and the low sums are multiplied by 16 to match; the 1/16 goes into
// d_a, a power of two, so the result is the same to the bit.
template <int NT, bool kQ4>
void GroupQx_0x16_512(const void* group, const void* const* act, float* out, int64_t n) {
  const int64_t nb = n / QK;
  const auto* scales = static_cast<const uint16_t*>(group);
  const auto* qs = static_cast<const uint8_t*>(group) + nb * 32;
  const SplitRows<NT> split(act, n);
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) {
    acc[t] = _mm512_setzero_ps();
  }
  const __m512i lo4 = _mm512_set1_epi8(0x0F), hi4 = _mm512_set1_epi8(static_cast<char>(0xF0));
  const float unit = kQ4 ? 1.0f / 16 : 1.0f;
  for (int64_t b = 0; b < nb; ++b) {
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(scales + b * 16)));
    const uint8_t* q = qs + b * (kQ4 ? 256 : 512);
    PrefetchAhead(q, kQ4 ? 256 : 512);
    __m512i wq[8];  // vector k multiplies activation bytes 4k..4k+3
    if (kQ4) {
      for (int k = 0; k < 4; ++k) {
        const __m512i v = _mm512_loadu_si512(q + 64 * k);
        wq[k] = _mm512_and_si512(v, lo4);
        wq[4 + k] = _mm512_and_si512(v, hi4);
      }
    } else {
      for (int k = 0; k < 8; ++k) wq[k] = _mm512_loadu_si512(q + 64 * k);
    }
    for (int t = 0; t < NT; ++t) {
      const int8_t* a = split.q[t] + QK * b;
      // Two chains per half, or vpdpbusd's latency is the limit with few tokens.
      __m512i lo0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wq[0], Bcast4(a));
      __m512i lo1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wq[1], Bcast4(a + 4));
      // The offset's share, -128 sum a (q4_0: 8 in the 16-fold high sums), seeds a chain.
      __m512i hi0 = _mm512_dpbusd_epi32(Bcast4(split.s[t] + b), wq[4], Bcast4(a + 16));
      __m512i hi1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wq[5], Bcast4(a + 20));
      lo0 = _mm512_dpbusd_epi32(lo0, wq[2], Bcast4(a + 8));
      lo1 = _mm512_dpbusd_epi32(lo1, wq[3], Bcast4(a + 12));
      hi0 = _mm512_dpbusd_epi32(hi0, wq[6], Bcast4(a + 24));
      hi1 = _mm512_dpbusd_epi32(hi1, wq[7], Bcast4(a + 28));
      __m512i lo = _mm512_add_epi32(lo0, lo1);
      if (kQ4) lo = _mm512_slli_epi32(lo, 4);
      const __m512i s = _mm512_add_epi32(lo, _mm512_add_epi32(hi0, hi1));
      const __m512 dd = _mm512_mul_ps(dw, _mm512_set1_ps(split.d[t][b] * unit));
      acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(dd, _mm512_cvtepi32_ps(s)));
    }
  }
  for (int t = 0; t < NT; ++t) _mm512_storeu_ps(out + 16 * t, acc[t]);
}

// Bit j of each byte of q5_0x16's / q5_Kx16's fifth-bit vectors (quant/layouts.h)
// moved to bit 4 (the 32-bit shifts move bits across bytes; the mask drops them).
inline __m512i FifthBits512(__m512i h, int j) {
  const __m512i moved = j <= 4 ? _mm512_sll_epi32(h, _mm_cvtsi32_si128(4 - j)) : _mm512_srl_epi32(h, _mm_cvtsi32_si128(j - 4));
  return _mm512_and_si512(moved, _mm512_set1_epi8(0x10));
}
// (v & 0x0F) | fifth, in one instruction.
inline __m512i NibblePlusFifth(__m512i v, __m512i fifth) {
  return _mm512_ternarylogic_epi32(v, fifth, _mm512_set1_epi8(0x0F), 0xEC);
}

// The 32-weight block types whose quants are unpacked whole (both nibble
// halves to 0..15 or 0..31, or through a codebook): q5_0 (q4_0x16's nibbles
// with their fifth bits, offset 16: -16 sum a, an eighth of the split
// activations' -128 sum a), iq4_nl (kIQ4Values + 128 through vpshufb, offset
// 128: the split activations' -128 sum a as it is), and q4_1 / q5_1 (no
// offset: their mins meet the q8_1 activations' s = d_a sum a in the float
// step, (d d_a) I + m s_a).
template <int NT, Nibbles kKind>
void GroupNibblesx16_512(const void* group, const void* const* act, float* out, int64_t n) {
  constexpr bool kFive = kKind == Nibbles::kQ5_0 || kKind == Nibbles::kQ5_1;
  constexpr bool kMin = kKind == Nibbles::kQ4_1 || kKind == Nibbles::kQ5_1;
  constexpr int kBlockBytes = kFive ? 320 : 256;
  const int64_t nb = n / QK;
  const auto* scales = static_cast<const uint16_t*>(group);
  const auto* mins = scales + nb * 16;
  const auto* qs = static_cast<const uint8_t*>(group) + nb * (kMin ? 64 : 32);
  const SplitRows<NT> split(kMin ? nullptr : act, n);  // q8_1 blocks instead
  const block_q8_1* y[NT];
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) {
    y[t] = kMin ? static_cast<const block_q8_1*>(act[t]) : nullptr;
    acc[t] = _mm512_setzero_ps();
  }
  uint8_t codebook[16];
  for (int i = 0; i < 16; ++i) codebook[i] = static_cast<uint8_t>(kIQ4Values[i] + 128);
  const __m512i table = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codebook)));
  const __m512i lo4 = _mm512_set1_epi8(0x0F);
  for (int64_t b = 0; b < nb; ++b) {
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(scales + b * 16)));
    const uint8_t* q = qs + b * kBlockBytes;
    PrefetchAhead(q, kBlockBytes);
    __m512i wq[8];  // vector k multiplies activation bytes 4k..4k+3 (k < 4), 16 + 4(k - 4).. (k >= 4)
    const __m512i h = kFive ? _mm512_loadu_si512(q + 256) : _mm512_setzero_si512();  // fifth bits
    for (int k = 0; k < 4; ++k) {
      const __m512i v = _mm512_loadu_si512(q + 64 * k);
      if constexpr (kFive) {
        wq[k] = NibblePlusFifth(v, FifthBits512(h, k));
        wq[4 + k] = NibblePlusFifth(_mm512_srli_epi16(v, 4), FifthBits512(h, 4 + k));
      } else {
        wq[k] = _mm512_and_si512(v, lo4);
        wq[4 + k] = _mm512_and_si512(_mm512_srli_epi16(v, 4), lo4);
        if constexpr (kKind == Nibbles::kIQ4_NL) {
          wq[k] = _mm512_shuffle_epi8(table, wq[k]);
          wq[4 + k] = _mm512_shuffle_epi8(table, wq[4 + k]);
        }
      }
    }
    const __m512 mw = kMin ? _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(mins + b * 16))) : _mm512_setzero_ps();
    for (int t = 0; t < NT; ++t) {
      const int8_t* a = kMin ? y[t][b].qs : split.q[t] + QK * b;
      const int32_t seed = kMin ? 0 : split.s[t][b] >> (kKind == Nibbles::kQ5_0 ? 3 : 0);
      __m512i s0 = _mm512_dpbusd_epi32(_mm512_set1_epi32(seed), wq[0], Bcast4(a));
      __m512i s1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wq[1], Bcast4(a + 4));
      __m512i s2 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wq[4], Bcast4(a + 16));
      __m512i s3 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wq[5], Bcast4(a + 20));
      s0 = _mm512_dpbusd_epi32(s0, wq[2], Bcast4(a + 8));
      s1 = _mm512_dpbusd_epi32(s1, wq[3], Bcast4(a + 12));
      s2 = _mm512_dpbusd_epi32(s2, wq[6], Bcast4(a + 24));
      s3 = _mm512_dpbusd_epi32(s3, wq[7], Bcast4(a + 28));
      const __m512 s = _mm512_cvtepi32_ps(_mm512_add_epi32(_mm512_add_epi32(s0, s1), _mm512_add_epi32(s2, s3)));
      if constexpr (kMin) {
        const __m512 dd = _mm512_mul_ps(dw, _mm512_set1_ps(_cvtsh_ss(y[t][b].d)));
        const __m512 ms = _mm512_mul_ps(mw, _mm512_set1_ps(_cvtsh_ss(y[t][b].s)));
        acc[t] = _mm512_add_ps(acc[t], _mm512_add_ps(_mm512_mul_ps(dd, s), ms));
      } else {
        acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(_mm512_mul_ps(dw, _mm512_set1_ps(split.d[t][b])), s));
      }
    }
  }
  for (int t = 0; t < NT; ++t) _mm512_storeu_ps(out + 16 * t, acc[t]);
}

// Byte control for the q4_K mins: 32-bit lane g (of 16) takes byte g of a
// broadcast 16-byte row of mins twice, zero-extended: (m_g, 0, m_g, 0).
alignas(64) constexpr int8_t kMinPairCtl[64] = {0, -128, 0, -128, 1, -128, 1, -128, 2, -128, 2, -128, 3, -128, 3, -128, 4, -128, 4, -128, 5, -128, 5, -128, 6, -128, 6, -128, 7, -128, 7, -128, 8, -128, 8, -128, 9, -128, 9, -128, 10, -128, 10, -128, 11, -128, 11, -128, 12, -128, 12, -128, 13, -128, 13, -128, 14, -128, 14, -128, 15, -128, 15, -128};

// A q4_Kx16 group against NT q8_K rows (NT <= 4: the unpacked chunk takes 16
// registers). Per 64-weight chunk the 8 quant vectors are unpacked once for all tokens; each sub-block's 16 row
// sums (8 vpdpbusd) are scaled by the rows' 6-bit scales in integers; the mins
// meet the activations' 16-element sums once per super-block. kFive: q5_Kx16,
// each nibble with its fifth bit (both halves then shifted down).
template <int NT, bool kFive>
void GroupQ4_Kx16_512(const void* group, const void* const* act, float* out, int64_t n) {
  const int64_t nb = n / QK_K;
  const block_q8_K* y[NT];
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) {
    y[t] = static_cast<const block_q8_K*>(act[t]);
    acc[t] = _mm512_setzero_ps();
  }
  const __m512i lo4 = _mm512_set1_epi8(0x0F), hi4 = _mm512_set1_epi8(static_cast<char>(0xF0));
  auto bytes16 = [](const uint8_t* p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); };
  const __m512i pair_ctl = _mm512_load_si512(kMinPairCtl);
  constexpr size_t kBlockBytes = kFive ? q5_Kx16_block_bytes() : q4_Kx16_block_bytes();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* o = static_cast<const uint8_t*>(group) + b * kBlockBytes;
    PrefetchAhead(o, kBlockBytes);
    __m512i scaled_lo[NT], scaled_hi[NT];  // q4_K's high sums come 16 times over
    for (int t = 0; t < NT; ++t) scaled_lo[t] = scaled_hi[t] = _mm512_setzero_si512();
    for (int c = 0; c < 4; ++c) {
      __m512i lo[8], hi[8];
      for (int k = 0; k < 8; ++k) {
        const __m512i v = _mm512_loadu_si512(o + 320 + (c * 8 + k) * 64);
        if constexpr (kFive) {
          const __m512i h = _mm512_loadu_si512(o + q5_Kx16_high_offset() + k * 64);
          lo[k] = NibblePlusFifth(v, FifthBits512(h, 2 * c));
          hi[k] = NibblePlusFifth(_mm512_srli_epi16(v, 4), FifthBits512(h, 2 * c + 1));
        } else {
          lo[k] = _mm512_and_si512(v, lo4);
          hi[k] = _mm512_and_si512(v, hi4);  // 16 q
        }
      }
      const __m512i sc_lo = bytes16(o + 64 + (2 * c) * 16), sc_hi = bytes16(o + 64 + (2 * c + 1) * 16);
      for (int t = 0; t < NT; ++t) {
        const int8_t* a = y[t][b].qs + 64 * c;
        __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512(), s2 = _mm512_setzero_si512(),
                s3 = _mm512_setzero_si512();
        for (int k = 0; k < 8; k += 2) {
          s0 = _mm512_dpbusd_epi32(s0, lo[k], Bcast4(a + 4 * k));
          s1 = _mm512_dpbusd_epi32(s1, lo[k + 1], Bcast4(a + 4 * k + 4));
          s2 = _mm512_dpbusd_epi32(s2, hi[k], Bcast4(a + 32 + 4 * k));
          s3 = _mm512_dpbusd_epi32(s3, hi[k + 1], Bcast4(a + 32 + 4 * k + 4));
        }
        scaled_lo[t] = _mm512_add_epi32(scaled_lo[t], _mm512_mullo_epi32(_mm512_add_epi32(s0, s1), sc_lo));
        scaled_hi[t] = _mm512_add_epi32(scaled_hi[t], _mm512_mullo_epi32(_mm512_add_epi32(s2, s3), sc_hi));
      }
    }
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(o)));
    const __m512 dmin = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(o + 32)));
    // Each row's min of sub-block j twice as an int16 pair, to meet the two
    // 16-element sums of the sub-block (one 32-bit word of bsums) in vpdpwssd.
    __m512i min_pairs[8];
    for (int j = 0; j < 8; ++j) {  // 32-bit lane r = bytes (m_r, 0, m_r, 0): one shuffle of the 16 bytes
      const __m512i m = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(o + 192 + j * 16)));
      min_pairs[j] = _mm512_shuffle_epi8(m, pair_ctl);
    }
    for (int t = 0; t < NT; ++t) {
      __m512i mins = _mm512_setzero_si512();
      for (int j = 0; j < 8; ++j) mins = _mm512_dpwssd_epi32(mins, min_pairs[j], Bcast4(y[t][b].bsums + 2 * j));
      // q4_K's high sums are exact multiples of 16.
      const __m512i isc = _mm512_add_epi32(scaled_lo[t], kFive ? scaled_hi[t] : _mm512_srai_epi32(scaled_hi[t], 4));
      const __m512 da = _mm512_set1_ps(y[t][b].d);
      const __m512 v = _mm512_sub_ps(_mm512_mul_ps(_mm512_mul_ps(d, da), _mm512_cvtepi32_ps(isc)),
                                     _mm512_mul_ps(_mm512_mul_ps(dmin, da), _mm512_cvtepi32_ps(mins)));
      acc[t] = _mm512_add_ps(acc[t], v);
    }
  }
  for (int t = 0; t < NT; ++t) _mm512_storeu_ps(out + 16 * t, acc[t]);
}

// A q6_Kx16 group against NT q8_K rows: per 16-weight sub-block, 4 vpdpbusd
// give 16 rows' sums of (q + 32) a; the 32 a-sum comes off in integers
// (sum (q + 32) a - 32 sum a) before the rows' int8 scales, in integers too.
template <int NT>
void GroupQ6_Kx16_512(const void* group, const void* const* act, float* out, int64_t n) {
  const int64_t nb = n / QK_K;
  const block_q8_K* y[NT];
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) {
    y[t] = static_cast<const block_q8_K*>(act[t]);
    acc[t] = _mm512_setzero_ps();
  }
  const __m512i lo4 = _mm512_set1_epi8(0x0F), hi2 = _mm512_set1_epi8(0x30);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* o = static_cast<const uint8_t*>(group) + b * q6_Kx16_block_bytes();
    PrefetchAhead(o, q6_Kx16_block_bytes());
    __m512i scaled[NT];
    for (int t = 0; t < NT; ++t) scaled[t] = _mm512_setzero_si512();
    // Four sub-blocks at a time share one vector of the high plane and two of
    // the low one (quant/layouts.h): each is loaded once for the four, and the
    // shifts that depend on j are constants.
    for (int q = 0; q < 4; ++q) {
      __m512i wq[4][4];  // [sub-block 4q + i][vector k]
      for (int k = 0; k < 4; ++k) {
        const __m512i hi = _mm512_loadu_si512(o + q6_Kx16_high_offset() + (q * 4 + k) * 64);
        const __m512i lo0 = _mm512_loadu_si512(o + q6_Kx16_low_offset() + ((2 * q) * 4 + k) * 64);
        const __m512i lo1 = _mm512_loadu_si512(o + q6_Kx16_low_offset() + ((2 * q + 1) * 4 + k) * 64);
        // Sub-block 4q + i: low nibble of pair 2q + i / 2, bits 2i.. of the quad
        // moved to bits 4-5 (16-bit shifts: what crosses a byte is masked off).
        wq[0][k] = _mm512_ternarylogic_epi32(_mm512_and_si512(lo0, lo4), _mm512_slli_epi16(hi, 4), hi2, 0xF8);
        wq[1][k] = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(lo0, 4), lo4), _mm512_slli_epi16(hi, 2), hi2, 0xF8);
        wq[2][k] = _mm512_ternarylogic_epi32(_mm512_and_si512(lo1, lo4), hi, hi2, 0xF8);
        wq[3][k] = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(lo1, 4), lo4), _mm512_srli_epi16(hi, 2), hi2, 0xF8);
      }
      for (int i = 0; i < 4; ++i) {
        const int j = 4 * q + i;
        const __m512i sc = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(o + 64 + j * 16)));
        for (int t = 0; t < NT; ++t) {
          const int8_t* a = y[t][b].qs + 16 * j;
          // The 32 sum a comes off as the seed of one chain.
          __m512i s0 = _mm512_dpbusd_epi32(_mm512_set1_epi32(-32 * y[t][b].bsums[j]), wq[i][0], Bcast4(a));
          __m512i s1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wq[i][1], Bcast4(a + 4));
          s0 = _mm512_dpbusd_epi32(s0, wq[i][2], Bcast4(a + 8));
          s1 = _mm512_dpbusd_epi32(s1, wq[i][3], Bcast4(a + 12));
          scaled[t] = _mm512_add_epi32(scaled[t], _mm512_mullo_epi32(_mm512_add_epi32(s0, s1), sc));
        }
      }
    }
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(o)));
    for (int t = 0; t < NT; ++t)
      acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(_mm512_mul_ps(d, _mm512_set1_ps(y[t][b].d)), _mm512_cvtepi32_ps(scaled[t])));
  }
  for (int t = 0; t < NT; ++t) _mm512_storeu_ps(out + 16 * t, acc[t]);
}

// Bit `from` of each byte moved to bit `to`, the rest cleared (32-bit shifts; the mask drops what crosses bytes).
inline __m512i ByteBit512(__m512i v, int from, int to) {
  const __m512i moved = from <= to ? _mm512_sll_epi32(v, _mm_cvtsi32_si128(to - from)) : _mm512_srl_epi32(v, _mm_cvtsi32_si128(from - to));
  return _mm512_and_si512(moved, _mm512_set1_epi8(static_cast<char>(1 << to)));
}

// q2_K's and q3_K's 32-weight sub-block against its activations: the sums of
// its two 16-weight groups (w[0..3] with a[0..15], w[4..7] with a[16..31]),
// each chain started at its seed; two chains per group hide vpdpbusd's latency.
inline void TwoGroupSums512(const __m512i* w, const int8_t* a, int32_t seed0, int32_t seed1, __m512i* g0, __m512i* g1) {
  __m512i s0 = _mm512_dpbusd_epi32(_mm512_set1_epi32(seed0), w[0], Bcast4(a));
  __m512i s1 = _mm512_dpbusd_epi32(_mm512_set1_epi32(seed1), w[4], Bcast4(a + 16));
  __m512i s2 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[1], Bcast4(a + 4));
  __m512i s3 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[5], Bcast4(a + 20));
  s0 = _mm512_dpbusd_epi32(s0, w[2], Bcast4(a + 8));
  s1 = _mm512_dpbusd_epi32(s1, w[6], Bcast4(a + 24));
  s2 = _mm512_dpbusd_epi32(s2, w[3], Bcast4(a + 12));
  s3 = _mm512_dpbusd_epi32(s3, w[7], Bcast4(a + 28));
  *g0 = _mm512_add_epi32(s0, s2);
  *g1 = _mm512_add_epi32(s1, s3);
}

// A q3_Kx16 group against NT q8_K rows: per 32-weight sub-block (half h,
// shift s) 8 vectors of q2 + 4 hbit (0..7, the 4 off through the
// activations' 16-element sums, which seed the chains), two 16-weight groups
// of 4 vpdpbusd each, scaled by the rows' int8 scales in integers.
template <int NT>
void GroupQ3_Kx16_512(const void* group, const void* const* act, float* out, int64_t n) {
  const int64_t nb = n / QK_K;
  const block_q8_K* y[NT];
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) {
    y[t] = static_cast<const block_q8_K*>(act[t]);
    acc[t] = _mm512_setzero_ps();
  }
  const __m512i m2 = _mm512_set1_epi8(3);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* o = static_cast<const uint8_t*>(group) + b * q3_Kx16_block_bytes();
    PrefetchAhead(o, q3_Kx16_block_bytes());
    __m512i scaled[NT];
    for (int t = 0; t < NT; ++t) scaled[t] = _mm512_setzero_si512();
    for (int h = 0; h < 2; ++h)
      for (int sh = 0; sh < 4; ++sh) {
        __m512i w[8];
        for (int k = 0; k < 8; ++k) {
          const __m512i q = _mm512_loadu_si512(o + q3_Kx16_quants_offset() + (h * 8 + k) * 64);
          const __m512i hb = ByteBit512(_mm512_loadu_si512(o + q3_Kx16_high_offset() + k * 64), 4 * h + sh, 2);
          w[k] = _mm512_ternarylogic_epi32(_mm512_srl_epi16(q, _mm_cvtsi32_si128(2 * sh)), hb, m2, 0xEC);  // (q & 3) | hb
        }
        const int g = 8 * h + 2 * sh;  // the first of the sub-block's two 16-weight groups
        const __m512i sc0 = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(o + 64 + g * 16)));
        const __m512i sc1 = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(o + 64 + (g + 1) * 16)));
        for (int t = 0; t < NT; ++t) {
          __m512i s0, s1;
          TwoGroupSums512(w, y[t][b].qs + 16 * g, -4 * y[t][b].bsums[g], -4 * y[t][b].bsums[g + 1], &s0, &s1);
          scaled[t] = _mm512_add_epi32(scaled[t], _mm512_mullo_epi32(s0, sc0));
          scaled[t] = _mm512_add_epi32(scaled[t], _mm512_mullo_epi32(s1, sc1));
        }
      }
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(o)));
    for (int t = 0; t < NT; ++t)
      acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(_mm512_mul_ps(d, _mm512_set1_ps(y[t][b].d)), _mm512_cvtepi32_ps(scaled[t])));
  }
  for (int t = 0; t < NT; ++t) _mm512_storeu_ps(out + 16 * t, acc[t]);
}

// A q2_Kx16 group against NT q8_K rows: per 32-weight sub-block 8 vectors of
// 2-bit quants, two 16-weight groups of 4 vpdpbusd each scaled by the rows'
// 4-bit scales in integers; the 4-bit mins meet the activations' 16-element
// sums once per super-block.
template <int NT>
void GroupQ2_Kx16_512(const void* group, const void* const* act, float* out, int64_t n) {
  const int64_t nb = n / QK_K;
  const block_q8_K* y[NT];
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) {
    y[t] = static_cast<const block_q8_K*>(act[t]);
    acc[t] = _mm512_setzero_ps();
  }
  const __m512i m2 = _mm512_set1_epi8(3), lo4 = _mm512_set1_epi32(15);
  auto scale_bytes = [](const uint8_t* p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); };
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* o = static_cast<const uint8_t*>(group) + b * q2_Kx16_block_bytes();
    PrefetchAhead(o, q2_Kx16_block_bytes());
    __m512i isc[NT], imin[NT];
    for (int t = 0; t < NT; ++t) isc[t] = imin[t] = _mm512_setzero_si512();
    for (int h = 0; h < 2; ++h)
      for (int sh = 0; sh < 4; ++sh) {
        __m512i w[8];
        for (int k = 0; k < 8; ++k)
          w[k] = _mm512_and_si512(_mm512_srl_epi16(_mm512_loadu_si512(o + q2_Kx16_quants_offset() + (h * 8 + k) * 64),
                                                   _mm_cvtsi32_si128(2 * sh)), m2);
        const int g = 8 * h + 2 * sh;
        const __m512i sc0 = _mm512_and_si512(scale_bytes(o + 64 + g * 16), lo4);
        const __m512i sc1 = _mm512_and_si512(scale_bytes(o + 64 + (g + 1) * 16), lo4);
        for (int t = 0; t < NT; ++t) {
          __m512i s0, s1;
          TwoGroupSums512(w, y[t][b].qs + 16 * g, 0, 0, &s0, &s1);
          isc[t] = _mm512_add_epi32(isc[t], _mm512_mullo_epi32(s0, sc0));
          isc[t] = _mm512_add_epi32(isc[t], _mm512_mullo_epi32(s1, sc1));
        }
      }
    for (int g = 0; g < 16; ++g) {
      const __m512i m = _mm512_srli_epi32(scale_bytes(o + 64 + g * 16), 4);
      for (int t = 0; t < NT; ++t) imin[t] = _mm512_add_epi32(imin[t], _mm512_mullo_epi32(m, _mm512_set1_epi32(y[t][b].bsums[g])));
    }
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(o)));
    const __m512 dmin = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(o + 32)));
    for (int t = 0; t < NT; ++t) {
      const __m512 da = _mm512_set1_ps(y[t][b].d);
      const __m512 v = _mm512_sub_ps(_mm512_mul_ps(_mm512_mul_ps(d, da), _mm512_cvtepi32_ps(isc[t])),
                                     _mm512_mul_ps(_mm512_mul_ps(dmin, da), _mm512_cvtepi32_ps(imin[t])));
      acc[t] = _mm512_add_ps(acc[t], v);
    }
  }
  for (int t = 0; t < NT; ++t) _mm512_storeu_ps(out + 16 * t, acc[t]);
}

// An iq4_xsx16 group against NT q8_K rows: per 32-weight sub-block, the 16
// rows' codebook indices become weights in one byte shuffle each (the codebook
// + 128: the unsigned bytes vpdpbusd wants; the 128 comes off through the
// activations' sums), 8 vpdpbusd give the 16 rows' sums, scaled in integers.
template <int NT>
void GroupIQ4_XSx16_512(const void* group, const void* const* act, float* out, int64_t n) {
  const int64_t nb = n / QK_K;
  const block_q8_K* y[NT];
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) {
    y[t] = static_cast<const block_q8_K*>(act[t]);
    acc[t] = _mm512_setzero_ps();
  }
  uint8_t codebook[16];
  for (int i = 0; i < 16; ++i) codebook[i] = static_cast<uint8_t>(kIQ4Values[i] + 128);
  const __m512i table = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codebook)));
  const __m512i lo4 = _mm512_set1_epi8(0x0F);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* o = static_cast<const uint8_t*>(group) + b * iq4_xsx16_block_bytes();
    PrefetchAhead(o, iq4_xsx16_block_bytes());
    __m512i scaled[NT];
    for (int t = 0; t < NT; ++t) scaled[t] = _mm512_setzero_si512();
    for (int ib = 0; ib < 8; ++ib) {
      __m512i w[8];  // vector k meets activation bytes 4k.. (k < 4), 16 + 4(k - 4).. (k >= 4)
      for (int k = 0; k < 4; ++k) {
        const __m512i v = _mm512_loadu_si512(o + iq4_xsx16_quants_offset() + (ib * 4 + k) * 64);
        w[k] = _mm512_shuffle_epi8(table, _mm512_and_si512(v, lo4));
        w[4 + k] = _mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srli_epi16(v, 4), lo4));
      }
      const __m512i sc = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(o + 64 + ib * 16)));
      for (int t = 0; t < NT; ++t) {
        const int8_t* a = y[t][b].qs + 32 * ib;
        const int32_t offset = -128 * (y[t][b].bsums[2 * ib] + y[t][b].bsums[2 * ib + 1]);
        __m512i s0 = _mm512_dpbusd_epi32(_mm512_set1_epi32(offset), w[0], Bcast4(a));
        __m512i s1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[1], Bcast4(a + 4));
        __m512i s2 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[4], Bcast4(a + 16));
        __m512i s3 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[5], Bcast4(a + 20));
        s0 = _mm512_dpbusd_epi32(s0, w[2], Bcast4(a + 8));
        s1 = _mm512_dpbusd_epi32(s1, w[3], Bcast4(a + 12));
        s2 = _mm512_dpbusd_epi32(s2, w[6], Bcast4(a + 24));
        s3 = _mm512_dpbusd_epi32(s3, w[7], Bcast4(a + 28));
        const __m512i s = _mm512_add_epi32(_mm512_add_epi32(s0, s1), _mm512_add_epi32(s2, s3));
        scaled[t] = _mm512_add_epi32(scaled[t], _mm512_mullo_epi32(s, sc));
      }
    }
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(o)));
    for (int t = 0; t < NT; ++t)
      acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(_mm512_mul_ps(d, _mm512_set1_ps(y[t][b].d)), _mm512_cvtepi32_ps(scaled[t])));
  }
  for (int t = 0; t < NT; ++t) _mm512_storeu_ps(out + 16 * t, acc[t]);
}

// An f16x16 group against NT f32 rows: per column, the 16 rows' weights
// converted once and one FMA per token (the activation broadcast from memory).
// kBF16: bf16x16, widened by a shift.
template <int NT, bool kBF16 = false>
void GroupF16x16_512(const void* group, const void* const* act, float* out, int64_t n) {
  const auto* g = static_cast<const uint16_t*>(group);
  const float* a[NT];
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) {
    a[t] = static_cast<const float*>(act[t]);
    acc[t] = _mm512_setzero_ps();
  }
  for (int64_t c = 0; c < n; ++c) {
    if ((c & 1) == 0) PrefetchAhead(g + c * 16, 64);
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g + c * 16));
    const __m512 w = kBF16 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)) : _mm512_cvtph_ps(h);
    for (int t = 0; t < NT; ++t) acc[t] = _mm512_fmadd_ps(w, _mm512_set1_ps(a[t][c]), acc[t]);
  }
  for (int t = 0; t < NT; ++t) _mm512_storeu_ps(out + 16 * t, acc[t]);
}

template <int NT> struct Q4_0 { static constexpr GroupFn Run = &GroupQx_0x16_512<NT, true>; };
template <int NT> struct Q8_0 { static constexpr GroupFn Run = &GroupQx_0x16_512<NT, false>; };
template <int NT> struct Q5_0 { static constexpr GroupFn Run = &GroupNibblesx16_512<NT, Nibbles::kQ5_0>; };
template <int NT> struct IQ4_NL { static constexpr GroupFn Run = &GroupNibblesx16_512<NT, Nibbles::kIQ4_NL>; };
template <int NT> struct Q4_1 { static constexpr GroupFn Run = &GroupNibblesx16_512<NT, Nibbles::kQ4_1>; };
template <int NT> struct Q5_1 { static constexpr GroupFn Run = &GroupNibblesx16_512<NT, Nibbles::kQ5_1>; };
template <int NT> struct Q4_K { static constexpr GroupFn Run = &GroupQ4_Kx16_512<NT, false>; };
template <int NT> struct Q5_K { static constexpr GroupFn Run = &GroupQ4_Kx16_512<NT, true>; };
template <int NT> struct Q6_K { static constexpr GroupFn Run = &GroupQ6_Kx16_512<NT>; };
template <int NT> struct IQ4_XS { static constexpr GroupFn Run = &GroupIQ4_XSx16_512<NT>; };
template <int NT> struct Q3_K { static constexpr GroupFn Run = &GroupQ3_Kx16_512<NT>; };
template <int NT> struct Q2_K { static constexpr GroupFn Run = &GroupQ2_Kx16_512<NT>; };
template <int NT> struct F16 { static constexpr GroupFn Run = &GroupF16x16_512<NT>; };
template <int NT> struct BF16 { static constexpr GroupFn Run = &GroupF16x16_512<NT, true>; };
#endif

void FillGroupKernels(KernelSet* ks) {
#if HWY_TARGET == HWY_AVX3_DL
  ks->group_q4_0x16 = &ByTokens<Q4_0, kMaxTokens>;
  ks->group_q8_0x16 = &ByTokens<Q8_0, kMaxTokens>;
  ks->group_q4_Kx16 = &ByTokens<Q4_K, 4>;
  ks->group_q5_0x16 = &ByTokens<Q5_0, kMaxTokens>;
  ks->group_q5_Kx16 = &ByTokens<Q5_K, 4>;
  ks->group_q6_Kx16 = &ByTokens<Q6_K, kMaxTokens>;
  ks->group_iq4_xsx16 = &ByTokens<IQ4_XS, kMaxTokens>;
  ks->group_q3_Kx16 = &ByTokens<Q3_K, kMaxTokens>;
  ks->group_q2_Kx16 = &ByTokens<Q2_K, kMaxTokens>;
  ks->group_f16x16 = &ByTokens<F16, kMaxTokens>;
  ks->group_bf16x16 = &ByTokens<BF16, kMaxTokens>;
  ks->group_iq4_nlx16 = &ByTokens<IQ4_NL, kMaxTokens>;
  ks->group_q4_1x16 = &ByTokens<Q4_1, kMaxTokens>;
  ks->group_q5_1x16 = &ByTokens<Q5_1, kMaxTokens>;
  ks->groups = "AVX-512 VNNI";
#elif HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX2
  Group256<false>::Fill(ks);
  ks->groups = "AVX2";
#else
  (void)ks;
#endif
}

}  // namespace edgerun::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace edgerun::cpu {
HWY_EXPORT(FillGroupKernels);
// Called with the same target chosen as FillKernels (kernels_for_each_target sets it for tests).
void fill_group_kernels(KernelSet* ks) { HWY_DYNAMIC_DISPATCH(FillGroupKernels)(ks); }
}  // namespace edgerun::cpu
#endif
