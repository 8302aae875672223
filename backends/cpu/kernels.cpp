// Compiled once per Highway target: see kernels.h.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <strings.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "settings.h"
#include "blocks.h"
#include "common/error.h"
#include "exact_math.h"
#include "cpu/kernels.h"
#include "fp16.h"

HWY_BEFORE_NAMESPACE();
#include "cpu/evex_vnni.h"  // NOLINT: per target
namespace edgerun::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX2
#define EDGERUN_X86_INT8 1

// Sum of products of 32 unsigned bytes (0..127 or so) with 32 signed bytes,
// as 8 int32 lanes.
HWY_INLINE __m256i dot_u8s8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// acc += sum over pairs of (u*s) * scale, with u*s summed in int16 pairs first
// (u <= 63 keeps those sums from saturating) and scale an int16 per lane.
HWY_INLINE __m256i dot_u8s8_scaled(__m256i acc, __m256i u, __m256i s, __m256i scale16) {
  const __m256i p16 = _mm256_maddubs_epi16(u, s);
  return _mm256_add_epi32(acc, _mm256_madd_epi16(p16, scale16));
}

// Signed x signed through the unsigned form: |a| * (b with a's sign).
HWY_INLINE __m256i dot_s8s8(__m256i a, __m256i b) { return dot_u8s8(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a)); }

HWY_INLINE int32_t hsum_i32(__m128i v) {
  v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0x4E));
  v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0xB1));
  return _mm_cvtsi128_si32(v);
}

HWY_INLINE int32_t hsum_i32x8(__m256i v) {
  return hsum_i32(_mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)));
}

HWY_INLINE __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// Every x86 target here has F16C: one instruction instead of a software conversion.
HWY_INLINE float h2f(uint16_t h) { return _cvtsh_ss(h); }

// 16 bytes of packed nibbles -> 32 bytes: low nibbles, then high nibbles.
HWY_INLINE __m256i unpack_nibbles(const uint8_t* p) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i m = _mm_set1_epi8(0x0F);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m), _mm_and_si128(q, m));
}
#else
HWY_INLINE float h2f(uint16_t h) { return fp16_to_float(h); }
#endif

// The one order every quantized dot product is summed in, on every target and
// backend (docs/NUMERICS.md): a block's integer sum I (exact), its value
// (d_weight * d_act) * I, and the block values added one after another from
// the first block, each operation rounded to float (never fused). The Vulkan
// shaders compute the same, so their logits equal these to the bit.
HWY_INLINE float add_block(float sum, float dd, int32_t i) { return sum + dd * static_cast<float>(i); }
// K-quants: (d * d_act) * I - (dmin * d_act) * Imin.
HWY_INLINE float add_block_k(float sum, float d, float dmin, float da, int32_t i, int32_t imin) {
  return sum + ((d * da) * static_cast<float>(i) - (dmin * da) * static_cast<float>(imin));
}

// Split q8_0 activations: quants, then float scales, then per block -128 x
// the sum of its quants (kernels.h).
struct SplitAct {
  const int8_t* qs;
  const float* d;
  const int32_t* s;
  SplitAct(const void* a, int64_t n)
      : qs(static_cast<const int8_t*>(a)),
        d(reinterpret_cast<const float*>(static_cast<const uint8_t*>(a) + n)),
        s(reinterpret_cast<const int32_t*>(d + n / QK)) {}
};

#if HWY_TARGET == HWY_AVX3_DL
// Two 32-weight blocks per 512-bit VNNI instruction; the offset trick turns
// signed weights into the unsigned operand vpdpbusd takes:
// sum w a = sum (w + c) a - c sum a, all in integers.
// NT tokens at once: the weights are loaded and unpacked once for all of them.
// act[t] is token t's split q8_0 activation row; sum[t] is carried through the
// first nb2 (even) blocks.
template <int NT, bool kQ4>
void DotQx_0_512(const void* w, const void* const* act, int64_t n, int64_t nb2, float* sum) {
  const int8_t* qs[NT];
  const float* d[NT];
  const int32_t* s[NT];
  for (int t = 0; t < NT; ++t) {
    qs[t] = static_cast<const int8_t*>(act[t]);
    d[t] = reinterpret_cast<const float*>(static_cast<const uint8_t*>(act[t]) + n);
    s[t] = reinterpret_cast<const int32_t*>(d[t] + n / QK);
  }
  const __m512i m4 = _mm512_set1_epi8(0x0F), flip = _mm512_set1_epi8(static_cast<char>(0x80));
  const int32_t unit = kQ4 ? 16 : 1;  // the stored offset share is q8_0's (128); q4_0's is 8
  for (int64_t b = 0; b < nb2; b += 2) {
    __m512i q;
    float d0, d1;
    if (kQ4) {
      const auto* x = static_cast<const block_q4_0*>(w);
      const __m128i q0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].qs));
      const __m128i q1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b + 1].qs));
      // [q0 q0 q1 q1], then the high nibbles of the 2nd and 4th copies.
      q = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_broadcastsi128_si256(q0)), _mm256_broadcastsi128_si256(q1), 1);
      q = _mm512_and_si512(_mm512_mask_srli_epi16(q, 0xFF00FF00u, q, 4), m4);
      d0 = h2f(x[b].d);
      d1 = h2f(x[b + 1].d);
    } else {
      const auto* x = static_cast<const block_q8_0*>(w);
      q = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(load32(x[b].qs)), load32(x[b + 1].qs), 1), flip);
      d0 = h2f(x[b].d);
      d1 = h2f(x[b + 1].d);
    }
    for (int t = 0; t < NT; ++t) {
      const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, _mm512_loadu_si512(qs[t] + QK * b));
      const int32_t i0 = hsum_i32x8(_mm512_castsi512_si256(p)) + s[t][b] / unit;
      const int32_t i1 = hsum_i32x8(_mm512_extracti64x4_epi64(p, 1)) + s[t][b + 1] / unit;
      sum[t] = add_block(add_block(sum[t], d0 * d[t][b], i0), d1 * d[t][b + 1], i1);
    }
  }
}
#endif

float DotQ8_0(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const block_q8_0*>(w);
  const SplitAct y(a, n);
  const int64_t nb = n / QK;
  float sum = 0;
  int64_t b = 0;
#if HWY_TARGET == HWY_AVX3_DL
  b = nb & ~int64_t{1};
  DotQx_0_512<1, false>(w, &a, n, b, &sum);
#endif
  for (; b < nb; ++b) {
#ifdef EDGERUN_X86_INT8
    const int32_t s = hsum_i32x8(dot_s8s8(load32(x[b].qs), load32(y.qs + QK * b)));
#else
    int32_t s = 0;
    for (int j = 0; j < QK; ++j) s += x[b].qs[j] * y.qs[QK * b + j];
#endif
    sum = add_block(sum, h2f(x[b].d) * y.d[b], s);
  }
  return sum;
}

// q4_0 weights are 0..15 with an offset of 8: sum (q - 8) a = sum q a - 8 sum a,
// and sum a comes precomputed with the activations.
float DotQ4_0(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const block_q4_0*>(w);
  const SplitAct y(a, n);
  const int64_t nb = n / QK;
  float sum = 0;
  int64_t b = 0;
#if HWY_TARGET == HWY_AVX3_DL
  b = nb & ~int64_t{1};
  DotQx_0_512<1, true>(w, &a, n, b, &sum);
#endif
  for (; b < nb; ++b) {
    const int8_t* q8 = y.qs + QK * b;
#ifdef EDGERUN_X86_INT8
    int32_t s = hsum_i32x8(dot_u8s8(unpack_nibbles(x[b].qs), load32(q8)));
#else
    int32_t s = 0;
    for (int j = 0; j < QK / 2; ++j) s += (x[b].qs[j] & 0x0F) * q8[j] + (x[b].qs[j] >> 4) * q8[j + QK / 2];
#endif
    s += y.s[b] / 16;  // -8 x the sum of the activation quants
    sum = add_block(sum, h2f(x[b].d) * y.d[b], s);
  }
  return sum;
}

// Eight 6-bit scales and mins of a q4_K block.
HWY_INLINE void scales_q4_K(const uint8_t* s, uint8_t* sc, uint8_t* mn) {
  for (int j = 0; j < 4; ++j) {
    sc[j] = s[j] & 63;
    mn[j] = s[j + 4] & 63;
    sc[j + 4] = (s[j + 8] & 0x0F) | ((s[j] >> 6) << 4);
    mn[j + 4] = (s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4);
  }
}

#if HWY_TARGET == HWY_AVX3_DL
// 512-bit versions for CPUs with AVX-512 VNNI: two 32-weight sub-blocks per
// instruction, scales applied in the int16 pair sums, no scalar work left but
// unpacking the super-block's scales.

// q4_K's 12 scale bytes -> sc[0..7] in bytes 0..7, mins in bytes 8..15.
HWY_INLINE void unpack_q4_K_scales(const uint8_t* s, uint8_t* out) {
  uint32_t u[4];
  std::memcpy(u, s, 12);
  const uint32_t k6 = 0x3f3f3f3f, k4 = 0x0f0f0f0f, k2 = 0x03030303;
  u[3] = ((u[2] >> 4) & k4) | (((u[1] >> 6) & k2) << 4);  // mins 4..7
  const uint32_t mins_lo = u[1] & k6;                       // mins 0..3
  u[1] = (u[2] & k4) | (((u[0] >> 6) & k2) << 4);           // scales 4..7
  u[0] &= k6;                                               // scales 0..3
  u[2] = mins_lo;
  std::memcpy(out, u, 16);
}

template <int NT>
void DotQ4_K_512(const block_q4_K* x, const block_q8_K* const* ys, int64_t nb, float* out) {
  float sum[NT];
  int32_t imin[NT];
  for (int t = 0; t < NT; ++t) sum[t] = 0;
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  // int16 lanes 0-15 take scale a, lanes 16-31 scale b (sub-blocks a and b).
  auto pair_index = [](int a, int b) { return _mm512_mask_blend_epi16(0xFFFF0000u, _mm512_set1_epi16(a), _mm512_set1_epi16(b)); };
  const __m512i idx[4] = {pair_index(0, 2), pair_index(1, 3), pair_index(4, 6), pair_index(5, 7)};
  for (int64_t b = 0; b < nb; ++b) {
    alignas(16) uint8_t sm[16];
    unpack_q4_K_scales(x[b].scales, sm);
    const __m512i sc16 = _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sm))));
    const __m128i mins16 = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sm + 8)));
    const float dx = h2f(x[b].d), dmx = h2f(x[b].dmin);
    __m512i isum[NT];
    for (int t = 0; t < NT; ++t) {
      const block_q8_K& y = ys[t][b];
      const __m128i pairs = _mm_hadd_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(y.bsums)),
                                           _mm_loadu_si128(reinterpret_cast<const __m128i*>(y.bsums + 8)));
      imin[t] = hsum_i32(_mm_madd_epi16(mins16, pairs));
      isum[t] = _mm512_setzero_si512();
    }
    for (int p = 0; p < 2; ++p) {  // sub-blocks 4p .. 4p+3
      const __m512i q = _mm512_loadu_si512(x[b].qs + 64 * p);
      const __m512i lo = _mm512_and_si512(q, m4), hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
      const __m512i slo = _mm512_permutexvar_epi16(idx[2 * p], sc16);
      const __m512i shi = _mm512_permutexvar_epi16(idx[2 * p + 1], sc16);
      for (int t = 0; t < NT; ++t) {
        const int8_t* q8 = ys[t][b].qs + 128 * p;
        const __m512i A = _mm512_loadu_si512(q8), B = _mm512_loadu_si512(q8 + 64);
        isum[t] = _mm512_dpwssd_epi32(isum[t], _mm512_maddubs_epi16(lo, _mm512_shuffle_i64x2(A, B, 0x44)), slo);
        isum[t] = _mm512_dpwssd_epi32(isum[t], _mm512_maddubs_epi16(hi, _mm512_shuffle_i64x2(A, B, 0xEE)), shi);
      }
    }
    for (int t = 0; t < NT; ++t)
      sum[t] = add_block_k(sum[t], dx, dmx, ys[t][b].d, _mm512_reduce_add_epi32(isum[t]), imin[t]);
  }
  for (int t = 0; t < NT; ++t) out[t] = sum[t];
}

template <int NT>
void DotQ6_K_512(const block_q6_K* x, const block_q8_K* const* ys, int64_t nb, float* out) {
  float sum[NT];
  int32_t ioff[NT];
  for (int t = 0; t < NT; ++t) sum[t] = 0;
  const __m512i m4 = _mm512_set1_epi8(0x0F), m2 = _mm512_set1_epi8(3);
  // int16 lane l takes the scale of group l / 8.
  const __m512i idx01 = _mm512_set_epi64(0x0003000300030003, 0x0003000300030003, 0x0002000200020002, 0x0002000200020002,
                                         0x0001000100010001, 0x0001000100010001, 0, 0);
  const __m512i idx23 = _mm512_add_epi16(idx01, _mm512_set1_epi16(4));
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].scales)));
    const float dx = h2f(x[b].d);
    __m512i isum[NT];
    for (int t = 0; t < NT; ++t) {
      const block_q8_K& y = ys[t][b];
      const __m256i off = _mm256_madd_epi16(sc16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.bsums)));
      ioff[t] = 32 * hsum_i32x8(off);
      isum[t] = _mm512_setzero_si512();
    }
    for (int half = 0; half < 2; ++half) {
      const __m512i L = _mm512_loadu_si512(x[b].ql + 64 * half);
      const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qh + 32 * half));
      const __m512i H = _mm512_inserti64x4(_mm512_castsi256_si512(h), _mm256_srli_epi16(h, 2), 1);
      const __m512i v01 = _mm512_or_si512(_mm512_and_si512(L, m4), _mm512_slli_epi16(_mm512_and_si512(H, m2), 4));
      const __m512i v23 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(L, 4), m4),
                                          _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(H, 4), m2), 4));
      const __m512i s = _mm512_castsi128_si512(_mm_cvtepi8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(x[b].scales + 8 * half))));
      const __m512i s01 = _mm512_permutexvar_epi16(idx01, s), s23 = _mm512_permutexvar_epi16(idx23, s);
      for (int t = 0; t < NT; ++t) {
        const int8_t* q8 = ys[t][b].qs + 128 * half;
        isum[t] = _mm512_dpwssd_epi32(isum[t], _mm512_maddubs_epi16(v01, _mm512_loadu_si512(q8)), s01);
        isum[t] = _mm512_dpwssd_epi32(isum[t], _mm512_maddubs_epi16(v23, _mm512_loadu_si512(q8 + 64)), s23);
      }
    }
    for (int t = 0; t < NT; ++t) sum[t] = add_block(sum[t], dx * ys[t][b].d, _mm512_reduce_add_epi32(isum[t]) - ioff[t]);
  }
  for (int t = 0; t < NT; ++t) out[t] = sum[t];
}
#endif

float DotQ4_K(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const block_q4_K*>(w);
  const auto* y = static_cast<const block_q8_K*>(a);
  const int64_t nb = n / QK_K;
#if HWY_TARGET == HWY_AVX3_DL
  float r;
  DotQ4_K_512<1>(x, &y, nb, &r);
  return r;
#endif
  float sum = 0;
#ifdef EDGERUN_X86_INT8
  const __m256i m4 = _mm256_set1_epi8(0x0F);
#endif
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t sc[8], mn[8];
    scales_q4_K(x[b].scales, sc, mn);
    int32_t imin = 0;
    for (int j = 0; j < 8; ++j) imin += mn[j] * (y[b].bsums[2 * j] + y[b].bsums[2 * j + 1]);
#ifdef EDGERUN_X86_INT8
    __m256i vsum = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      const __m256i q = load32(x[b].qs + 32 * c);
      const __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
      vsum = dot_u8s8_scaled(vsum, lo, load32(y[b].qs + 64 * c), _mm256_set1_epi16(sc[2 * c]));
      vsum = dot_u8s8_scaled(vsum, hi, load32(y[b].qs + 64 * c + 32), _mm256_set1_epi16(sc[2 * c + 1]));
    }
    const int32_t isum = hsum_i32x8(vsum);
#else
    int32_t isum = 0;
    for (int c = 0; c < 4; ++c) {
      int32_t slo = 0, shi = 0;
      for (int l = 0; l < 32; ++l) {
        slo += (x[b].qs[32 * c + l] & 0x0F) * y[b].qs[64 * c + l];
        shi += (x[b].qs[32 * c + l] >> 4) * y[b].qs[64 * c + 32 + l];
      }
      isum += sc[2 * c] * slo + sc[2 * c + 1] * shi;
    }
#endif
    sum = add_block_k(sum, h2f(x[b].d), h2f(x[b].dmin), y[b].d, isum, imin);
  }
  return sum;
}

float DotQ6_K(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const block_q6_K*>(w);
  const auto* y = static_cast<const block_q8_K*>(a);
  const int64_t nb = n / QK_K;
#if HWY_TARGET == HWY_AVX3_DL
  float r;
  DotQ6_K_512<1>(x, &y, nb, &r);
  return r;
#endif
  float sum = 0;
#ifdef EDGERUN_X86_INT8
  const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(3);
#endif
  for (int64_t b = 0; b < nb; ++b) {
    const int8_t* sc = x[b].scales;
    // Values are stored as q + 32 (0..63): take the 32 back through the sums.
    int32_t ioff = 0;
    for (int g = 0; g < 16; ++g) ioff += sc[g] * y[b].bsums[g];
#ifdef EDGERUN_X86_INT8
    __m256i vsum = _mm256_setzero_si256();
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = x[b].ql + 64 * half;
      const __m256i l0 = load32(ql), l1 = load32(ql + 32), h = load32(x[b].qh + 32 * half);
      const __m256i v[4] = {
          _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(h, m2), 4)),
          _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m2), 4)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), m2), 4)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), m2), 4)),
      };
      for (int k = 0; k < 4; ++k) {
        const int g = 8 * half + 2 * k;  // two 16-weight groups per 32 bytes
        const __m256i s = _mm256_set_m128i(_mm_set1_epi16(sc[g + 1]), _mm_set1_epi16(sc[g]));
        vsum = dot_u8s8_scaled(vsum, v[k], load32(y[b].qs + 128 * half + 32 * k), s);
      }
    }
    const int32_t isum = hsum_i32x8(vsum);
#else
    int32_t isum = 0;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = x[b].ql + 64 * half;
      const uint8_t* qh = x[b].qh + 32 * half;
      const int8_t* q8 = y[b].qs + 128 * half;
      int32_t s[8] = {0};
      for (int l = 0; l < 32; ++l) {
        const int v0 = (ql[l] & 0x0F) | ((qh[l] & 3) << 4);
        const int v1 = (ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4);
        const int v2 = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
        const int v3 = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
        s[0 + l / 16] += v0 * q8[l];
        s[2 + l / 16] += v1 * q8[l + 32];
        s[4 + l / 16] += v2 * q8[l + 64];
        s[6 + l / 16] += v3 * q8[l + 96];
      }
      for (int k = 0; k < 8; ++k) isum += sc[8 * half + k] * s[k];
    }
#endif
    sum = add_block(sum, h2f(x[b].d) * y[b].d, isum - 32 * ioff);
  }
  return sum;
}

float DotF16(const void* w, const void* a, int64_t n) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<hwy::float16_t, decltype(df)> dh;
  const auto* x = static_cast<const hwy::float16_t*>(w);
  const auto* y = static_cast<const float*>(a);
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  auto s0 = hn::Zero(df), s1 = hn::Zero(df);
  int64_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    s0 = hn::MulAdd(hn::PromoteTo(df, hn::LoadU(dh, x + i)), hn::LoadU(df, y + i), s0);
    s1 = hn::MulAdd(hn::PromoteTo(df, hn::LoadU(dh, x + i + N)), hn::LoadU(df, y + i + N), s1);
  }
  float sum = hn::GetLane(hn::SumOfLanes(df, hn::Add(s0, s1)));
  const auto* xh = static_cast<const uint16_t*>(w);
  for (; i < n; ++i) sum += fp16_to_float(xh[i]) * y[i];
  return sum;
}

float DotF32(const void* w, const void* a, int64_t n) {
  const hn::ScalableTag<float> df;
  const auto* x = static_cast<const float*>(w);
  const auto* y = static_cast<const float*>(a);
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  auto s0 = hn::Zero(df), s1 = hn::Zero(df);
  int64_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    s0 = hn::MulAdd(hn::LoadU(df, x + i), hn::LoadU(df, y + i), s0);
    s1 = hn::MulAdd(hn::LoadU(df, x + i + N), hn::LoadU(df, y + i + N), s1);
  }
  float sum = hn::GetLane(hn::SumOfLanes(df, hn::Add(s0, s1)));
  for (; i < n; ++i) sum += x[i] * y[i];
  return sum;
}

// Attention's scores: out[p] = (q . k_p) * scale for n_pos keys k_p = k +
// p * stride, each dot product in the 16-lane order of quant/exact_math.h
// (on every backend the same bits): lane j of the sum is vector j / L, lane
// j % L, for L-lane vectors (16 % L == 0). Four keys at a time, so that four
// chains of adds hide each other's latency.
void Scores16(const float* q, const float* k, int64_t stride, int n_pos, int64_t n, float scale, float* out) {
  const hn::ScalableTag<float> df;
  const int64_t L = static_cast<int64_t>(hn::Lanes(df));
  const bool simd = L <= kSumLanes && kSumLanes % L == 0;
  const int64_t full = simd ? n / kSumLanes * kSumLanes : 0;
  alignas(64) float lanes[4][kSumLanes];
  for (int p0 = 0; p0 < n_pos; p0 += 4) {
    const int np = std::min(4, n_pos - p0);
    for (int j = 0; j < np; ++j)
      for (float& l : lanes[j]) l = 0.0f;
    if (full > 0) {
      const float* k0 = k + p0 * stride;
      const float* k1 = k + (p0 + std::min(1, np - 1)) * stride;
      const float* k2 = k + (p0 + std::min(2, np - 1)) * stride;
      const float* k3 = k + (p0 + std::min(3, np - 1)) * stride;
      for (int64_t v = 0; v < kSumLanes; v += L) {  // lanes v .. v + L - 1
        auto a0 = hn::Zero(df), a1 = hn::Zero(df), a2 = hn::Zero(df), a3 = hn::Zero(df);
        for (int64_t e = v; e < full; e += kSumLanes) {
          const auto qe = hn::LoadU(df, q + e);
          a0 = hn::Add(a0, hn::Mul(qe, hn::LoadU(df, k0 + e)));
          a1 = hn::Add(a1, hn::Mul(qe, hn::LoadU(df, k1 + e)));
          a2 = hn::Add(a2, hn::Mul(qe, hn::LoadU(df, k2 + e)));
          a3 = hn::Add(a3, hn::Mul(qe, hn::LoadU(df, k3 + e)));
        }
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
        if (full == n) {  // one register per key: the pairwise steps across registers, four keys at once
          const __m512 A0 = a0.raw, A1 = a1.raw, A2 = a2.raw, A3 = a3.raw;
          // (j, j + 8): the low and high halves of two keys side by side
          const __m512 t01 = _mm512_add_ps(_mm512_shuffle_f32x4(A0, A1, 0x44), _mm512_shuffle_f32x4(A0, A1, 0xEE));
          const __m512 t23 = _mm512_add_ps(_mm512_shuffle_f32x4(A2, A3, 0x44), _mm512_shuffle_f32x4(A2, A3, 0xEE));
          // (j, j + 4): 128-bit block i now holds key i's four lanes
          const __m512 u = _mm512_add_ps(_mm512_shuffle_f32x4(t01, t23, 0x88), _mm512_shuffle_f32x4(t01, t23, 0xDD));
          // (j, j + 2), then (j, j + 1), within each block
          const __m512 w2 = _mm512_add_ps(u, _mm512_permute_ps(u, 0xEE));
          const __m512 w1 = _mm512_add_ps(w2, _mm512_permute_ps(w2, 0x01));
          const __m128 sums = _mm512_castps512_ps128(_mm512_maskz_compress_ps(0x1111, w1));
          _mm_mask_storeu_ps(out + p0, static_cast<__mmask8>((1u << np) - 1), _mm_mul_ps(sums, _mm_set1_ps(scale)));
          goto next_keys;
        }
#endif
        hn::StoreU(a0, df, lanes[0] + v);
        hn::StoreU(a1, df, lanes[1] + v);
        hn::StoreU(a2, df, lanes[2] + v);
        hn::StoreU(a3, df, lanes[3] + v);
      }
    }
    for (int j = 0; j < np; ++j) {
      for (int64_t e = full; e < n; ++e) lanes[j][e % kSumLanes] = lanes[j][e % kSumLanes] + q[e] * k[(p0 + j) * stride + e];
      out[p0 + j] = sum_lanes(lanes[j]) * scale;
    }
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
  next_keys:;
#endif
  }
}

// exact_math.h's exact_exp, lane by lane the same operations (so the same bits).
template <class D>
HWY_INLINE hn::Vec<D> ExactExp(D df, hn::Vec<D> x) {
  const hn::RebindToSigned<D> di;
  const auto t = hn::Min(hn::Max(x, hn::Set(df, -87.0f)), hn::Set(df, 88.0f));  // out-of-range lanes replaced below
  const auto k = hn::Floor(hn::Add(hn::Mul(t, hn::Set(df, kExpLog2e)), hn::Set(df, 0.5f)));
  const auto r = hn::Sub(hn::Sub(t, hn::Mul(k, hn::Set(df, kExpLn2Hi))), hn::Mul(k, hn::Set(df, kExpLn2Lo)));
  auto p = hn::Set(df, kExpTop);
  for (const float c : kExpPoly) p = hn::Add(hn::Mul(p, r), hn::Set(df, c));
  const auto two_k = hn::BitCast(df, hn::ShiftLeft<23>(hn::Add(hn::ConvertTo(di, k), hn::Set(di, 127))));
  const auto e = hn::IfThenZeroElse(hn::Lt(x, hn::Set(df, -87.0f)), hn::Mul(p, two_k));
  return hn::IfThenElse(hn::Gt(x, hn::Set(df, 88.0f)), hn::Set(df, INFINITY), e);
}

// Attention's softmax weights in place: w[p] = e_p * (1 / sum e), e_p =
// exact_exp(w[p] - max), the sum in exact_math.h's 16 lanes (lane j takes
// e_j, e_{j+16}, ... in order, from 0), held in 16 / L registers.
void Softmax(float* w, int64_t n) {
  const hn::ScalableTag<float> df;
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  float mx = -INFINITY;
  int64_t i = 0;
  if (n >= N) {
    auto m = hn::LoadU(df, w);
    for (i = N; i + N <= n; i += N) m = hn::Max(m, hn::LoadU(df, w + i));
    mx = hn::GetLane(hn::MaxOfLanes(df, m));
  }
  for (; i < n; ++i) mx = std::max(mx, w[i]);
  const auto vm = hn::Set(df, mx);
  for (i = 0; i + N <= n; i += N) hn::StoreU(ExactExp(df, hn::Sub(hn::LoadU(df, w + i), vm)), df, w + i);
  for (; i < n; ++i) w[i] = exact_exp(w[i] - mx);
  alignas(64) float lanes[kSumLanes] = {};
  i = 0;
  if (N == 16 || N == 8 || N == 4) {
    auto a0 = hn::Zero(df), a1 = hn::Zero(df), a2 = hn::Zero(df), a3 = hn::Zero(df);
    for (; i + kSumLanes <= n; i += kSumLanes) {
      a0 = hn::Add(a0, hn::LoadU(df, w + i));
      if (N <= 8) a1 = hn::Add(a1, hn::LoadU(df, w + i + N));
      if (N == 4) {
        a2 = hn::Add(a2, hn::LoadU(df, w + i + 2 * N));
        a3 = hn::Add(a3, hn::LoadU(df, w + i + 3 * N));
      }
    }
    hn::StoreU(a0, df, lanes);
    if (N <= 8) hn::StoreU(a1, df, lanes + N);
    if (N == 4) {
      hn::StoreU(a2, df, lanes + 2 * N);
      hn::StoreU(a3, df, lanes + 3 * N);
    }
  }
  for (; i + kSumLanes <= n; i += kSumLanes)
    for (int j = 0; j < kSumLanes; ++j) lanes[j] = lanes[j] + w[i + j];
  for (int j = 0; i + j < n; ++j) lanes[j] = lanes[j] + w[i + j];
  const float inv = 1.0f / sum_lanes(lanes);
  const auto vi = hn::Set(df, inv);
  for (i = 0; i + N <= n; i += N) hn::StoreU(hn::Mul(hn::LoadU(df, w + i), vi), df, w + i);
  for (; i < n; ++i) w[i] = w[i] * inv;
}

// out = exact_silu(g) * u (SwiGLU), lane by lane the scalar operations.
void SiluMul(const float* g, const float* u, float* out, int64_t n) {
  const hn::ScalableTag<float> df;
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  const auto lo = hn::Set(df, -87.0f), one = hn::Set(df, 1.0f);
  int64_t i = 0;
  for (; i + N <= n; i += N) {
    const auto x = hn::LoadU(df, g + i);
    const auto silu = hn::IfThenZeroElse(hn::Lt(x, lo), hn::Div(x, hn::Add(one, ExactExp(df, hn::Neg(x)))));
    hn::StoreU(hn::Mul(silu, hn::LoadU(df, u + i)), df, out + i);
  }
  for (; i < n; ++i) out[i] = exact_silu(g[i]) * u[i];
}

// acc[i] = acc[i] + w[p] * v[p * stride + i] for p = 0.. in order (attention's
// sum over values, rule 4 of docs/NUMERICS.md: one multiply and one add each),
// four vectors of acc held in registers across all positions.
void AccRows(const float* w, const float* v, int64_t stride, int n_pos, int64_t n, float* acc) {
  const hn::ScalableTag<float> df;
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  int64_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    auto a0 = hn::LoadU(df, acc + i), a1 = hn::LoadU(df, acc + i + N);
    auto a2 = hn::LoadU(df, acc + i + 2 * N), a3 = hn::LoadU(df, acc + i + 3 * N);
    const float* vp = v + i;
    for (int p = 0; p < n_pos; ++p, vp += stride) {
      const auto wp = hn::Set(df, w[p]);
      a0 = hn::Add(a0, hn::Mul(wp, hn::LoadU(df, vp)));
      a1 = hn::Add(a1, hn::Mul(wp, hn::LoadU(df, vp + N)));
      a2 = hn::Add(a2, hn::Mul(wp, hn::LoadU(df, vp + 2 * N)));
      a3 = hn::Add(a3, hn::Mul(wp, hn::LoadU(df, vp + 3 * N)));
    }
    hn::StoreU(a0, df, acc + i);
    hn::StoreU(a1, df, acc + i + N);
    hn::StoreU(a2, df, acc + i + 2 * N);
    hn::StoreU(a3, df, acc + i + 3 * N);
  }
  for (; i + N <= n; i += N) {
    auto a = hn::LoadU(df, acc + i);
    for (int p = 0; p < n_pos; ++p) a = hn::Add(a, hn::Mul(hn::Set(df, w[p]), hn::LoadU(df, v + p * stride + i)));
    hn::StoreU(a, df, acc + i);
  }
  for (; i < n; ++i)
    for (int p = 0; p < n_pos; ++p) acc[i] = acc[i] + w[p] * v[p * stride + i];
}

// KV cache rows to floats. Every value is exact: an f16 widened, a q8_0 or
// q4_0 quant times its f16 scale (at most 18 significant bits).
void F16ToF32(const void* src, float* dst, int64_t n) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<hwy::float16_t, decltype(df)> dh;
  const auto* x = static_cast<const hwy::float16_t*>(src);
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  int64_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::PromoteTo(df, hn::LoadU(dh, x + i)), df, dst + i);
  for (; i < n; ++i) dst[i] = fp16_to_float(static_cast<const uint16_t*>(src)[i]);
}

void Q8_0ToF32(const void* src, float* dst, int64_t n) {
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di;
  const hn::Rebind<int8_t, decltype(di)> d8;
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  const auto* b = static_cast<const block_q8_0*>(src);
  for (int64_t k = 0; k < n / QK; ++k, dst += QK) {
    const float d = fp16_to_float(b[k].d);
    if (N <= QK && QK % N == 0) {
      const auto vd = hn::Set(df, d);
      for (int64_t j = 0; j < QK; j += N)
        hn::StoreU(hn::Mul(hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(d8, b[k].qs + j))), vd), df, dst + j);
    } else {
      for (int j = 0; j < QK; ++j) dst[j] = static_cast<float>(b[k].qs[j]) * d;
    }
  }
}

void Q4_0ToF32(const void* src, float* dst, int64_t n) {
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di;
  const hn::Rebind<uint8_t, decltype(di)> d8;
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  const auto* b = static_cast<const block_q4_0*>(src);
  for (int64_t k = 0; k < n / QK; ++k, dst += QK) {
    const float d = fp16_to_float(b[k].d);
    if (N <= QK / 2 && (QK / 2) % N == 0) {
      const auto vd = hn::Set(df, d);
      const auto eight = hn::Set(di, 8), low = hn::Set(di, 0x0F);
      for (int64_t j = 0; j < QK / 2; j += N) {
        const auto q = hn::PromoteTo(di, hn::LoadU(d8, b[k].qs + j));
        hn::StoreU(hn::Mul(hn::ConvertTo(df, hn::Sub(hn::And(q, low), eight)), vd), df, dst + j);
        hn::StoreU(hn::Mul(hn::ConvertTo(df, hn::Sub(hn::ShiftRight<4>(q), eight)), vd), df, dst + QK / 2 + j);
      }
    } else {
      for (int j = 0; j < QK / 2; ++j) {
        dst[j] = static_cast<float>((b[k].qs[j] & 0x0F) - 8) * d;
        dst[j + QK / 2] = static_cast<float>((b[k].qs[j] >> 4) - 8) * d;
      }
    }
  }
}

// Several tokens against one weight row (prompt processing): the row is read
// and unpacked once. act[t] is token t's activation row; nt is 1..kMaxTokens.
template <DotFn kDot, int kType>
void DotMulti(const void* w, const void* const* act, int nt, float* out, int64_t n) {
#if HWY_TARGET == HWY_AVX3_DL
  if (kType == 0 || kType == 1) {  // q4_0, q8_0: even block counts take the wide path
    const int64_t nb = n / QK;
    if (nb % 2 == 0) {
      for (int t = 0; t < nt; ++t) out[t] = 0;
      switch (nt) {
        case 8: DotQx_0_512<8, kType == 0>(w, act, n, nb, out); break;
        case 7: DotQx_0_512<7, kType == 0>(w, act, n, nb, out); break;
        case 6: DotQx_0_512<6, kType == 0>(w, act, n, nb, out); break;
        case 5: DotQx_0_512<5, kType == 0>(w, act, n, nb, out); break;
        case 4: DotQx_0_512<4, kType == 0>(w, act, n, nb, out); break;
        case 3: DotQx_0_512<3, kType == 0>(w, act, n, nb, out); break;
        case 2: DotQx_0_512<2, kType == 0>(w, act, n, nb, out); break;
        default: DotQx_0_512<1, kType == 0>(w, act, n, nb, out); break;
      }
      return;
    }
  }
  if (kType == 2 || kType == 3) {  // q4_K, q6_K
    const auto* const* ys = reinterpret_cast<const block_q8_K* const*>(act);
    const int64_t nb = n / QK_K;
    if (kType == 2) {
      const auto* x = static_cast<const block_q4_K*>(w);
      switch (nt) {
        case 8: return DotQ4_K_512<8>(x, ys, nb, out);
        case 7: return DotQ4_K_512<7>(x, ys, nb, out);
        case 6: return DotQ4_K_512<6>(x, ys, nb, out);
        case 5: return DotQ4_K_512<5>(x, ys, nb, out);
        case 4: return DotQ4_K_512<4>(x, ys, nb, out);
        case 3: return DotQ4_K_512<3>(x, ys, nb, out);
        case 2: return DotQ4_K_512<2>(x, ys, nb, out);
        default: return DotQ4_K_512<1>(x, ys, nb, out);
      }
    }
    const auto* x = static_cast<const block_q6_K*>(w);
    switch (nt) {
      case 8: return DotQ6_K_512<8>(x, ys, nb, out);
      case 7: return DotQ6_K_512<7>(x, ys, nb, out);
      case 6: return DotQ6_K_512<6>(x, ys, nb, out);
      case 5: return DotQ6_K_512<5>(x, ys, nb, out);
      case 4: return DotQ6_K_512<4>(x, ys, nb, out);
      case 3: return DotQ6_K_512<3>(x, ys, nb, out);
      case 2: return DotQ6_K_512<2>(x, ys, nb, out);
      default: return DotQ6_K_512<1>(x, ys, nb, out);
    }
  }
#endif
  for (int t = 0; t < nt; ++t) out[t] = kDot(w, act[t], n);
}

void FillKernels(KernelSet* ks) {
  ks->target = hwy::TargetName(HWY_TARGET);
  ks->dot_q4_0 = &DotQ4_0;
  ks->dot_q8_0 = &DotQ8_0;
  ks->dot_q4_K = &DotQ4_K;
  ks->dot_q6_K = &DotQ6_K;
  ks->dot_f16 = &DotF16;
  ks->dot_f32 = &DotF32;
  ks->scores16 = &Scores16;
  ks->softmax = &Softmax;
  ks->acc_rows = &AccRows;
  ks->to_f32_f16 = &F16ToF32;
  ks->to_f32_q8_0 = &Q8_0ToF32;
  ks->to_f32_q4_0 = &Q4_0ToF32;
  ks->silu_mul = &SiluMul;
  ks->dotn_q4_0 = &DotMulti<DotQ4_0, 0>;
  ks->dotn_q8_0 = &DotMulti<DotQ8_0, 1>;
  ks->dotn_q4_K = &DotMulti<DotQ4_K, 2>;
  ks->dotn_q6_K = &DotMulti<DotQ6_K, 3>;
}

#undef EDGERUN_X86_INT8
}  // namespace edgerun::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace edgerun::cpu {

HWY_EXPORT(FillKernels);

size_t split_q8_0_bytes(int64_t n) { return static_cast<size_t>(n) + 2 * sizeof(float) * static_cast<size_t>(n / QK); }

void split_q8_0(const void* blocks, void* out, int64_t n) {
  const auto* x = static_cast<const block_q8_0*>(blocks);
  auto* qs = static_cast<int8_t*>(out);
  auto* d = reinterpret_cast<float*>(static_cast<uint8_t*>(out) + n);
  auto* s = reinterpret_cast<int32_t*>(d + n / QK);
  for (int64_t b = 0; b < n / QK; ++b) {
    std::memcpy(qs + QK * b, x[b].qs, QK);
    int sum = 0;
    for (int j = 0; j < QK; ++j) sum += x[b].qs[j];
    d[b] = fp16_to_float(x[b].d);
    s[b] = -128 * sum;
  }
}

DotFn KernelSet::dot(DType t) const {
  switch (t) {
    case DType::Q4_0: return dot_q4_0;
    case DType::Q8_0: return dot_q8_0;
    case DType::Q4_K: return dot_q4_K;
    case DType::Q6_K: return dot_q6_K;
    case DType::F16: return dot_f16;
    case DType::F32: return dot_f32;
    default: return nullptr;
  }
}

DotNFn KernelSet::dotn(DType t) const {
  switch (t) {
    case DType::Q4_0: return dotn_q4_0;
    case DType::Q8_0: return dotn_q8_0;
    case DType::Q4_K: return dotn_q4_K;
    case DType::Q6_K: return dotn_q6_K;
    default: return nullptr;
  }
}

namespace {
// The set of the target Highway dispatches to now.
KernelSet dispatched_kernels() {
  KernelSet k;
  HWY_DYNAMIC_DISPATCH(FillKernels)(&k);
  fill_group_kernels(&k);
  return k;
}
}  // namespace

const KernelSet& best_kernels() {
  static const KernelSet ks = [] {
    // BackendSettings::simd = "AVX2" (a Highway target name) runs a lesser target
    // this CPU also has: to compare targets, and to test what other CPUs run.
    const std::string& wanted = backend_settings().simd;
    if (wanted.empty()) return dispatched_kernels();
    const char* want = wanted.c_str();
    std::string have;
    for (const KernelSet& k : kernels_for_each_target()) {
      if (strcasecmp(k.target, want) == 0) return k;
      have += std::string(have.empty() ? "" : ", ") + k.target;
    }
    fail("simd target", std::string("no SIMD target '") + want + "' here (this CPU and build have: " + have + ")");
  }();
  return ks;
}

std::vector<KernelSet> kernels_for_each_target() {
  std::vector<KernelSet> out;
  for (const int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    out.push_back(dispatched_kernels());
  }
  hwy::SetSupportedTargetsForTest(0);
  return out;
}

}  // namespace edgerun::cpu
#endif
