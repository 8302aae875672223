// The float kernels of the cpu backend (f16/f32 weight rows, attention's
// scores, softmax and sum over values, SwiGLU, KV cache rows to floats),
// compiled once per Highway target like kernels.cpp.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/float_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "blocks.h"
#include "exact_math.h"
#include "cpu/kernels.h"
#include "fp16.h"

HWY_BEFORE_NAMESPACE();
namespace edgerun::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

float DotF16(const void* w, const void* a, int64_t n) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<hwy::float16_t, decltype(df)> dh;
  const auto* x = static_cast<const hwy::float16_t*>(w);
  const auto* y = static_cast<const float*>(a);
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  auto s0 = hn::Zero(df), s1 = hn::Zero(df);
  int64_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    s0 = hn::MulAdd(hn::PromoteTo(df, hn::LoadU(dh, x + i)), hn::LoadU(df, y + i), s0);
    s1 = hn::MulAdd(hn::PromoteTo(df, hn::LoadU(dh, x + i + N)), hn::LoadU(df, y + i + N), s1);
  }
  float sum = hn::GetLane(hn::SumOfLanes(df, hn::Add(s0, s1)));
  const auto* xh = static_cast<const uint16_t*>(w);
  for (; i < n; ++i) sum += fp16_to_float(xh[i]) * y[i];
  return sum;
}

// bf16 is the top half of an f32: widened by a shift of the bits.
float DotBF16(const void* w, const void* a, int64_t n) {
  const hn::ScalableTag<float> df;
  const hn::RebindToUnsigned<decltype(df)> du;
  const hn::Rebind<uint16_t, decltype(df)> dh;
  const auto* x = static_cast<const uint16_t*>(w);
  const auto* y = static_cast<const float*>(a);
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  auto widen = [&](int64_t i) { return hn::BitCast(df, hn::ShiftLeft<16>(hn::PromoteTo(du, hn::LoadU(dh, x + i)))); };
  auto s0 = hn::Zero(df), s1 = hn::Zero(df);
  int64_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    s0 = hn::MulAdd(widen(i), hn::LoadU(df, y + i), s0);
    s1 = hn::MulAdd(widen(i + N), hn::LoadU(df, y + i + N), s1);
  }
  float sum = hn::GetLane(hn::SumOfLanes(df, hn::Add(s0, s1)));
  for (; i < n; ++i) sum += bf16_to_float(x[i]) * y[i];
  return sum;
}

float DotF32(const void* w, const void* a, int64_t n) {
  const hn::ScalableTag<float> df;
  const auto* x = static_cast<const float*>(w);
  const auto* y = static_cast<const float*>(a);
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  auto s0 = hn::Zero(df), s1 = hn::Zero(df);
  int64_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    s0 = hn::MulAdd(hn::LoadU(df, x + i), hn::LoadU(df, y + i), s0);
    s1 = hn::MulAdd(hn::LoadU(df, x + i + N), hn::LoadU(df, y + i + N), s1);
  }
  float sum = hn::GetLane(hn::SumOfLanes(df, hn::Add(s0, s1)));
  for (; i < n; ++i) sum += x[i] * y[i];
  return sum;
}

// Attention's scores: out[p] = (q . k_p) * scale for n_pos keys k_p = k +
// p * stride, each dot product in the 16-lane order of quant/exact_math.h
// (on every backend the same bits): lane j of the sum is vector j / L, lane
// j % L, for L-lane vectors (16 % L == 0). Four keys at a time, so that four
// chains of adds hide each other's latency.
void Scores16(const float* q, const float* k, int64_t stride, int n_pos, int64_t n, float scale, float* out) {
  const hn::ScalableTag<float> df;
  const int64_t L = static_cast<int64_t>(hn::Lanes(df));
  const bool simd = L <= kSumLanes && kSumLanes % L == 0;
  const int64_t full = simd ? n / kSumLanes * kSumLanes : 0;
  alignas(64) float lanes[4][kSumLanes];
  for (int p0 = 0; p0 < n_pos; p0 += 4) {
    const int np = std::min(4, n_pos - p0);
    for (int j = 0; j < np; ++j)
      for (float& l : lanes[j]) l = 0.0f;
    if (full > 0) {
      const float* k0 = k + p0 * stride;
      const float* k1 = k + (p0 + std::min(1, np - 1)) * stride;
      const float* k2 = k + (p0 + std::min(2, np - 1)) * stride;
      const float* k3 = k + (p0 + std::min(3, np - 1)) * stride;
      for (int64_t v = 0; v < kSumLanes; v += L) {  // lanes v .. v + L - 1
        auto a0 = hn::Zero(df), a1 = hn::Zero(df), a2 = hn::Zero(df), a3 = hn::Zero(df);
        for (int64_t e = v; e < full; e += kSumLanes) {
          const auto qe = hn::LoadU(df, q + e);
          a0 = hn::Add(a0, hn::Mul(qe, hn::LoadU(df, k0 + e)));
          a1 = hn::Add(a1, hn::Mul(qe, hn::LoadU(df, k1 + e)));
          a2 = hn::Add(a2, hn::Mul(qe, hn::LoadU(df, k2 + e)));
          a3 = hn::Add(a3, hn::Mul(qe, hn::LoadU(df, k3 + e)));
        }
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
        if (full == n) {  // one register per key: the pairwise steps across registers, four keys at once
          const __m512 A0 = a0.raw, A1 = a1.raw, A2 = a2.raw, A3 = a3.raw;
          // (j, j + 8): the low and high halves of two keys side by side
          const __m512 t01 = _mm512_add_ps(_mm512_shuffle_f32x4(A0, A1, 0x44), _mm512_shuffle_f32x4(A0, A1, 0xEE));
          const __m512 t23 = _mm512_add_ps(_mm512_shuffle_f32x4(A2, A3, 0x44), _mm512_shuffle_f32x4(A2, A3, 0xEE));
          // (j, j + 4): 128-bit block i now holds key i's four lanes
          const __m512 u = _mm512_add_ps(_mm512_shuffle_f32x4(t01, t23, 0x88), _mm512_shuffle_f32x4(t01, t23, 0xDD));
          // (j, j + 2), then (j, j + 1), within each block
          const __m512 w2 = _mm512_add_ps(u, _mm512_permute_ps(u, 0xEE));
          const __m512 w1 = _mm512_add_ps(w2, _mm512_permute_ps(w2, 0x01));
          const __m128 sums = _mm512_castps512_ps128(_mm512_maskz_compress_ps(0x1111, w1));
          _mm_mask_storeu_ps(out + p0, static_cast<__mmask8>((1u << np) - 1), _mm_mul_ps(sums, _mm_set1_ps(scale)));
          goto next_keys;
        }
#endif
        hn::StoreU(a0, df, lanes[0] + v);
        hn::StoreU(a1, df, lanes[1] + v);
        hn::StoreU(a2, df, lanes[2] + v);
        hn::StoreU(a3, df, lanes[3] + v);
      }
    }
    for (int j = 0; j < np; ++j) {
      for (int64_t e = full; e < n; ++e) lanes[j][e % kSumLanes] = lanes[j][e % kSumLanes] + q[e] * k[(p0 + j) * stride + e];
      out[p0 + j] = sum_lanes(lanes[j]) * scale;
    }
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
  next_keys:;
#endif
  }
}

// exact_math.h's exact_exp, lane by lane the same operations (so the same bits).
template <class D>
HWY_INLINE hn::Vec<D> ExactExp(D df, hn::Vec<D> x) {
  const hn::RebindToSigned<D> di;
  const auto t = hn::Min(hn::Max(x, hn::Set(df, -87.0f)), hn::Set(df, 88.0f));  // out-of-range lanes replaced below
  const auto k = hn::Floor(hn::Add(hn::Mul(t, hn::Set(df, kExpLog2e)), hn::Set(df, 0.5f)));
  const auto r = hn::Sub(hn::Sub(t, hn::Mul(k, hn::Set(df, kExpLn2Hi))), hn::Mul(k, hn::Set(df, kExpLn2Lo)));
  auto p = hn::Set(df, kExpTop);
  for (const float c : kExpPoly) p = hn::Add(hn::Mul(p, r), hn::Set(df, c));
  const auto two_k = hn::BitCast(df, hn::ShiftLeft<23>(hn::Add(hn::ConvertTo(di, k), hn::Set(di, 127))));
  const auto e = hn::IfThenZeroElse(hn::Lt(x, hn::Set(df, -87.0f)), hn::Mul(p, two_k));
  return hn::IfThenElse(hn::Gt(x, hn::Set(df, 88.0f)), hn::Set(df, INFINITY), e);
}

// Attention's softmax weights in place: w[p] = e_p * (1 / sum e), e_p =
// exact_exp(w[p] - max), the sum in exact_math.h's 16 lanes (lane j takes
// e_j, e_{j+16}, ... in order, from 0), held in 16 / L registers.
void Softmax(float* w, int64_t n) {
  const hn::ScalableTag<float> df;
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  float mx = -INFINITY;
  int64_t i = 0;
  if (n >= N) {
    auto m = hn::LoadU(df, w);
    for (i = N; i + N <= n; i += N) m = hn::Max(m, hn::LoadU(df, w + i));
    mx = hn::GetLane(hn::MaxOfLanes(df, m));
  }
  for (; i < n; ++i) mx = std::max(mx, w[i]);
  const auto vm = hn::Set(df, mx);
  for (i = 0; i + N <= n; i += N) hn::StoreU(ExactExp(df, hn::Sub(hn::LoadU(df, w + i), vm)), df, w + i);
  for (; i < n; ++i) w[i] = exact_exp(w[i] - mx);
  alignas(64) float lanes[kSumLanes] = {};
  i = 0;
  if (N == 16 || N == 8 || N == 4) {
    auto a0 = hn::Zero(df), a1 = hn::Zero(df), a2 = hn::Zero(df), a3 = hn::Zero(df);
    for (; i + kSumLanes <= n; i += kSumLanes) {
      a0 = hn::Add(a0, hn::LoadU(df, w + i));
      if (N <= 8) a1 = hn::Add(a1, hn::LoadU(df, w + i + N));
      if (N == 4) {
        a2 = hn::Add(a2, hn::LoadU(df, w + i + 2 * N));
        a3 = hn::Add(a3, hn::LoadU(df, w + i + 3 * N));
      }
    }
    hn::StoreU(a0, df, lanes);
    if (N <= 8) hn::StoreU(a1, df, lanes + N);
    if (N == 4) {
      hn::StoreU(a2, df, lanes + 2 * N);
      hn::StoreU(a3, df, lanes + 3 * N);
    }
  }
  for (; i + kSumLanes <= n; i += kSumLanes)
    for (int j = 0; j < kSumLanes; ++j) lanes[j] = lanes[j] + w[i + j];
  for (int j = 0; i + j < n; ++j) lanes[j] = lanes[j] + w[i + j];
  const float inv = 1.0f / sum_lanes(lanes);
  const auto vi = hn::Set(df, inv);
  for (i = 0; i + N <= n; i += N) hn::StoreU(hn::Mul(hn::LoadU(df, w + i), vi), df, w + i);
  for (; i < n; ++i) w[i] = w[i] * inv;
}

// out = exact_silu(g) * u (SwiGLU), lane by lane the scalar operations.
void SiluMul(const float* g, const float* u, float* out, int64_t n) {
  const hn::ScalableTag<float> df;
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  const auto lo = hn::Set(df, -87.0f), one = hn::Set(df, 1.0f);
  int64_t i = 0;
  for (; i + N <= n; i += N) {
    const auto x = hn::LoadU(df, g + i);
    const auto silu = hn::IfThenZeroElse(hn::Lt(x, lo), hn::Div(x, hn::Add(one, ExactExp(df, hn::Neg(x)))));
    hn::StoreU(hn::Mul(silu, hn::LoadU(df, u + i)), df, out + i);
  }
  for (; i < n; ++i) out[i] = exact_silu(g[i]) * u[i];
}

// acc[i] = acc[i] + w[p] * v[p * stride + i] for p = 0.. in order (attention's
// sum over values, rule 4 of docs/NUMERICS.md: one multiply and one add each),
// four vectors of acc held in registers across all positions.
void AccRows(const float* w, const float* v, int64_t stride, int n_pos, int64_t n, float* acc) {
  const hn::ScalableTag<float> df;
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  int64_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    auto a0 = hn::LoadU(df, acc + i), a1 = hn::LoadU(df, acc + i + N);
    auto a2 = hn::LoadU(df, acc + i + 2 * N), a3 = hn::LoadU(df, acc + i + 3 * N);
    const float* vp = v + i;
    for (int p = 0; p < n_pos; ++p, vp += stride) {
      const auto wp = hn::Set(df, w[p]);
      a0 = hn::Add(a0, hn::Mul(wp, hn::LoadU(df, vp)));
      a1 = hn::Add(a1, hn::Mul(wp, hn::LoadU(df, vp + N)));
      a2 = hn::Add(a2, hn::Mul(wp, hn::LoadU(df, vp + 2 * N)));
      a3 = hn::Add(a3, hn::Mul(wp, hn::LoadU(df, vp + 3 * N)));
    }
    hn::StoreU(a0, df, acc + i);
    hn::StoreU(a1, df, acc + i + N);
    hn::StoreU(a2, df, acc + i + 2 * N);
    hn::StoreU(a3, df, acc + i + 3 * N);
  }
  for (; i + N <= n; i += N) {
    auto a = hn::LoadU(df, acc + i);
    for (int p = 0; p < n_pos; ++p) a = hn::Add(a, hn::Mul(hn::Set(df, w[p]), hn::LoadU(df, v + p * stride + i)));
    hn::StoreU(a, df, acc + i);
  }
  for (; i < n; ++i)
    for (int p = 0; p < n_pos; ++p) acc[i] = acc[i] + w[p] * v[p * stride + i];
}

// KV cache rows to floats. Every value is exact: an f16 widened, a q8_0 or
// q4_0 quant times its f16 scale (at most 18 significant bits).
void F16ToF32(const void* src, float* dst, int64_t n) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<hwy::float16_t, decltype(df)> dh;
  const auto* x = static_cast<const hwy::float16_t*>(src);
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  int64_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::PromoteTo(df, hn::LoadU(dh, x + i)), df, dst + i);
  for (; i < n; ++i) dst[i] = fp16_to_float(static_cast<const uint16_t*>(src)[i]);
}

void Q8_0ToF32(const void* src, float* dst, int64_t n) {
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di;
  const hn::Rebind<int8_t, decltype(di)> d8;
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  const auto* b = static_cast<const block_q8_0*>(src);
  for (int64_t k = 0; k < n / QK; ++k, dst += QK) {
    const float d = fp16_to_float(b[k].d);
    if (N <= QK && QK % N == 0) {
      const auto vd = hn::Set(df, d);
      for (int64_t j = 0; j < QK; j += N)
        hn::StoreU(hn::Mul(hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(d8, b[k].qs + j))), vd), df, dst + j);
    } else {
      for (int j = 0; j < QK; ++j) dst[j] = static_cast<float>(b[k].qs[j]) * d;
    }
  }
}

void Q4_0ToF32(const void* src, float* dst, int64_t n) {
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di;
  const hn::Rebind<uint8_t, decltype(di)> d8;
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  const auto* b = static_cast<const block_q4_0*>(src);
  for (int64_t k = 0; k < n / QK; ++k, dst += QK) {
    const float d = fp16_to_float(b[k].d);
    if (N <= QK / 2 && (QK / 2) % N == 0) {
      const auto vd = hn::Set(df, d);
      const auto eight = hn::Set(di, 8), low = hn::Set(di, 0x0F);
      for (int64_t j = 0; j < QK / 2; j += N) {
        const auto q = hn::PromoteTo(di, hn::LoadU(d8, b[k].qs + j));
        hn::StoreU(hn::Mul(hn::ConvertTo(df, hn::Sub(hn::And(q, low), eight)), vd), df, dst + j);
        hn::StoreU(hn::Mul(hn::ConvertTo(df, hn::Sub(hn::ShiftRight<4>(q), eight)), vd), df, dst + QK / 2 + j);
      }
    } else {
      for (int j = 0; j < QK / 2; ++j) {
        dst[j] = static_cast<float>((b[k].qs[j] & 0x0F) - 8) * d;
        dst[j + QK / 2] = static_cast<float>((b[k].qs[j] >> 4) - 8) * d;
      }
    }
  }
}

void FillFloatKernels(KernelSet* ks) {
  ks->dot_f16 = &DotF16;
  ks->dot_bf16 = &DotBF16;
  ks->dot_f32 = &DotF32;
  ks->scores16 = &Scores16;
  ks->softmax = &Softmax;
  ks->acc_rows = &AccRows;
  ks->to_f32_f16 = &F16ToF32;
  ks->to_f32_q8_0 = &Q8_0ToF32;
  ks->to_f32_q4_0 = &Q4_0ToF32;
  ks->silu_mul = &SiluMul;
}

}  // namespace edgerun::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace edgerun::cpu {
HWY_EXPORT(FillFloatKernels);
// Called with the same target chosen as FillKernels (kernels_for_each_target sets it for tests).
void fill_float_kernels(KernelSet* ks) { HWY_DYNAMIC_DISPATCH(FillFloatKernels)(ks); }
}  // namespace edgerun::cpu
#endif
