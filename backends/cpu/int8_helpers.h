// Helpers of the cpu kernel files, included inside namespace
// edgerun::cpu::HWY_NAMESPACE once per Highway target (so no include guard):
// the x86 int8 dot products the integer kernels build on, and the one float
// order every quantized dot product is summed in. A file that includes it
// #undefs EDGERUN_X86_INT8 at the end of its per-target code.

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

// add_block and add_block_k: block_order.h, which the includer brings.

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

// The single-token kernel of a multi-token one: the same code, so the same bits.
template <void (*kDotN)(const void*, const void* const*, int, float*, int64_t)>
float OneToken(const void* w, const void* a, int64_t n) {
  float r;
  kDotN(w, &a, 1, &r, n);
  return r;
}
