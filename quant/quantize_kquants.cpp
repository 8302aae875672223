// Reference quantizers of the K-quant formats. Each super-block of 256
// weights is split in sub-blocks whose scale (and min) are fitted by weighted
// least squares over a small search of candidate scales; the sub-block scales
// are then themselves quantized to 6 (or 8, or 4) bits against the block's
// largest one. These follow the rounding of GGUF's reference quantizer.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "blocks.h"
#include "fp16.h"
#include "quant_impl.h"

namespace edgerun::quant {

namespace {

constexpr float kTiny = 1e-15f;


// Fits x ~ scale * L + min with L in [0, nmax] and min <= 0, minimising the
// weighted squared (or absolute) error. Returns scale, sets *neg_min = -min.
float fit_scale_min(int n, int nmax, const float* x, const float* w, uint8_t* L, float* neg_min, float rmin, float rdelta,
                    int nstep, bool abs_err) {
  float mn = x[0], mx = x[0], sum_w = w[0], sum_x = w[0] * x[0];
  for (int i = 1; i < n; ++i) {
    mn = std::min(mn, x[i]);
    mx = std::max(mx, x[i]);
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (mn > 0) mn = 0;
  if (mx == mn) {
    std::fill(L, L + n, 0);
    *neg_min = -mn;
    return 0;
  }
  auto err = [&](float s, float m, const uint8_t* q) {
    float e = 0;
    for (int i = 0; i < n; ++i) {
      const float d = s * q[i] + m - x[i];
      e += w[i] * (abs_err ? std::fabs(d) : d * d);
    }
    return e;
  };
  float iscale = nmax / (mx - mn), scale = 1 / iscale;
  for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(std::clamp(nearest(iscale * (x[i] - mn)), 0, nmax));
  float best = err(scale, mn, L);
  uint8_t trial[QK_K];
  for (int step = 0; step <= nstep; ++step) {
    iscale = (rmin + rdelta * step + nmax) / (mx - mn);
    float sl = 0, sl2 = 0, sxl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(nearest(iscale * (x[i] - mn)), 0, nmax);
      trial[i] = static_cast<uint8_t>(l);
      sl += w[i] * l;
      sl2 += w[i] * l * l;
      sxl += w[i] * l * x[i];
    }
    const float det = sum_w * sl2 - sl * sl;
    if (det <= 0) continue;
    float s = (sum_w * sxl - sum_x * sl) / det;
    float m = (sl2 * sum_x - sl * sxl) / det;
    if (m > 0) {
      m = 0;
      s = sxl / sl2;
    }
    const float e = err(s, m, trial);
    if (e < best) {
      std::copy(trial, trial + n, L);
      best = e;
      scale = s;
      mn = m;
    }
  }
  *neg_min = -mn;
  return scale;
}

// Fits x ~ scale * (L - nmax) with L - nmax in [-nmax, nmax-1], weights x^2,
// trying scales around -nmax/max. Returns the scale.
float fit_symmetric(int n, int nmax, const float* x, int8_t* L) {
  const float mx = signed_absmax(x, n);
  if (std::fabs(mx) < kTiny) {
    std::fill(L, L + n, 0);
    return 0;
  }
  auto trial = [&](float iscale, float* sumlx, float* suml2) {
    *sumlx = *suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(nearest(iscale * x[i]), -nmax, nmax - 1);
      const float w = x[i] * x[i];
      *sumlx += w * x[i] * l;
      *suml2 += w * l * l;
    }
  };
  auto assign = [&](float iscale) {
    for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(nmax + std::clamp(nearest(iscale * x[i]), -nmax, nmax - 1));
  };
  float sumlx, suml2;
  float iscale = -nmax / mx;
  trial(iscale, &sumlx, &suml2);
  assign(iscale);
  float scale = suml2 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(nmax + 0.1f * is) / mx;
    trial(iscale, &sumlx, &suml2);
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      assign(iscale);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// q3_K's fit: start from -nmax/max, then move single values while that
// improves the weighted fit (weights x^2). L comes back in [0, 2*nmax).
float fit_q3(int n, int nmax, const float* x, int8_t* L) {
  const float mx = signed_absmax(x, n);
  if (std::fabs(mx) < kTiny) {
    std::fill(L, L + n, 0);
    return 0;
  }
  const float iscale = -nmax / mx;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::clamp(nearest(iscale * x[i]), -nmax, nmax - 1);
    L[i] = static_cast<int8_t>(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  for (int pass = 0; pass < 5; ++pass) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * L[i];
      if (slx <= 0) continue;
      float sl2 = suml2 - w * L[i] * L[i];
      const int nl = std::clamp(nearest(x[i] * sl2 / slx), -nmax, nmax - 1);
      if (nl == L[i]) continue;
      slx += w * x[i] * nl;
      sl2 += w * nl * nl;
      if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
        L[i] = static_cast<int8_t>(nl);
        sumlx = slx;
        suml2 = sl2;
        ++changed;
      }
    }
    if (!changed) break;
  }
  for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
  return sumlx / suml2;
}

// The 12-byte packing of eight 6-bit scales and mins (q4_K, q5_K).
void pack_scale_min_6bit(uint8_t* s, const uint8_t* ls, const uint8_t* lm) {
  std::memset(s, 0, 12);
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      s[j] = ls[j];
      s[j + 4] = lm[j];
    } else {
      s[j + 4] = static_cast<uint8_t>((ls[j] & 0x0F) | ((lm[j] & 0x0F) << 4));
      s[j - 4] |= static_cast<uint8_t>((ls[j] >> 4) << 6);
      s[j] |= static_cast<uint8_t>((lm[j] >> 4) << 6);
    }
  }
}

// q4_K and q5_K share everything but the bit width and the packing of values.
template <int NMAX>
void quantize_k_asym(const float* x, float* d_out, float* dmin_out, uint8_t* scales12, uint8_t* L, uint16_t* d16, uint16_t* dmin16) {
  float w[32], sc[8], mins[8];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    float ss = 0;
    for (int l = 0; l < 32; ++l) ss += x[32 * j + l] * x[32 * j + l];
    const float av = std::sqrt(ss / 32);
    for (int l = 0; l < 32; ++l) w[l] = av + std::fabs(x[32 * j + l]);
    sc[j] = NMAX == 15 ? fit_scale_min(32, 15, x + 32 * j, w, L + 32 * j, &mins[j], -1.0f, 0.1f, 20, false)
                       : fit_scale_min(32, 31, x + 32 * j, w, L + 32 * j, &mins[j], -0.5f, 0.1f, 15, false);
    max_scale = std::max(max_scale, sc[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    ls[j] = static_cast<uint8_t>(std::min(63, nearest(inv_scale * sc[j])));
    lm[j] = static_cast<uint8_t>(std::min(63, nearest(inv_min * mins[j])));
  }
  pack_scale_min_6bit(scales12, ls, lm);
  *d16 = float_to_fp16(max_scale / 63.0f);
  *dmin16 = float_to_fp16(max_min / 63.0f);
  *d_out = fp16_to_float(*d16);
  *dmin_out = fp16_to_float(*dmin16);
  for (int j = 0; j < 8; ++j) {
    int s, m;
    scale_min_6bit(scales12, j, &s, &m);
    const float d = *d_out * s;
    if (!d) continue;
    const float dm = *dmin_out * m;
    for (int i = 0; i < 32; ++i) L[32 * j + i] = static_cast<uint8_t>(std::clamp(nearest((x[32 * j + i] + dm) / d), 0, NMAX));
  }
}

}  // namespace

void quantize_q4_K(const float* x, void* out, int64_t n) {
  auto* y = static_cast<block_q4_K*>(out);
  uint8_t L[QK_K];
  for (int64_t b = 0; b < n / QK_K; ++b, x += QK_K) {
    float d, dmin;
    quantize_k_asym<15>(x, &d, &dmin, y[b].scales, L, &y[b].d, &y[b].dmin);
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l) y[b].qs[32 * c + l] = static_cast<uint8_t>(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
  }
}

void quantize_q5_K(const float* x, void* out, int64_t n) {
  auto* y = static_cast<block_q5_K*>(out);
  uint8_t L[QK_K];
  for (int64_t b = 0; b < n / QK_K; ++b, x += QK_K) {
    float d, dmin;
    quantize_k_asym<31>(x, &d, &dmin, y[b].scales, L, &y[b].d, &y[b].dmin);
    std::memset(y[b].qh, 0, sizeof y[b].qh);
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l) {
        int lo = L[64 * c + l], hi = L[64 * c + 32 + l];
        if (lo > 15) { lo -= 16; y[b].qh[l] |= static_cast<uint8_t>(1 << (2 * c)); }
        if (hi > 15) { hi -= 16; y[b].qh[l] |= static_cast<uint8_t>(2 << (2 * c)); }
        y[b].qs[32 * c + l] = static_cast<uint8_t>(lo | (hi << 4));
      }
  }
}

void quantize_q6_K(const float* x, void* out, int64_t n) {
  auto* y = static_cast<block_q6_K*>(out);
  int8_t L[QK_K];
  float scales[QK_K / 16];
  for (int64_t b = 0; b < n / QK_K; ++b, x += QK_K) {
    float max_scale = 0, max_abs = 0;
    for (int g = 0; g < 16; ++g) {
      scales[g] = fit_symmetric(16, 32, x + 16 * g, L + 16 * g);
      if (std::fabs(scales[g]) > max_abs) { max_abs = std::fabs(scales[g]); max_scale = scales[g]; }
    }
    if (max_abs < kTiny) {
      std::memset(&y[b], 0, sizeof(block_q6_K));
      continue;
    }
    const float iscale = -128.0f / max_scale;
    y[b].d = float_to_fp16(1 / iscale);
    for (int g = 0; g < 16; ++g) y[b].scales[g] = static_cast<int8_t>(std::min(127, nearest(iscale * scales[g])));
    for (int g = 0; g < 16; ++g) {
      const float d = fp16_to_float(y[b].d) * y[b].scales[g];
      if (!d) continue;
      for (int i = 0; i < 16; ++i) L[16 * g + i] = static_cast<int8_t>(std::clamp(nearest(x[16 * g + i] / d), -32, 31) + 32);
    }
    for (int half = 0; half < 2; ++half) {
      const int8_t* q = L + 128 * half;
      uint8_t* ql = y[b].ql + 64 * half;
      uint8_t* qh = y[b].qh + 32 * half;
      for (int l = 0; l < 32; ++l) {
        ql[l] = static_cast<uint8_t>((q[l] & 0x0F) | ((q[l + 64] & 0x0F) << 4));
        ql[l + 32] = static_cast<uint8_t>((q[l + 32] & 0x0F) | ((q[l + 96] & 0x0F) << 4));
        qh[l] = static_cast<uint8_t>((q[l] >> 4) | ((q[l + 32] >> 4) << 2) | ((q[l + 64] >> 4) << 4) | ((q[l + 96] >> 4) << 6));
      }
    }
  }
}

void quantize_q3_K(const float* x, void* out, int64_t n) {
  auto* y = static_cast<block_q3_K*>(out);
  int8_t L[QK_K];
  float scales[16];
  for (int64_t b = 0; b < n / QK_K; ++b, x += QK_K) {
    float max_scale = 0, amax = 0;
    for (int g = 0; g < 16; ++g) {
      scales[g] = fit_q3(16, 4, x + 16 * g, L + 16 * g);
      if (std::fabs(scales[g]) > amax) { amax = std::fabs(scales[g]); max_scale = scales[g]; }
    }
    std::memset(y[b].scales, 0, 12);
    if (max_scale) {
      const float iscale = -32.0f / max_scale;
      for (int g = 0; g < 16; ++g) {
        int l = std::clamp(nearest(iscale * scales[g]), -32, 31) + 32;
        if (g < 8) y[b].scales[g] = static_cast<uint8_t>(l & 0x0F);
        else y[b].scales[g - 8] |= static_cast<uint8_t>((l & 0x0F) << 4);
        y[b].scales[8 + g % 4] |= static_cast<uint8_t>((l >> 4) << (2 * (g / 4)));
      }
      y[b].d = float_to_fp16(1 / iscale);
    } else {
      y[b].d = 0;
    }
    for (int g = 0; g < 16; ++g) {
      const int low = g < 8 ? y[b].scales[g] & 0x0F : y[b].scales[g - 8] >> 4;
      const int sc = (low | (((y[b].scales[8 + g % 4] >> (2 * (g / 4))) & 3) << 4)) - 32;
      const float d = fp16_to_float(y[b].d) * sc;
      if (!d) continue;
      for (int i = 0; i < 16; ++i) L[16 * g + i] = static_cast<int8_t>(std::clamp(nearest(x[16 * g + i] / d), -4, 3) + 4);
    }
    std::memset(y[b].hmask, 0, sizeof y[b].hmask);
    for (int j = 0; j < QK_K; ++j) {
      if (L[j] > 3) {
        y[b].hmask[j % 32] |= static_cast<uint8_t>(1 << (j / 32));
        L[j] = static_cast<int8_t>(L[j] - 4);
      }
    }
    for (int half = 0; half < 2; ++half)
      for (int l = 0; l < 32; ++l) {
        const int8_t* q = L + 128 * half;
        y[b].qs[32 * half + l] = static_cast<uint8_t>(q[l] | (q[l + 32] << 2) | (q[l + 64] << 4) | (q[l + 96] << 6));
      }
  }
}

void quantize_q2_K(const float* x, void* out, int64_t n) {
  auto* y = static_cast<block_q2_K*>(out);
  uint8_t L[QK_K];
  float w[16], scales[16], mins[16];
  for (int64_t b = 0; b < n / QK_K; ++b, x += QK_K) {
    float max_scale = 0, max_min = 0;
    for (int g = 0; g < 16; ++g) {
      for (int l = 0; l < 16; ++l) w[l] = std::fabs(x[16 * g + l]);
      scales[g] = fit_scale_min(16, 3, x + 16 * g, w, L + 16 * g, &mins[g], -0.5f, 0.1f, 15, true);
      max_scale = std::max(max_scale, scales[g]);
      max_min = std::max(max_min, mins[g]);
    }
    if (max_scale > 0) {
      const float iscale = 15.0f / max_scale;
      for (int g = 0; g < 16; ++g) y[b].scales[g] = static_cast<uint8_t>(nearest(iscale * scales[g]));
      y[b].d = float_to_fp16(max_scale / 15.0f);
    } else {
      std::memset(y[b].scales, 0, 16);
      y[b].d = 0;
    }
    if (max_min > 0) {
      const float iscale = 15.0f / max_min;
      for (int g = 0; g < 16; ++g) y[b].scales[g] |= static_cast<uint8_t>(nearest(iscale * mins[g]) << 4);
      y[b].dmin = float_to_fp16(max_min / 15.0f);
    } else {
      y[b].dmin = 0;
    }
    for (int g = 0; g < 16; ++g) {
      const float d = fp16_to_float(y[b].d) * (y[b].scales[g] & 0x0F);
      if (!d) continue;
      const float dm = fp16_to_float(y[b].dmin) * (y[b].scales[g] >> 4);
      for (int i = 0; i < 16; ++i) L[16 * g + i] = static_cast<uint8_t>(std::clamp(nearest((x[16 * g + i] + dm) / d), 0, 3));
    }
    for (int half = 0; half < 2; ++half)
      for (int l = 0; l < 32; ++l) {
        const uint8_t* q = L + 128 * half;
        y[b].qs[32 * half + l] = static_cast<uint8_t>(q[l] | (q[l + 32] << 2) | (q[l + 64] << 4) | (q[l + 96] << 6));
      }
  }
}

}  // namespace edgerun::quant
