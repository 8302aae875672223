// The 5-bit kernels of the cpu backend (q5_0 against q8_0 blocks, q5_K
// against q8_K), compiled once per Highway target like kernels.cpp: the fifth
// bits are spread into the bytes the nibbles unpack to, and the products then
// run as q4_0's and q4_K's do. x86 targets with AVX2 have them; elsewhere the
// KernelSet's entries stay null and the quant/ reference runs.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/q5_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <cstring>

#include "blocks.h"
#include "cpu/kernels.h"
#include "fp16.h"
#include "quant_impl.h"

HWY_BEFORE_NAMESPACE();
namespace edgerun::cpu::HWY_NAMESPACE {
#include "cpu/int8_helpers.h"  // NOLINT: per target

#ifdef EDGERUN_X86_INT8
// 32 fifth bits (bit e for element e) -> byte e is 0x10 where the bit is set.
HWY_INLINE __m256i fifth_bits(const uint8_t* qh) {
  uint32_t h;
  std::memcpy(&h, qh, 4);
  const __m256i byte_of = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  const __m256i v = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(h)), byte_of), bit);
  return _mm256_and_si256(_mm256_cmpeq_epi8(v, bit), _mm256_set1_epi8(0x10));
}

// nt (1..kMaxTokens) tokens against one q5_0 row: per block the weights
// (q - 16, signed) are unpacked once for all of them; docs/NUMERICS.md rule 2.
void DotNQ5_0(const void* w, const void* const* act, int nt, float* out, int64_t n) {
  const auto* x = static_cast<const block_q5_0*>(w);
  const __m256i sixteen = _mm256_set1_epi8(16);
  float sum[kMaxTokens] = {};
  for (int64_t b = 0; b < n / QK; ++b) {
    const __m256i v = _mm256_sub_epi8(_mm256_or_si256(unpack_nibbles(x[b].qs), fifth_bits(x[b].qh)), sixteen);
    const float dw = h2f(x[b].d);
    for (int t = 0; t < nt; ++t) {
      const auto* y = static_cast<const block_q8_0*>(act[t]) + b;
      sum[t] = add_block(sum[t], dw * h2f(y->d), hsum_i32x8(dot_s8s8(v, load32(y->qs))));
    }
  }
  for (int t = 0; t < nt; ++t) out[t] = sum[t];
}

float DotQ5_0(const void* w, const void* a, int64_t n) {
  float r;
  DotNQ5_0(w, &a, 1, &r, n);
  return r;
}

// q5_K: q4_K's nibbles with a fifth bit from qh (bit c of byte l for element
// 32 c + l of each 256), scaled per 32 in the int16 pair step; the mins'
// share from the activations' 16-element sums.
void DotNQ5_K(const void* w, const void* const* act, int nt, float* out, int64_t n) {
  const auto* x = static_cast<const block_q5_K*>(w);
  const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
  float sum[kMaxTokens] = {};
  for (int64_t b = 0; b < n / QK_K; ++b) {
    int sc[8], mn[8];
    for (int j = 0; j < 8; ++j) quant::scale_min_6bit(x[b].scales, j, &sc[j], &mn[j]);
    const __m256i qh = load32(x[b].qh);
    __m256i lo[4], hi[4];
    for (int c = 0; c < 4; ++c) {
      const __m256i q = load32(x[b].qs + 32 * c);
      lo[c] = _mm256_or_si256(_mm256_and_si256(q, m4),
                              _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), one), 4));
      hi[c] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4),
                              _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c + 1), one), 4));
    }
    const float d = h2f(x[b].d), dmin = h2f(x[b].dmin);
    for (int t = 0; t < nt; ++t) {
      const auto* y = static_cast<const block_q8_K*>(act[t]) + b;
      int32_t imin = 0;
      for (int j = 0; j < 8; ++j) imin += mn[j] * (y->bsums[2 * j] + y->bsums[2 * j + 1]);
      __m256i acc = _mm256_setzero_si256();
      for (int c = 0; c < 4; ++c) {
        acc = dot_u8s8_scaled(acc, lo[c], load32(y->qs + 64 * c), _mm256_set1_epi16(static_cast<int16_t>(sc[2 * c])));
        acc = dot_u8s8_scaled(acc, hi[c], load32(y->qs + 64 * c + 32), _mm256_set1_epi16(static_cast<int16_t>(sc[2 * c + 1])));
      }
      sum[t] = add_block_k(sum[t], d, dmin, y->d, hsum_i32x8(acc), imin);
    }
  }
  for (int t = 0; t < nt; ++t) out[t] = sum[t];
}

float DotQ5_K(const void* w, const void* a, int64_t n) {
  float r;
  DotNQ5_K(w, &a, 1, &r, n);
  return r;
}
#endif

void FillQ5Kernels(KernelSet* ks) {
#ifdef EDGERUN_X86_INT8
  ks->dot_q5_0 = &DotQ5_0;
  ks->dot_q5_K = &DotQ5_K;
  ks->dotn_q5_0 = &DotNQ5_0;
  ks->dotn_q5_K = &DotNQ5_K;
#else
  (void)ks;
#endif
}

#undef EDGERUN_X86_INT8
}  // namespace edgerun::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace edgerun::cpu {
HWY_EXPORT(FillQ5Kernels);
// Called with the same target chosen as FillKernels (kernels_for_each_target sets it for tests).
void fill_q5_kernels(KernelSet* ks) { HWY_DYNAMIC_DISPATCH(FillQ5Kernels)(ks); }
}  // namespace edgerun::cpu
#endif
