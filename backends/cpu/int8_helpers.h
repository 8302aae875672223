// Helpers of the cpu kernel files, included inside namespace
// edgerun::cpu::HWY_NAMESPACE once per Highway target (so no include guard):
// the x86 int8 dot products the integer row kernels build on, and the one
// float order every quantized dot product is summed in. A file that includes
// it #undefs EDGERUN_X86_INT8 and EDGERUN_X86_ROWS at the end of its
// per-target code.
//
// The row kernels work on 32 bytes at a time (one q8_0 block, a 32-weight
// run of a K-quant) through the V32 type below: one 256-bit register on the
// AVX2 targets, two 128-bit ones on SSSE3 and SSE4 (the cheap laptops and
// older PCs without AVX2). Every operation is lane-local within 128 bits
// (pshufb, maddubs, madd work per half on AVX2 too), so both forms compute
// the same integers, and the float steps are the same code.

#if HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX2
#define EDGERUN_X86_INT8 1
#endif
#if defined(EDGERUN_X86_INT8) || HWY_TARGET == HWY_SSE4 || HWY_TARGET == HWY_SSSE3
#define EDGERUN_X86_ROWS 1
#endif

#ifdef EDGERUN_X86_INT8
using V32 = __m256i;
HWY_INLINE V32 load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
HWY_INLINE V32 v_zero() { return _mm256_setzero_si256(); }
HWY_INLINE V32 v_set1_8(int8_t x) { return _mm256_set1_epi8(x); }
HWY_INLINE V32 v_set1_16(int16_t x) { return _mm256_set1_epi16(x); }
HWY_INLINE V32 v_set1_32(int32_t x) { return _mm256_set1_epi32(x); }
HWY_INLINE V32 v_set1_64(int64_t x) { return _mm256_set1_epi64x(x); }
// 16-bit lanes: the first 16 bytes hold a, the last 16 hold b.
HWY_INLINE V32 v_set_halves16(int16_t a, int16_t b) { return _mm256_set_m128i(_mm_set1_epi16(b), _mm_set1_epi16(a)); }
// 64-bit lanes e0 (lowest) .. e3.
HWY_INLINE V32 v_set64(int64_t e3, int64_t e2, int64_t e1, int64_t e0) { return _mm256_set_epi64x(e3, e2, e1, e0); }
// The same 16 bytes in both halves.
HWY_INLINE V32 v_broadcast16(const void* p) {
  return _mm256_broadcastsi128_si256(_mm_loadu_si128(static_cast<const __m128i*>(p)));
}
HWY_INLINE V32 v_and(V32 a, V32 b) { return _mm256_and_si256(a, b); }
HWY_INLINE V32 v_or(V32 a, V32 b) { return _mm256_or_si256(a, b); }
HWY_INLINE V32 v_sub8(V32 a, V32 b) { return _mm256_sub_epi8(a, b); }
HWY_INLINE V32 v_add32(V32 a, V32 b) { return _mm256_add_epi32(a, b); }
HWY_INLINE V32 v_cmpeq8(V32 a, V32 b) { return _mm256_cmpeq_epi8(a, b); }
HWY_INLINE V32 v_shuffle8(V32 table, V32 idx) { return _mm256_shuffle_epi8(table, idx); }
HWY_INLINE V32 v_srli16(V32 a, int k) { return _mm256_srli_epi16(a, k); }
HWY_INLINE V32 v_slli16(V32 a, int k) { return _mm256_slli_epi16(a, k); }
HWY_INLINE V32 v_maddubs(V32 u, V32 s) { return _mm256_maddubs_epi16(u, s); }
HWY_INLINE V32 v_madd16(V32 a, V32 b) { return _mm256_madd_epi16(a, b); }
HWY_INLINE V32 v_sign8(V32 a, V32 b) { return _mm256_sign_epi8(a, b); }
// 16 bytes of packed nibbles -> 32 bytes: low nibbles, then high nibbles.
HWY_INLINE V32 unpack_nibbles(const uint8_t* p) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i m = _mm_set1_epi8(0x0F);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m), _mm_and_si128(q, m));
}
HWY_INLINE __m128i fold_halves(V32 v) { return _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)); }
// Every x86 target with AVX2 has F16C: one instruction instead of a software conversion.
HWY_INLINE float h2f(uint16_t h) { return _cvtsh_ss(h); }
#elif defined(EDGERUN_X86_ROWS)
struct V32 {
  __m128i lo, hi;
};
HWY_INLINE V32 load32(const void* p) {
  const auto* q = static_cast<const __m128i*>(p);
  return {_mm_loadu_si128(q), _mm_loadu_si128(q + 1)};
}
HWY_INLINE V32 v_zero() { return {_mm_setzero_si128(), _mm_setzero_si128()}; }
HWY_INLINE V32 v_set1_8(int8_t x) { return {_mm_set1_epi8(x), _mm_set1_epi8(x)}; }
HWY_INLINE V32 v_set1_16(int16_t x) { return {_mm_set1_epi16(x), _mm_set1_epi16(x)}; }
HWY_INLINE V32 v_set1_32(int32_t x) { return {_mm_set1_epi32(x), _mm_set1_epi32(x)}; }
HWY_INLINE V32 v_set1_64(int64_t x) { return {_mm_set1_epi64x(x), _mm_set1_epi64x(x)}; }
HWY_INLINE V32 v_set_halves16(int16_t a, int16_t b) { return {_mm_set1_epi16(a), _mm_set1_epi16(b)}; }
HWY_INLINE V32 v_set64(int64_t e3, int64_t e2, int64_t e1, int64_t e0) {
  return {_mm_set_epi64x(e1, e0), _mm_set_epi64x(e3, e2)};
}
HWY_INLINE V32 v_broadcast16(const void* p) {
  const __m128i q = _mm_loadu_si128(static_cast<const __m128i*>(p));
  return {q, q};
}
HWY_INLINE V32 v_and(V32 a, V32 b) { return {_mm_and_si128(a.lo, b.lo), _mm_and_si128(a.hi, b.hi)}; }
HWY_INLINE V32 v_or(V32 a, V32 b) { return {_mm_or_si128(a.lo, b.lo), _mm_or_si128(a.hi, b.hi)}; }
HWY_INLINE V32 v_sub8(V32 a, V32 b) { return {_mm_sub_epi8(a.lo, b.lo), _mm_sub_epi8(a.hi, b.hi)}; }
HWY_INLINE V32 v_add32(V32 a, V32 b) { return {_mm_add_epi32(a.lo, b.lo), _mm_add_epi32(a.hi, b.hi)}; }
HWY_INLINE V32 v_cmpeq8(V32 a, V32 b) { return {_mm_cmpeq_epi8(a.lo, b.lo), _mm_cmpeq_epi8(a.hi, b.hi)}; }
HWY_INLINE V32 v_shuffle8(V32 t, V32 i) { return {_mm_shuffle_epi8(t.lo, i.lo), _mm_shuffle_epi8(t.hi, i.hi)}; }
HWY_INLINE V32 v_srli16(V32 a, int k) { return {_mm_srli_epi16(a.lo, k), _mm_srli_epi16(a.hi, k)}; }
HWY_INLINE V32 v_slli16(V32 a, int k) { return {_mm_slli_epi16(a.lo, k), _mm_slli_epi16(a.hi, k)}; }
HWY_INLINE V32 v_maddubs(V32 u, V32 s) { return {_mm_maddubs_epi16(u.lo, s.lo), _mm_maddubs_epi16(u.hi, s.hi)}; }
HWY_INLINE V32 v_madd16(V32 a, V32 b) { return {_mm_madd_epi16(a.lo, b.lo), _mm_madd_epi16(a.hi, b.hi)}; }
HWY_INLINE V32 v_sign8(V32 a, V32 b) { return {_mm_sign_epi8(a.lo, b.lo), _mm_sign_epi8(a.hi, b.hi)}; }
HWY_INLINE V32 unpack_nibbles(const uint8_t* p) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i m = _mm_set1_epi8(0x0F);
  return {_mm_and_si128(q, m), _mm_and_si128(_mm_srli_epi16(q, 4), m)};
}
HWY_INLINE __m128i fold_halves(V32 v) { return _mm_add_epi32(v.lo, v.hi); }
#endif
#ifndef EDGERUN_X86_INT8
// SSSE3 and SSE4 CPUs need not have F16C; nor need other targets.
HWY_INLINE float h2f(uint16_t h) { return fp16_to_float(h); }
#endif

#ifdef EDGERUN_X86_ROWS
// Sum of products of 32 unsigned bytes (0..127 or so) with 32 signed bytes,
// as 8 int32 lanes.
HWY_INLINE V32 dot_u8s8(V32 u, V32 s) { return v_madd16(v_maddubs(u, s), v_set1_16(1)); }

// acc += sum over pairs of (u*s) * scale, with u*s summed in int16 pairs first
// (u <= 63 keeps those sums from saturating) and scale an int16 per lane.
HWY_INLINE V32 dot_u8s8_scaled(V32 acc, V32 u, V32 s, V32 scale16) {
  return v_add32(acc, v_madd16(v_maddubs(u, s), scale16));
}

// Signed a (|a| <= 128) x signed b (|b| <= 127) as int16 pair sums, exact:
// |a| * (b with a's sign), through the unsigned form.
HWY_INLINE V32 pairs_s8s8(V32 a, V32 b) { return v_maddubs(v_sign8(a, a), v_sign8(b, a)); }

// The same as 8 int32 lanes.
HWY_INLINE V32 dot_s8s8(V32 a, V32 b) { return v_madd16(pairs_s8s8(a, b), v_set1_16(1)); }

HWY_INLINE int32_t hsum_i32(__m128i v) {
  v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0x4E));
  v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0xB1));
  return _mm_cvtsi128_si32(v);
}

HWY_INLINE int32_t hsum_i32x8(V32 v) { return hsum_i32(fold_halves(v)); }
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
