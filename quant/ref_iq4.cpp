// Scalar reference of the IQ4 formats (iq4_nl: blocks of 32 with one f16
// scale; iq4_xs: super-blocks of 256 with 6-bit sub-block scales). Each weight
// is a 4-bit index into the non-uniform codebook kIQ4Values.
//
// The quantizer reproduces GGUF's reference quantizer step for step (no
// importance matrix: each weight's error is weighted by x^2), so a tensor we
// quantize has the same bytes as one llama.cpp quantized: a scale from the
// block's largest weight, the codebook index nearest each scaled weight, a
// least-squares refit of the scale, then 15 trial scales around it, keeping
// the one that explains the most of the block.
#include <cmath>
#include <cstring>

#include "blocks.h"
#include "fp16.h"
#include "quant_impl.h"

namespace edgerun::quant {

namespace {

constexpr float kTiny = 1e-15f;
constexpr int kTrials = 7;  // scales tried on each side of the block's maximum

// The index of the codebook entry nearest x; ties go to the upper entry.
int nearest_code(float x) {
  if (x <= kIQ4Values[0]) return 0;
  if (x >= kIQ4Values[15]) return 15;
  int lo = 0, hi = 15;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (x < kIQ4Values[mid]) hi = mid;
    else lo = mid;
  }
  return x - kIQ4Values[hi - 1] < kIQ4Values[hi] - x ? hi - 1 : hi;
}

// Fits the scale of one block of 32 weights; writes the codes chosen on the
// way into L (the caller may re-choose them for a rounded scale). Returns 0
// for a block of zeros.
float fit_block(const float* x, uint8_t* L) {
  float w[QK];
  for (int j = 0; j < QK; ++j) w[j] = x[j] * x[j];
  float amax = 0, max = 0;
  for (int j = 0; j < QK; ++j)
    if (std::fabs(x[j]) > amax) { amax = std::fabs(x[j]); max = x[j]; }
  if (amax < kTiny) return 0;
  // Fit sums for one inverse scale: sum w q x and sum w q^2 over the codes picked.
  auto fit = [&](float inv, float* sqx, float* sq2, uint8_t* codes) {
    float a = 0, b = 0;
    for (int j = 0; j < QK; ++j) {
      const int l = nearest_code(inv * x[j]);
      if (codes) codes[j] = static_cast<uint8_t>(l);
      const float q = kIQ4Values[l];
      a += w[j] * q * x[j];
      b += w[j] * q * q;
    }
    *sqx = a;
    *sq2 = b;
  };
  float sqx, sq2;
  fit(1 / (-max / kIQ4Values[0]), &sqx, &sq2, L);
  float d = sq2 > 0 ? sqx / sq2 : 0.0f;
  float best = d * sqx;
  for (int t = -kTrials; t <= kTrials; ++t) {
    fit(static_cast<float>(t + kIQ4Values[0]) / max, &sqx, &sq2, nullptr);
    if (sq2 > 0 && sqx * sqx > best * sq2) {
      d = sqx / sq2;
      best = d * sqx;
    }
  }
  return d;
}

void pack_codes(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < QK / 2; ++j) qs[j] = static_cast<uint8_t>(L[j] | (L[j + QK / 2] << 4));
}

// Sum over one 32-weight block of code value times activation quant.
int block_sum(const uint8_t* qs, const int8_t* a) {
  int s = 0;
  for (int j = 0; j < QK / 2; ++j) s += kIQ4Values[qs[j] & 0x0F] * a[j] + kIQ4Values[qs[j] >> 4] * a[j + QK / 2];
  return s;
}

}  // namespace

void quantize_iq4_nl(const float* x, void* out, int64_t n) {
  auto* y = static_cast<block_iq4_nl*>(out);
  for (int64_t b = 0; b < n / QK; ++b, x += QK) {
    uint8_t L[QK];
    const float d = fit_block(x, L);
    y[b].d = float_to_fp16(d);
    // The codes are chosen again for the scale kept (a zero block: code of 1).
    const float inv = d ? 1 / d : 0.0f;
    for (int j = 0; j < QK; ++j) L[j] = static_cast<uint8_t>(nearest_code(inv * x[j]));
    pack_codes(L, y[b].qs);
  }
}

void quantize_iq4_xs(const float* x, void* out, int64_t n) {
  auto* y = static_cast<block_iq4_xs*>(out);
  constexpr int kSub = QK_K / QK;
  for (int64_t b = 0; b < n / QK_K; ++b, x += QK_K) {
    uint8_t L[QK];
    float scales[kSub];
    float max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < kSub; ++ib) {
      scales[ib] = fit_block(x + ib * QK, L);
      if (std::fabs(scales[ib]) > amax_scale) { amax_scale = std::fabs(scales[ib]); max_scale = scales[ib]; }
    }
    block_iq4_xs& o = y[b];
    const float d = -max_scale / 32;
    o.d = float_to_fp16(d);
    o.scales_h = 0;
    std::memset(o.scales_l, 0, sizeof o.scales_l);
    const float inv = d ? 1 / d : 0.0f;
    for (int ib = 0; ib < kSub; ++ib) {
      int l = nearest(inv * scales[ib]);
      l = l < -32 ? -32 : l > 31 ? 31 : l;
      // Codes for the sub-block scale as stored (unrounded d, as the reference does).
      const float dl = d * static_cast<float>(l);
      const float idl = dl ? 1 / dl : 0.0f;
      for (int j = 0; j < QK; ++j) L[j] = static_cast<uint8_t>(nearest_code(idl * x[ib * QK + j]));
      pack_codes(L, o.qs + ib * (QK / 2));
      l += 32;
      o.scales_l[ib / 2] = static_cast<uint8_t>(o.scales_l[ib / 2] | ((l & 0x0F) << (4 * (ib % 2))));
      o.scales_h = static_cast<uint16_t>(o.scales_h | ((l >> 4) << (2 * ib)));
    }
  }
}

void dequantize_iq4_nl(const void* in, float* y, int64_t n) {
  const auto* x = static_cast<const block_iq4_nl*>(in);
  for (int64_t b = 0; b < n / QK; ++b, y += QK) {
    const float d = fp16_to_float(x[b].d);
    for (int j = 0; j < QK / 2; ++j) {
      y[j] = d * kIQ4Values[x[b].qs[j] & 0x0F];
      y[j + QK / 2] = d * kIQ4Values[x[b].qs[j] >> 4];
    }
  }
}

void dequantize_iq4_xs(const void* in, float* y, int64_t n) {
  const auto* x = static_cast<const block_iq4_xs*>(in);
  for (int64_t b = 0; b < n / QK_K; ++b) {
    const float d = fp16_to_float(x[b].d);
    for (int ib = 0; ib < QK_K / QK; ++ib, y += QK) {
      const float dl = d * static_cast<float>(iq4_xs_scale(x[b], ib));
      const uint8_t* qs = x[b].qs + ib * (QK / 2);
      for (int j = 0; j < QK / 2; ++j) {
        y[j] = dl * kIQ4Values[qs[j] & 0x0F];
        y[j + QK / 2] = dl * kIQ4Values[qs[j] >> 4];
      }
    }
  }
}

// docs/NUMERICS.md rule 2: an exact integer sum per block, then (d_w * d_a) * I.
float dot_iq4_nl_q8_0(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const block_iq4_nl*>(w);
  const auto* y = static_cast<const block_q8_0*>(a);
  float sum = 0;
  for (int64_t b = 0; b < n / QK; ++b)
    sum += (fp16_to_float(x[b].d) * fp16_to_float(y[b].d)) * static_cast<float>(block_sum(x[b].qs, y[b].qs));
  return sum;
}

// One integer sum per super-block over its sub-blocks' scaled sums, as the
// K-quants: I = sum over ib of (ls_ib - 32) * sum_j value[q_j] * a_j.
float dot_iq4_xs_q8_K(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const block_iq4_xs*>(w);
  const auto* y = static_cast<const block_q8_K*>(a);
  float sum = 0;
  for (int64_t b = 0; b < n / QK_K; ++b) {
    int32_t s = 0;
    for (int ib = 0; ib < QK_K / QK; ++ib)
      s += iq4_xs_scale(x[b], ib) * block_sum(x[b].qs + ib * (QK / 2), y[b].qs + ib * QK);
    sum += (fp16_to_float(x[b].d) * y[b].d) * static_cast<float>(s);
  }
  return sum;
}

}  // namespace edgerun::quant
