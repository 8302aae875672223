#include "quant.h"

#include <algorithm>

#include "common/error.h"
#include "fp16.h"
#include "quant_impl.h"

namespace edgerun {

namespace {

void dequantize_f32(const void* x, float* y, int64_t n) { std::copy_n(static_cast<const float*>(x), n, y); }
void dequantize_f16(const void* x, float* y, int64_t n) {
  const auto* s = static_cast<const uint16_t*>(x);
  for (int64_t i = 0; i < n; ++i) y[i] = fp16_to_float(s[i]);
}
void dequantize_bf16(const void* x, float* y, int64_t n) {
  const auto* s = static_cast<const uint16_t*>(x);
  for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_float(s[i]);
}
void quantize_f32(const float* x, void* y, int64_t n) { std::copy_n(x, n, static_cast<float*>(y)); }
void quantize_f16(const float* x, void* y, int64_t n) {
  auto* d = static_cast<uint16_t*>(y);
  for (int64_t i = 0; i < n; ++i) d[i] = float_to_fp16(x[i]);
}
void quantize_bf16(const float* x, void* y, int64_t n) {
  auto* d = static_cast<uint16_t*>(y);
  for (int64_t i = 0; i < n; ++i) d[i] = float_to_bf16(x[i]);
}
template <void (*Dequant)(const void*, float*, int64_t)>
float dot_float(const void* w, const void* a, int64_t n) {
  // Float weights: converted in chunks, multiplied in float (activations stay f32).
  const auto* act = static_cast<const float*>(a);
  float buf[256];
  float sum = 0;
  const size_t elem = Dequant == dequantize_f32 ? 4 : 2;
  for (int64_t i = 0; i < n; i += 256) {
    const int64_t m = std::min<int64_t>(256, n - i);
    Dequant(static_cast<const uint8_t*>(w) + i * elem, buf, m);
    for (int64_t j = 0; j < m; ++j) sum += buf[j] * act[i + j];
  }
  return sum;
}

using namespace quant;

QuantOps make(DType vdt, void (*dq)(const void*, float*, int64_t), void (*q)(const float*, void*, int64_t),
              float (*dot)(const void*, const void*, int64_t)) {
  QuantOps o;
  o.vec_dot_type = vdt;
  o.dequantize = dq;
  o.quantize = q;
  o.vec_dot = dot;
  o.quantize_activation = q;
  return o;
}

}  // namespace

const QuantOps& quant_ops(DType t) {
  static const QuantOps none;
  static const QuantOps f32 = make(DType::F32, dequantize_f32, quantize_f32, dot_float<dequantize_f32>);
  static const QuantOps f16 = make(DType::F32, dequantize_f16, quantize_f16, dot_float<dequantize_f16>);
  static const QuantOps bf16 = make(DType::F32, dequantize_bf16, quantize_bf16, dot_float<dequantize_bf16>);
  static const QuantOps q4_0 = make(DType::Q8_0, dequantize_q4_0, quantize_q4_0, dot_q4_0_q8_0);
  static const QuantOps q4_1 = make(DType::Q8_1, dequantize_q4_1, quantize_q4_1, dot_q4_1_q8_1);
  static const QuantOps q5_0 = make(DType::Q8_0, dequantize_q5_0, quantize_q5_0, dot_q5_0_q8_0);
  static const QuantOps q5_1 = make(DType::Q8_1, dequantize_q5_1, quantize_q5_1, dot_q5_1_q8_1);
  static const QuantOps q8_0 = [] {
    QuantOps o = make(DType::Q8_0, dequantize_q8_0, quantize_q8_0, dot_q8_0_q8_0);
    o.quantize_activation = quantize_q8_0_act;
    return o;
  }();
  static const QuantOps q8_1 = make(DType::Q8_1, dequantize_q8_1, quantize_q8_1, nullptr);
  static const QuantOps q2_K = make(DType::Q8_K, dequantize_q2_K, quantize_q2_K, dot_q2_K_q8_K);
  static const QuantOps q3_K = make(DType::Q8_K, dequantize_q3_K, quantize_q3_K, dot_q3_K_q8_K);
  static const QuantOps q4_K = make(DType::Q8_K, dequantize_q4_K, quantize_q4_K, dot_q4_K_q8_K);
  static const QuantOps q5_K = make(DType::Q8_K, dequantize_q5_K, quantize_q5_K, dot_q5_K_q8_K);
  static const QuantOps q6_K = make(DType::Q8_K, dequantize_q6_K, quantize_q6_K, dot_q6_K_q8_K);
  static const QuantOps q8_K = make(DType::Q8_K, dequantize_q8_K, quantize_q8_K, nullptr);
  static const QuantOps iq4_nl = make(DType::Q8_0, dequantize_iq4_nl, quantize_iq4_nl, dot_iq4_nl_q8_0);
  static const QuantOps iq4_xs = make(DType::Q8_K, dequantize_iq4_xs, quantize_iq4_xs, dot_iq4_xs_q8_K);
  switch (t) {
    case DType::F32: return f32;
    case DType::F16: return f16;
    case DType::BF16: return bf16;
    case DType::Q4_0: return q4_0;
    case DType::Q4_1: return q4_1;
    case DType::Q5_0: return q5_0;
    case DType::Q5_1: return q5_1;
    case DType::Q8_0: return q8_0;
    case DType::Q8_1: return q8_1;
    case DType::Q2_K: return q2_K;
    case DType::Q3_K: return q3_K;
    case DType::Q4_K: return q4_K;
    case DType::Q5_K: return q5_K;
    case DType::Q6_K: return q6_K;
    case DType::Q8_K: return q8_K;
    case DType::IQ4_NL: return iq4_nl;
    case DType::IQ4_XS: return iq4_xs;
    default: return none;
  }
}

bool is_quantized(DType t) { return dtype_traits(t).block_size > 1; }

}  // namespace edgerun
