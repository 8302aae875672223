// The reference kernels behind quant_ops(); one function per format and job.
#pragma once

#include <cstdint>
#include <cstring>

namespace edgerun::quant {

// Round to nearest, ties to even, for |x| < 2^22: adding 1.5 * 2^23 leaves the
// rounded integer in the low mantissa bits (GGUF's quantizers round so; no libm call).
inline int nearest(float x) {
  const float v = x + 12582912.0f;
  int32_t i;
  std::memcpy(&i, &v, 4);
  return (i & 0x007fffff) - 0x00400000;
}

// The value of largest magnitude, sign kept (0 for an all-zero run).
float signed_absmax(const float* x, int n);

// q4_K / q5_K pack eight 6-bit scales and eight 6-bit mins in 12 bytes.
inline void scale_min_6bit(const uint8_t* s, int j, int* sc, int* mn) {
  if (j < 4) {
    *sc = s[j] & 63;
    *mn = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
    *mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

void quantize_q4_0(const float* x, void* y, int64_t n);
void quantize_q4_1(const float* x, void* y, int64_t n);
void quantize_q5_0(const float* x, void* y, int64_t n);
void quantize_q5_1(const float* x, void* y, int64_t n);
void quantize_q8_0(const float* x, void* y, int64_t n);
void quantize_q8_0_act(const float* x, void* y, int64_t n);
void quantize_q8_1(const float* x, void* y, int64_t n);
void quantize_q8_K(const float* x, void* y, int64_t n);
void quantize_q2_K(const float* x, void* y, int64_t n);
void quantize_q3_K(const float* x, void* y, int64_t n);
void quantize_q4_K(const float* x, void* y, int64_t n);
void quantize_q5_K(const float* x, void* y, int64_t n);
void quantize_q6_K(const float* x, void* y, int64_t n);
void quantize_iq4_nl(const float* x, void* y, int64_t n);
void quantize_iq4_xs(const float* x, void* y, int64_t n);

void dequantize_q4_0(const void* x, float* y, int64_t n);
void dequantize_q4_1(const void* x, float* y, int64_t n);
void dequantize_q5_0(const void* x, float* y, int64_t n);
void dequantize_q5_1(const void* x, float* y, int64_t n);
void dequantize_q8_0(const void* x, float* y, int64_t n);
void dequantize_q8_1(const void* x, float* y, int64_t n);
void dequantize_q2_K(const void* x, float* y, int64_t n);
void dequantize_q3_K(const void* x, float* y, int64_t n);
void dequantize_q4_K(const void* x, float* y, int64_t n);
void dequantize_q5_K(const void* x, float* y, int64_t n);
void dequantize_q6_K(const void* x, float* y, int64_t n);
void dequantize_q8_K(const void* x, float* y, int64_t n);
void dequantize_iq4_nl(const void* x, float* y, int64_t n);
void dequantize_iq4_xs(const void* x, float* y, int64_t n);

float dot_q4_0_q8_0(const void* w, const void* a, int64_t n);
float dot_q4_1_q8_1(const void* w, const void* a, int64_t n);
float dot_q5_0_q8_0(const void* w, const void* a, int64_t n);
float dot_q5_1_q8_1(const void* w, const void* a, int64_t n);
float dot_q8_0_q8_0(const void* w, const void* a, int64_t n);
float dot_q2_K_q8_K(const void* w, const void* a, int64_t n);
float dot_q3_K_q8_K(const void* w, const void* a, int64_t n);
float dot_q4_K_q8_K(const void* w, const void* a, int64_t n);
float dot_q5_K_q8_K(const void* w, const void* a, int64_t n);
float dot_q6_K_q8_K(const void* w, const void* a, int64_t n);
float dot_iq4_nl_q8_0(const void* w, const void* a, int64_t n);
float dot_iq4_xs_q8_K(const void* w, const void* a, int64_t n);

}  // namespace edgerun::quant
