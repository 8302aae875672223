// The reference kernels behind quant_ops(); one function per format and job.
#pragma once

#include <cstdint>

namespace edgerun::quant {

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

}  // namespace edgerun::quant
