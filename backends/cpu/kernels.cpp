// Compiled once per Highway target: see kernels.h.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <strings.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

#include <cstdlib>
#include <cstring>
#include <string>

#include "settings.h"
#include "blocks.h"
#include "cpu/block_order.h"
#include "common/error.h"
#include "exact_math.h"
#include "cpu/kernels.h"
#include "fp16.h"

HWY_BEFORE_NAMESPACE();
#include "cpu/evex_vnni.h"  // NOLINT: per target
namespace edgerun::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#include "cpu/int8_helpers.h"  // NOLINT: per target


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
#ifdef EDGERUN_X86_ROWS
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
#ifdef EDGERUN_X86_ROWS
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
#ifdef EDGERUN_X86_ROWS
  const V32 m4 = v_set1_8(0x0F);
#endif
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t sc[8], mn[8];
    scales_q4_K(x[b].scales, sc, mn);
    int32_t imin = 0;
    for (int j = 0; j < 8; ++j) imin += mn[j] * (y[b].bsums[2 * j] + y[b].bsums[2 * j + 1]);
#ifdef EDGERUN_X86_ROWS
    V32 vsum = v_zero();
    for (int c = 0; c < 4; ++c) {
      const V32 q = load32(x[b].qs + 32 * c);
      const V32 lo = v_and(q, m4), hi = v_and(v_srli16(q, 4), m4);
      vsum = dot_u8s8_scaled(vsum, lo, load32(y[b].qs + 64 * c), v_set1_16(sc[2 * c]));
      vsum = dot_u8s8_scaled(vsum, hi, load32(y[b].qs + 64 * c + 32), v_set1_16(sc[2 * c + 1]));
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
#ifdef EDGERUN_X86_ROWS
  const V32 m4 = v_set1_8(0x0F), m2 = v_set1_8(3);
#endif
  for (int64_t b = 0; b < nb; ++b) {
    const int8_t* sc = x[b].scales;
    // Values are stored as q + 32 (0..63): take the 32 back through the sums.
    int32_t ioff = 0;
    for (int g = 0; g < 16; ++g) ioff += sc[g] * y[b].bsums[g];
#ifdef EDGERUN_X86_ROWS
    V32 vsum = v_zero();
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = x[b].ql + 64 * half;
      const V32 l0 = load32(ql), l1 = load32(ql + 32), h = load32(x[b].qh + 32 * half);
      const V32 v[4] = {
          v_or(v_and(l0, m4), v_slli16(v_and(h, m2), 4)),
          v_or(v_and(l1, m4), v_slli16(v_and(v_srli16(h, 2), m2), 4)),
          v_or(v_and(v_srli16(l0, 4), m4), v_slli16(v_and(v_srli16(h, 4), m2), 4)),
          v_or(v_and(v_srli16(l1, 4), m4), v_slli16(v_and(v_srli16(h, 6), m2), 4)),
      };
      for (int k = 0; k < 4; ++k) {
        const int g = 8 * half + 2 * k;  // two 16-weight groups per 32 bytes
        const V32 s = v_set_halves16(sc[g], sc[g + 1]);
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
  ks->dotn_q4_0 = &DotMulti<DotQ4_0, 0>;
  ks->dotn_q8_0 = &DotMulti<DotQ8_0, 1>;
  ks->dotn_q4_K = &DotMulti<DotQ4_K, 2>;
  ks->dotn_q6_K = &DotMulti<DotQ6_K, 3>;
}

#undef EDGERUN_X86_INT8
#undef EDGERUN_X86_ROWS
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
    case DType::BF16: return dot_bf16;
    case DType::IQ4_NL: return dot_iq4_nl;
    case DType::IQ4_XS: return dot_iq4_xs;
    case DType::Q5_0: return dot_q5_0;
    case DType::Q4_1: return dot_q4_1;
    case DType::Q5_1: return dot_q5_1;
    case DType::Q2_K: return dot_q2_K;
    case DType::Q3_K: return dot_q3_K;
    case DType::Q5_K: return dot_q5_K;
    default: return nullptr;
  }
}

DotNFn KernelSet::dotn(DType t) const {
  switch (t) {
    case DType::Q4_0: return dotn_q4_0;
    case DType::Q8_0: return dotn_q8_0;
    case DType::Q4_K: return dotn_q4_K;
    case DType::Q6_K: return dotn_q6_K;
    case DType::IQ4_NL: return dotn_iq4_nl;
    case DType::IQ4_XS: return dotn_iq4_xs;
    case DType::Q5_0: return dotn_q5_0;
    case DType::Q4_1: return dotn_q4_1;
    case DType::Q5_1: return dotn_q5_1;
    case DType::Q2_K: return dotn_q2_K;
    case DType::Q3_K: return dotn_q3_K;
    case DType::Q5_K: return dotn_q5_K;
    default: return nullptr;
  }
}

bool cpu_has_avx_vnni() {
#if defined(EDGERUN_AVX_VNNI) && (defined(__x86_64__) || defined(__i386__))
  // Leaf 7 sub-leaf 1, EAX bit 4. The OS's saving of the 256-bit registers is
  // Highway's AVX2 check, which the callers pass first.
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) return false;
  return (eax >> 4) & 1;
#else
  return false;
#endif
}

bool cpu_has_avx512_vnni() {
#if defined(EDGERUN_AVX_VNNI) && (defined(__x86_64__) || defined(__i386__))
  // libgcc's checks include the OS's saving of the AVX-512 registers.
  return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl");
#else
  return false;
#endif
}

bool cpu_has_neon_dotprod() {
#if defined(__aarch64__) && defined(__linux__)
  constexpr unsigned long kHwcapAsimdDp = 1ul << 20;  // HWCAP_ASIMDDP of <asm/hwcap.h>
  return (getauxval(AT_HWCAP) & kHwcapAsimdDp) != 0;
#else
  return false;
#endif
}

bool cpu_has_neon_i8mm() {
#if defined(__aarch64__) && defined(__linux__)
  constexpr unsigned long kHwcap2I8mm = 1ul << 13;  // HWCAP2_I8MM of <asm/hwcap.h>
  return cpu_has_neon_dotprod() && (getauxval(AT_HWCAP2) & kHwcap2I8mm) != 0;
#else
  return false;
#endif
}

namespace {
// The set of the target Highway dispatches to now.
KernelSet dispatched_kernels() {
  KernelSet k;
  HWY_DYNAMIC_DISPATCH(FillKernels)(&k);
  fill_float_kernels(&k);
  fill_iq4_kernels(&k);
  fill_row_kernels(&k);
  fill_group_kernels(&k);
  return k;
}

// The AVX2 set with the AVX-VNNI group kernels, for CPUs that have them.
KernelSet with_avx_vnni(KernelSet k) {
#ifdef EDGERUN_AVX_VNNI
  fill_avx_vnni_group_kernels(&k);
  k.target = "AVX_VNNI";
  k.groups = "AVX-VNNI";
#endif
  return k;
}
// The same, the AVX-VNNI code in AVX-512 VNNI's encodings.
KernelSet with_avx_vnni_evex(KernelSet k) {
#ifdef EDGERUN_AVX_VNNI
  fill_avx_vnni_evex_group_kernels(&k);
  k.target = "AVX_VNNI_EVEX";
  k.groups = "AVX-VNNI (EVEX encoding)";
#endif
  return k;
}
bool is_avx2(const KernelSet& k) { return std::strcmp(k.target, "AVX2") == 0; }

#ifdef EDGERUN_NEON_KERNELS
// The NEON kernels' instruction sets, least first.
enum class NeonIsa { kPlain, kDotprod, kI8mm };
NeonIsa best_neon_isa() {
  return cpu_has_neon_i8mm() ? NeonIsa::kI8mm : cpu_has_neon_dotprod() ? NeonIsa::kDotprod : NeonIsa::kPlain;
}
// An ARM target's set with the NEON kernels of one instruction set.
KernelSet with_neon_kernels(KernelSet k, NeonIsa g) {
  const bool neon = std::strcmp(k.target, "NEON") == 0;
  switch (g) {
    case NeonIsa::kI8mm:
      fill_neon_i8mm_kernels(&k);
      k.groups = "NEON i8mm";
      if (neon) k.target = "NEON_I8MM";
      break;
    case NeonIsa::kDotprod:
      fill_neon_dotprod_kernels(&k);
      k.groups = "NEON dotprod";
      if (neon) k.target = "NEON_DOTPROD";
      break;
    case NeonIsa::kPlain:
      fill_neon_kernels(&k);
      k.groups = "NEON";
      break;
  }
  return k;
}
#endif

// The best set of one Highway target on this CPU.
KernelSet best_of_target(const KernelSet& k) {
  if (is_avx2(k) && cpu_has_avx_vnni()) return with_avx_vnni(k);
#ifdef EDGERUN_NEON_KERNELS
  return with_neon_kernels(k, best_neon_isa());
#endif
  return k;
}
}  // namespace

const KernelSet& best_kernels() {
  static const KernelSet ks = [] {
    // BackendSettings::simd = "AVX2" (a Highway target name) runs a lesser target
    // this CPU also has: to compare targets, and to test what other CPUs run.
    const std::string& wanted = backend_settings().simd;
    if (wanted.empty()) return best_of_target(dispatched_kernels());
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
    const KernelSet k = dispatched_kernels();
    const KernelSet best = best_of_target(k);
    out.push_back(best);  // the best first: AVX_VNNI before AVX2, NEON_I8MM before NEON_DOTPROD before NEON
#ifdef EDGERUN_NEON_KERNELS
    // The NEON target also with each lesser instruction set, so each is tested.
    if (std::strcmp(k.target, "NEON") == 0)
      for (int g = static_cast<int>(best_neon_isa()) - 1; g >= 0; --g)
        out.push_back(with_neon_kernels(k, static_cast<NeonIsa>(g)));
#else
    if (std::strcmp(best.target, k.target) != 0) out.push_back(k);
    if (is_avx2(k) && !cpu_has_avx_vnni() && cpu_has_avx512_vnni()) out.push_back(with_avx_vnni_evex(k));
#endif
  }
  hwy::SetSupportedTargetsForTest(0);
  return out;
}

}  // namespace edgerun::cpu
#endif
