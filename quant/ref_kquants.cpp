// Scalar reference of the K-quant formats (q2_K .. q6_K) and of q8_K, the
// 256-element 8-bit activations they are multiplied with. Each weight block
// is unpacked to small integers with one scale (and min) per 16 weights; the
// dot product then works in integers per block, as llama.cpp's does.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "blocks.h"
#include "fp16.h"
#include "quant_impl.h"

namespace edgerun::quant {

namespace {

// A K-quant block as integers: x[i] = d * scale[i/16] * q[i] - dmin * min[i/16].
struct Unpacked {
  int8_t q[QK_K];
  int scale[QK_K / 16];
  int min[QK_K / 16];
  float d, dmin;
};

// Eight 6-bit scales and mins (q4_K, q5_K), each covering 32 weights.
void unpack_scales_6bit(const uint8_t* scales, Unpacked& u) {
  for (int j = 0; j < 8; ++j) {
    int sc, mn;
    scale_min_6bit(scales, j, &sc, &mn);
    u.scale[2 * j] = u.scale[2 * j + 1] = sc;
    u.min[2 * j] = u.min[2 * j + 1] = mn;
  }
}

void unpack(const block_q2_K& b, Unpacked& u) {
  u.d = fp16_to_float(b.d);
  u.dmin = fp16_to_float(b.dmin);
  for (int g = 0; g < 16; ++g) {
    u.scale[g] = b.scales[g] & 0x0F;
    u.min[g] = b.scales[g] >> 4;
  }
  for (int half = 0; half < 2; ++half)            // 128 weights from 32 bytes
    for (int shift = 0; shift < 4; ++shift)       // 2 bits each
      for (int l = 0; l < 32; ++l) u.q[half * 128 + shift * 32 + l] = static_cast<int8_t>((b.qs[half * 32 + l] >> (2 * shift)) & 3);
}

void unpack(const block_q3_K& b, Unpacked& u) {
  u.d = fp16_to_float(b.d);
  u.dmin = 0;
  // Sixteen 6-bit scales: low 4 bits in bytes 0..7, high 2 bits in bytes 8..11.
  for (int g = 0; g < 16; ++g) {
    const int low = g < 8 ? b.scales[g] & 0x0F : b.scales[g - 8] >> 4;
    const int high = (b.scales[8 + g % 4] >> (2 * (g / 4))) & 3;
    u.scale[g] = (low | (high << 4)) - 32;
    u.min[g] = 0;
  }
  for (int half = 0; half < 2; ++half)
    for (int shift = 0; shift < 4; ++shift)
      for (int l = 0; l < 32; ++l) {
        const int idx = half * 128 + shift * 32 + l;
        const int q2 = (b.qs[half * 32 + l] >> (2 * shift)) & 3;
        const bool hbit = b.hmask[l] & (1 << (half * 4 + shift));
        u.q[idx] = static_cast<int8_t>(q2 - (hbit ? 0 : 4));
      }
}

void unpack(const block_q4_K& b, Unpacked& u) {
  u.d = fp16_to_float(b.d);
  u.dmin = fp16_to_float(b.dmin);
  unpack_scales_6bit(b.scales, u);
  for (int c = 0; c < 4; ++c)  // 64 weights from 32 bytes: low nibbles, then high
    for (int l = 0; l < 32; ++l) {
      u.q[c * 64 + l] = static_cast<int8_t>(b.qs[c * 32 + l] & 0x0F);
      u.q[c * 64 + 32 + l] = static_cast<int8_t>(b.qs[c * 32 + l] >> 4);
    }
}

void unpack(const block_q5_K& b, Unpacked& u) {
  u.d = fp16_to_float(b.d);
  u.dmin = fp16_to_float(b.dmin);
  unpack_scales_6bit(b.scales, u);
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      const int lo = b.qs[c * 32 + l] & 0x0F, hi = b.qs[c * 32 + l] >> 4;
      u.q[c * 64 + l] = static_cast<int8_t>(lo + (((b.qh[l] >> (2 * c)) & 1) << 4));
      u.q[c * 64 + 32 + l] = static_cast<int8_t>(hi + (((b.qh[l] >> (2 * c + 1)) & 1) << 4));
    }
}

void unpack(const block_q6_K& b, Unpacked& u) {
  u.d = fp16_to_float(b.d);
  u.dmin = 0;
  for (int g = 0; g < 16; ++g) {
    u.scale[g] = b.scales[g];
    u.min[g] = 0;
  }
  for (int half = 0; half < 2; ++half) {
    const uint8_t* ql = b.ql + 64 * half;
    const uint8_t* qh = b.qh + 32 * half;
    int8_t* q = u.q + 128 * half;
    for (int l = 0; l < 32; ++l) {
      q[l] = static_cast<int8_t>(((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32);
      q[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32);
      q[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
      q[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
    }
  }
}

template <typename Block>
void dequantize_k(const void* in, float* y, int64_t n) {
  const auto* x = static_cast<const Block*>(in);
  Unpacked u;
  for (int64_t b = 0; b < n / QK_K; ++b, y += QK_K) {
    unpack(x[b], u);
    for (int i = 0; i < QK_K; ++i) y[i] = u.d * u.scale[i / 16] * u.q[i] - u.dmin * u.min[i / 16];
  }
}

template <typename Block>
float dot_k(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const Block*>(w);
  const auto* y = static_cast<const block_q8_K*>(a);
  Unpacked u;
  float sum = 0;
  for (int64_t b = 0; b < n / QK_K; ++b) {
    unpack(x[b], u);
    int32_t isum = 0, imin = 0;
    for (int g = 0; g < QK_K / 16; ++g) {
      int32_t s = 0;
      for (int l = 0; l < 16; ++l) s += u.q[g * 16 + l] * y[b].qs[g * 16 + l];
      isum += u.scale[g] * s;
      imin += u.min[g] * y[b].bsums[g];
    }
    sum += u.d * y[b].d * isum - u.dmin * y[b].d * imin;
  }
  return sum;
}

}  // namespace

void dequantize_q2_K(const void* in, float* y, int64_t n) { dequantize_k<block_q2_K>(in, y, n); }
void dequantize_q3_K(const void* in, float* y, int64_t n) { dequantize_k<block_q3_K>(in, y, n); }
void dequantize_q4_K(const void* in, float* y, int64_t n) { dequantize_k<block_q4_K>(in, y, n); }
void dequantize_q5_K(const void* in, float* y, int64_t n) { dequantize_k<block_q5_K>(in, y, n); }
void dequantize_q6_K(const void* in, float* y, int64_t n) { dequantize_k<block_q6_K>(in, y, n); }
float dot_q2_K_q8_K(const void* w, const void* a, int64_t n) { return dot_k<block_q2_K>(w, a, n); }
float dot_q3_K_q8_K(const void* w, const void* a, int64_t n) { return dot_k<block_q3_K>(w, a, n); }
float dot_q4_K_q8_K(const void* w, const void* a, int64_t n) { return dot_k<block_q4_K>(w, a, n); }
float dot_q5_K_q8_K(const void* w, const void* a, int64_t n) { return dot_k<block_q5_K>(w, a, n); }
float dot_q6_K_q8_K(const void* w, const void* a, int64_t n) { return dot_k<block_q6_K>(w, a, n); }

void quantize_q8_K(const float* x, void* out, int64_t n) {
  auto* y = static_cast<block_q8_K*>(out);
  for (int64_t b = 0; b < n / QK_K; ++b, x += QK_K) {
    float amax = 0, max = 0;
    for (int j = 0; j < QK_K; ++j)
      if (std::fabs(x[j]) > amax) { amax = std::fabs(x[j]); max = x[j]; }
    if (amax == 0) {
      std::memset(&y[b], 0, sizeof(block_q8_K));
      continue;
    }
    const float iscale = -127.0f / max;
    for (int j = 0; j < QK_K; ++j) y[b].qs[j] = static_cast<int8_t>(std::min(127, static_cast<int>(std::nearbyint(iscale * x[j]))));
    for (int g = 0; g < QK_K / 16; ++g) {
      int s = 0;
      for (int l = 0; l < 16; ++l) s += y[b].qs[g * 16 + l];
      y[b].bsums[g] = static_cast<int16_t>(s);
    }
    y[b].d = 1.0f / iscale;
  }
}

void dequantize_q8_K(const void* in, float* y, int64_t n) {
  const auto* x = static_cast<const block_q8_K*>(in);
  for (int64_t b = 0; b < n / QK_K; ++b, y += QK_K)
    for (int j = 0; j < QK_K; ++j) y[j] = x[b].d * x[b].qs[j];
}

}  // namespace edgerun::quant
