// Scalar reference of the 32-element block formats (q4_0, q4_1, q5_0, q5_1,
// q8_0, q8_1). Quantizers follow the rounding of GGUF's reference quantizer,
// so a tensor we quantize is bit-identical to one llama.cpp quantized.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "blocks.h"
#include "fp16.h"
#include "quant_impl.h"

namespace edgerun::quant {

namespace {

void min_max(const float* x, int n, float* mn, float* mx) {
  *mn = FLT_MAX;
  *mx = -FLT_MAX;
  for (int j = 0; j < n; ++j) { *mn = std::min(*mn, x[j]); *mx = std::max(*mx, x[j]); }
}

}  // namespace

float signed_absmax(const float* x, int n) {
  float amax = 0, max = 0;
  for (int j = 0; j < n; ++j)
    if (amax < std::fabs(x[j])) { amax = std::fabs(x[j]); max = x[j]; }
  return max;
}

void quantize_q4_0(const float* x, void* out, int64_t n) {
  auto* y = static_cast<block_q4_0*>(out);
  for (int64_t b = 0; b < n / QK; ++b, x += QK) {
    const float d = signed_absmax(x, QK) / -8;
    const float id = d ? 1.0f / d : 0.0f;
    y[b].d = float_to_fp16(d);
    for (int j = 0; j < QK / 2; ++j) {
      const uint8_t lo = static_cast<uint8_t>(std::min<int>(15, static_cast<int8_t>(x[j] * id + 8.5f)));
      const uint8_t hi = static_cast<uint8_t>(std::min<int>(15, static_cast<int8_t>(x[j + QK / 2] * id + 8.5f)));
      y[b].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

void dequantize_q4_0(const void* in, float* y, int64_t n) {
  const auto* x = static_cast<const block_q4_0*>(in);
  for (int64_t b = 0; b < n / QK; ++b, y += QK) {
    const float d = fp16_to_float(x[b].d);
    for (int j = 0; j < QK / 2; ++j) {
      y[j] = ((x[b].qs[j] & 0x0F) - 8) * d;
      y[j + QK / 2] = ((x[b].qs[j] >> 4) - 8) * d;
    }
  }
}

void quantize_q4_1(const float* x, void* out, int64_t n) {
  auto* y = static_cast<block_q4_1*>(out);
  for (int64_t b = 0; b < n / QK; ++b, x += QK) {
    float mn, mx;
    min_max(x, QK, &mn, &mx);
    const float d = (mx - mn) / 15;
    const float id = d ? 1.0f / d : 0.0f;
    y[b].d = float_to_fp16(d);
    y[b].m = float_to_fp16(mn);
    for (int j = 0; j < QK / 2; ++j) {
      const uint8_t lo = static_cast<uint8_t>(std::min<int>(15, static_cast<int8_t>((x[j] - mn) * id + 0.5f)));
      const uint8_t hi = static_cast<uint8_t>(std::min<int>(15, static_cast<int8_t>((x[j + QK / 2] - mn) * id + 0.5f)));
      y[b].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

void dequantize_q4_1(const void* in, float* y, int64_t n) {
  const auto* x = static_cast<const block_q4_1*>(in);
  for (int64_t b = 0; b < n / QK; ++b, y += QK) {
    const float d = fp16_to_float(x[b].d), m = fp16_to_float(x[b].m);
    for (int j = 0; j < QK / 2; ++j) {
      y[j] = (x[b].qs[j] & 0x0F) * d + m;
      y[j + QK / 2] = (x[b].qs[j] >> 4) * d + m;
    }
  }
}

namespace {
template <typename Block>
void pack5(Block& blk, const uint8_t* q) {  // q: 32 values of 5 bits
  uint32_t qh = 0;
  for (int j = 0; j < QK / 2; ++j) {
    blk.qs[j] = static_cast<uint8_t>((q[j] & 0x0F) | ((q[j + QK / 2] & 0x0F) << 4));
    qh |= static_cast<uint32_t>((q[j] & 0x10) >> 4) << j;
    qh |= static_cast<uint32_t>((q[j + QK / 2] & 0x10) >> 4) << (j + QK / 2);
  }
  std::memcpy(blk.qh, &qh, 4);
}
template <typename Block>
void unpack5(const Block& blk, int* q) {
  uint32_t qh;
  std::memcpy(&qh, blk.qh, 4);
  for (int j = 0; j < QK / 2; ++j) {
    q[j] = (blk.qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1) << 4);
    q[j + QK / 2] = (blk.qs[j] >> 4) | static_cast<int>(((qh >> (j + QK / 2)) & 1) << 4);
  }
}
}  // namespace

void quantize_q5_0(const float* x, void* out, int64_t n) {
  auto* y = static_cast<block_q5_0*>(out);
  for (int64_t b = 0; b < n / QK; ++b, x += QK) {
    const float d = signed_absmax(x, QK) / -16;
    const float id = d ? 1.0f / d : 0.0f;
    y[b].d = float_to_fp16(d);
    uint8_t q[QK];
    for (int j = 0; j < QK; ++j) q[j] = static_cast<uint8_t>(std::min<int>(31, static_cast<int8_t>(x[j] * id + 16.5f)));
    pack5(y[b], q);
  }
}

void dequantize_q5_0(const void* in, float* y, int64_t n) {
  const auto* x = static_cast<const block_q5_0*>(in);
  for (int64_t b = 0; b < n / QK; ++b, y += QK) {
    const float d = fp16_to_float(x[b].d);
    int q[QK];
    unpack5(x[b], q);
    for (int j = 0; j < QK; ++j) y[j] = (q[j] - 16) * d;
  }
}

void quantize_q5_1(const float* x, void* out, int64_t n) {
  auto* y = static_cast<block_q5_1*>(out);
  for (int64_t b = 0; b < n / QK; ++b, x += QK) {
    float mn, mx;
    min_max(x, QK, &mn, &mx);
    const float d = (mx - mn) / 31;
    const float id = d ? 1.0f / d : 0.0f;
    y[b].d = float_to_fp16(d);
    y[b].m = float_to_fp16(mn);
    uint8_t q[QK];
    for (int j = 0; j < QK; ++j) q[j] = static_cast<uint8_t>((x[j] - mn) * id + 0.5f);
    pack5(y[b], q);
  }
}

void dequantize_q5_1(const void* in, float* y, int64_t n) {
  const auto* x = static_cast<const block_q5_1*>(in);
  for (int64_t b = 0; b < n / QK; ++b, y += QK) {
    const float d = fp16_to_float(x[b].d), m = fp16_to_float(x[b].m);
    int q[QK];
    unpack5(x[b], q);
    for (int j = 0; j < QK; ++j) y[j] = q[j] * d + m;
  }
}

void quantize_q8_0(const float* x, void* out, int64_t n) {
  auto* y = static_cast<block_q8_0*>(out);
  for (int64_t b = 0; b < n / QK; ++b, x += QK) {
    float amax = 0;
    for (int j = 0; j < QK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127;
    const float id = d ? 1.0f / d : 0.0f;
    y[b].d = float_to_fp16(d);
    for (int j = 0; j < QK; ++j) y[b].qs[j] = static_cast<int8_t>(std::round(x[j] * id));
  }
}

// Activations are rounded as llama.cpp's SIMD quantizer rounds them (scale
// 127/amax, ties to even), which differs from its reference only at ties.
void quantize_q8_0_act(const float* x, void* out, int64_t n) {
  auto* y = static_cast<block_q8_0*>(out);
  for (int64_t b = 0; b < n / QK; ++b, x += QK) {
    float amax = 0;
    for (int j = 0; j < QK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float id = amax != 0 ? 127.0f / amax : 0.0f;
    y[b].d = float_to_fp16(amax / 127);
    for (int j = 0; j < QK; ++j) y[b].qs[j] = static_cast<int8_t>(std::nearbyint(x[j] * id));
  }
}

void dequantize_q8_0(const void* in, float* y, int64_t n) {
  const auto* x = static_cast<const block_q8_0*>(in);
  for (int64_t b = 0; b < n / QK; ++b, y += QK) {
    const float d = fp16_to_float(x[b].d);
    for (int j = 0; j < QK; ++j) y[j] = x[b].qs[j] * d;
  }
}

void quantize_q8_1(const float* x, void* out, int64_t n) {
  auto* y = static_cast<block_q8_1*>(out);
  for (int64_t b = 0; b < n / QK; ++b, x += QK) {
    float amax = 0;
    for (int j = 0; j < QK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127;
    const float id = d ? 1.0f / d : 0.0f;
    int sum = 0;
    for (int j = 0; j < QK; ++j) {
      y[b].qs[j] = static_cast<int8_t>(std::round(x[j] * id));
      sum += y[b].qs[j];
    }
    y[b].d = float_to_fp16(d);
    y[b].s = float_to_fp16(static_cast<float>(sum) * d);
  }
}

void dequantize_q8_1(const void* in, float* y, int64_t n) {
  const auto* x = static_cast<const block_q8_1*>(in);
  for (int64_t b = 0; b < n / QK; ++b, y += QK) {
    const float d = fp16_to_float(x[b].d);
    for (int j = 0; j < QK; ++j) y[j] = x[b].qs[j] * d;
  }
}

// Dot products: integer sums inside a block, scaled once per block, and the
// blocks added in order, each step rounded to float: the order every kernel
// and backend follows, so that they all give these bits (docs/NUMERICS.md).
float dot_q4_0_q8_0(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const block_q4_0*>(w);
  const auto* y = static_cast<const block_q8_0*>(a);
  float sum = 0;
  for (int64_t b = 0; b < n / QK; ++b) {
    int s = 0;
    for (int j = 0; j < QK / 2; ++j)
      s += ((x[b].qs[j] & 0x0F) - 8) * y[b].qs[j] + ((x[b].qs[j] >> 4) - 8) * y[b].qs[j + QK / 2];
    sum += (fp16_to_float(x[b].d) * fp16_to_float(y[b].d)) * static_cast<float>(s);
  }
  return sum;
}

float dot_q4_1_q8_1(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const block_q4_1*>(w);
  const auto* y = static_cast<const block_q8_1*>(a);
  float sum = 0;
  for (int64_t b = 0; b < n / QK; ++b) {
    int s = 0;
    for (int j = 0; j < QK / 2; ++j) s += (x[b].qs[j] & 0x0F) * y[b].qs[j] + (x[b].qs[j] >> 4) * y[b].qs[j + QK / 2];
    sum += (fp16_to_float(x[b].d) * fp16_to_float(y[b].d)) * s + fp16_to_float(x[b].m) * fp16_to_float(y[b].s);
  }
  return sum;
}

float dot_q5_0_q8_0(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const block_q5_0*>(w);
  const auto* y = static_cast<const block_q8_0*>(a);
  float sum = 0;
  for (int64_t b = 0; b < n / QK; ++b) {
    int q[QK];
    unpack5(x[b], q);
    int s = 0;
    for (int j = 0; j < QK; ++j) s += (q[j] - 16) * y[b].qs[j];
    sum += (fp16_to_float(x[b].d) * fp16_to_float(y[b].d)) * static_cast<float>(s);
  }
  return sum;
}

float dot_q5_1_q8_1(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const block_q5_1*>(w);
  const auto* y = static_cast<const block_q8_1*>(a);
  float sum = 0;
  for (int64_t b = 0; b < n / QK; ++b) {
    int q[QK];
    unpack5(x[b], q);
    int s = 0;
    for (int j = 0; j < QK; ++j) s += q[j] * y[b].qs[j];
    sum += (fp16_to_float(x[b].d) * fp16_to_float(y[b].d)) * s + fp16_to_float(x[b].m) * fp16_to_float(y[b].s);
  }
  return sum;
}

float dot_q8_0_q8_0(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const block_q8_0*>(w);
  const auto* y = static_cast<const block_q8_0*>(a);
  float sum = 0;
  for (int64_t b = 0; b < n / QK; ++b) {
    int s = 0;
    for (int j = 0; j < QK; ++j) s += x[b].qs[j] * y[b].qs[j];
    sum += (fp16_to_float(x[b].d) * fp16_to_float(y[b].d)) * static_cast<float>(s);
  }
  return sum;
}

}  // namespace edgerun::quant
