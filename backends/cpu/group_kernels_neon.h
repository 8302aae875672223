// The 16-row group kernels (quant/layouts.h) on 128-bit NEON registers, for
// ARM: with the dot-product instructions (sdot: the Raspberry Pi 5's
// Cortex-A76, Neoverse, Apple) and without them (the Pi 4's Cortex-A72).
// Included inside a namespace once per instruction set (so no include guard):
// neon_kernels.cpp with kDot = false, neon_dotprod_kernels.cpp, built
// for ARMv8.2-A with dotprod, with kDot = true, and neon_i8mm_kernels.cpp,
// with i8mm too, for its smmla prompt kernels; the includer brings
// <arm_neon.h>, <cstring>, blocks.h, layouts.h and group_common.h.
//
// The layout is the x86 one, read as it is: a 64-byte vector of it (32-bit
// lane r = four bytes of row r) is four 128-bit registers, rows 4i..4i+3 in
// register i, so one .erm file serves every CPU. Each register of weights
// meets one 4-byte group of the activations: sdot by element does exactly
// that (four rows' sums of four products, the activations' lane picked in
// the instruction); without it, widening multiplies of bytes to int16 and
// pairwise adds into int32 give the same sums. The integer sums are exact
// whichever instructions form them, and the float steps are the ones every
// backend takes (docs/NUMERICS.md), so the results equal the scalar
// reference's bits.

// Four rows' sums of products with activation lanes: the group kernels' inner
// step, acc + (for each row) the four products of its bytes in w with the
// four activation bytes of lane L of a.
template <bool kDot>
struct QuadDot;

template <>
struct QuadDot<true> {
  int32x4_t even, odd;  // two chains, so sdot's latency is hidden with one token
  explicit QuadDot(int32x4_t start) : even(start), odd(vdupq_n_s32(0)) {}
  template <int L>
  void add(int8x16_t w, int8x16_t a) {
    if constexpr (L % 2 == 0) even = vdotq_laneq_s32(even, w, a, L);
    else odd = vdotq_laneq_s32(odd, w, a, L);
  }
  int32x4_t sum() const { return vaddq_s32(even, odd); }
};

template <>
struct QuadDot<false> {
  // Per register of weights: rows 0-1 and rows 2-3 as int16 products (each
  // fits: |w| <= 128, |a| <= 128), added pairwise into int32 lanes that hold
  // half a row's sum each; sum() adds the halves.
  int32x4_t start, rows01, rows23;
  explicit QuadDot(int32x4_t s) : start(s), rows01(vdupq_n_s32(0)), rows23(vdupq_n_s32(0)) {}
  template <int L>
  void add(int8x16_t w, int8x16_t a) {
    const int8x16_t lane = vreinterpretq_s8_s32(vdupq_laneq_s32(vreinterpretq_s32_s8(a), L));
    rows01 = vpadalq_s16(rows01, vmull_s8(vget_low_s8(w), vget_low_s8(lane)));
    rows23 = vpadalq_s16(rows23, vmull_high_s8(w, lane));
  }
  int32x4_t sum() const { return vaddq_s32(start, vpaddq_s32(rows01, rows23)); }
};

// Rows 4i..4i+3 of a 64-byte vector of the layout.
inline uint8x16_t GroupQuad(const uint8_t* vec, int i) { return vld1q_u8(vec + 16 * i); }
inline int8x16_t AsS8(uint8x16_t v) { return vreinterpretq_s8_u8(v); }
// Four f16 values (four rows') as floats.
inline float32x4_t QuadF16(const void* p) {
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(static_cast<const uint16_t*>(p))));
}
// Four bytes (four rows'), widened to 32-bit lanes.
inline int32x4_t QuadU8(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(v))))));
}
inline int32x4_t QuadS8(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return vmovl_s16(vget_low_s16(vmovl_s8(vreinterpret_s8_u32(vdup_n_u32(v)))));
}

// Eight registers of weights against 32 activation bytes (two registers):
// weights k = 0..3 meet lanes 0..3 of the first, k = 4..7 those of the second.
template <bool kDot>
inline int32x4_t QuadDot32(int32x4_t start, const int8x16_t* w, int8x16_t a0, int8x16_t a1) {
  QuadDot<kDot> s(start);
  s.template add<0>(w[0], a0);
  s.template add<1>(w[1], a0);
  s.template add<2>(w[2], a0);
  s.template add<3>(w[3], a0);
  s.template add<0>(w[4], a1);
  s.template add<1>(w[5], a1);
  s.template add<2>(w[6], a1);
  s.template add<3>(w[7], a1);
  return s.sum();
}

// Rows 4i..4i+3 of a q4_0x16 / q8_0x16 block as signed bytes: w[k] for
// k < 4 q4_0's low nibbles of vector k, else the high nibbles of vector k - 4;
// q8_0's vector k, its stored q + 128 made the signed q again.
// Bit j of each byte of a q5_0x16 / q5_Kx16 fifth-bit register as 0x10.
inline uint8x16_t QuadFifth(uint8x16_t h, int j) {
  return vandq_u8(vtstq_u8(h, vdupq_n_u8(static_cast<uint8_t>(1u << j))), vdupq_n_u8(0x10));
}

// kFive (with kQ4): q5_0x16, each nibble with its fifth bit from the block's last 64 bytes.
template <bool kQ4, bool kFive = false>
inline void QuadQx_0(const uint8_t* q, int i, int8x16_t* w) {
  if constexpr (kQ4) {
    const uint8x16_t fifth = kFive ? GroupQuad(q + 256, i) : vdupq_n_u8(0);
    for (int k = 0; k < 4; ++k) {
      const uint8x16_t v = GroupQuad(q + 64 * k, i);
      uint8x16_t lo = vandq_u8(v, vdupq_n_u8(0x0F)), hi = vshrq_n_u8(v, 4);
      if constexpr (kFive) {
        lo = vorrq_u8(lo, QuadFifth(fifth, k));
        hi = vorrq_u8(hi, QuadFifth(fifth, 4 + k));
      }
      w[k] = AsS8(lo);
      w[4 + k] = AsS8(hi);
    }
  } else {
    for (int k = 0; k < 8; ++k) w[k] = AsS8(veorq_u8(GroupQuad(q + 64 * k, i), vdupq_n_u8(0x80)));
  }
}

// q4_0x16 / q8_0x16 against NT split q8_0 rows. Per block and register of
// four rows, the weights are unpacked once for all tokens. q4_0's low nibbles
// are elements 4k.. and its high ones 16 + 4k.., q8_0's vector k elements
// 4k..: either way, weights k < 4 meet the block's first 16 activation bytes.
// q8_0's stored q + 128 becomes the signed q again; q4_0's 0..15 take the
// offset from the precomputed -128 sum a, divided by 16 (a shift: it is a
// multiple of 16); q5_0's 0..31 (kFive) by 8.
template <int NT, bool kQ4, bool kDot, bool kFive = false>
void GroupQx_0x16_Neon(const void* group, const void* const* act, float* out, int64_t n) {
  constexpr int kBlockBytes = kFive ? 320 : kQ4 ? 256 : 512;
  const int64_t nb = n / QK;
  const auto* scales = static_cast<const uint16_t*>(group);
  const auto* qs = static_cast<const uint8_t*>(group) + nb * 32;
  const SplitRows<NT> split(act, n);
  float32x4_t acc[NT][4];
  for (int t = 0; t < NT; ++t) {
    for (int i = 0; i < 4; ++i) acc[t][i] = vdupq_n_f32(0);
  }
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* q = qs + b * kBlockBytes;
    PrefetchAhead(q, kBlockBytes);
    for (int i = 0; i < 4; ++i) {
      int8x16_t w[8];
      QuadQx_0<kQ4, kFive>(q, i, w);
      const float32x4_t dw = QuadF16(scales + b * 16 + 4 * i);
      for (int t = 0; t < NT; ++t) {
        const int8_t* a = split.q[t] + QK * b;
        const int32_t offset = kQ4 ? split.s[t][b] >> (kFive ? 3 : 4) : 0;
        const int32x4_t s = QuadDot32<kDot>(vdupq_n_s32(offset), w, vld1q_s8(a), vld1q_s8(a + 16));
        const float32x4_t dd = vmulq_f32(dw, vdupq_n_f32(split.d[t][b]));
        acc[t][i] = vaddq_f32(acc[t][i], vmulq_f32(dd, vcvtq_f32_s32(s)));
      }
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int i = 0; i < 4; ++i) vst1q_f32(out + 16 * t + 4 * i, acc[t][i]);
}

// An f16 value as four equal floats.
inline float32x4_t BroadcastF16(uint16_t h) { return vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))); }

// iq4_nlx16 against NT split q8_0 rows, q4_1x16 / q5_1x16 against q8_1 rows:
// q4_0x16's unpacking (q5_1 with q5_0's fifth bits) without an offset, or
// (iq4_nl) the nibbles through the signed codebook (tbl); q4_1 and q5_1 add
// their mins in the float step, (d d_a) I + m s_a.
template <int NT, Nibbles kKind, bool kDot>
void GroupNibblesx16_Neon(const void* group, const void* const* act, float* out, int64_t n) {
  constexpr bool kFive = kKind == Nibbles::kQ5_1;
  constexpr bool kMin = kKind == Nibbles::kQ4_1 || kKind == Nibbles::kQ5_1;
  static_assert(kKind != Nibbles::kQ5_0, "q5_0 is GroupQx_0x16_Neon's");
  constexpr int kBlockBytes = kFive ? 320 : 256;
  const int64_t nb = n / QK;
  const auto* scales = static_cast<const uint16_t*>(group);
  const auto* mins = scales + nb * 16;
  const auto* qs = static_cast<const uint8_t*>(group) + nb * (kMin ? 64 : 32);
  const SplitRows<NT> split(kMin ? nullptr : act, n);  // q8_1 blocks instead
  const block_q8_1* y[NT];
  float32x4_t acc[NT][4];
  for (int t = 0; t < NT; ++t) {
    y[t] = kMin ? static_cast<const block_q8_1*>(act[t]) : nullptr;
    for (int i = 0; i < 4; ++i) acc[t][i] = vdupq_n_f32(0);
  }
  const int8x16_t table = vld1q_s8(kIQ4Values);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* q = qs + b * kBlockBytes;
    PrefetchAhead(q, kBlockBytes);
    for (int i = 0; i < 4; ++i) {
      int8x16_t w[8];
      QuadQx_0<true, kFive>(q, i, w);
      if constexpr (kKind == Nibbles::kIQ4_NL)
        for (int k = 0; k < 8; ++k) w[k] = vqtbl1q_s8(table, vreinterpretq_u8_s8(w[k]));
      const float32x4_t dw = QuadF16(scales + b * 16 + 4 * i);
      const float32x4_t mw = kMin ? QuadF16(mins + b * 16 + 4 * i) : vdupq_n_f32(0);
      for (int t = 0; t < NT; ++t) {
        const int8_t* a = kMin ? y[t][b].qs : split.q[t] + QK * b;
        const float32x4_t s = vcvtq_f32_s32(QuadDot32<kDot>(vdupq_n_s32(0), w, vld1q_s8(a), vld1q_s8(a + 16)));
        if constexpr (kMin) {
          const float32x4_t dd = vmulq_f32(dw, BroadcastF16(y[t][b].d));
          const float32x4_t ms = vmulq_f32(mw, BroadcastF16(y[t][b].s));
          acc[t][i] = vaddq_f32(acc[t][i], vaddq_f32(vmulq_f32(dd, s), ms));
        } else {
          acc[t][i] = vaddq_f32(acc[t][i], vmulq_f32(vmulq_f32(dw, vdupq_n_f32(split.d[t][b])), s));
        }
      }
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int i = 0; i < 4; ++i) vst1q_f32(out + 16 * t + 4 * i, acc[t][i]);
}

// q4_Kx16 against NT q8_K rows: per register of four rows and 64-weight
// chunk, 8 registers of quants unpacked into the nibbles of two sub-blocks,
// each meeting its 32 activation bytes, scaled by the rows' scales in
// integers; the mins meet the activations' 16-element sums, in integers too.
// kFive: q5_Kx16, each nibble with its fifth bit.
template <int NT, bool kDot, bool kFive = false>
void GroupQ4_Kx16_Neon(const void* group, const void* const* act, float* out, int64_t n) {
  constexpr size_t kBlockBytes = kFive ? q5_Kx16_block_bytes() : q4_Kx16_block_bytes();
  const int64_t nb = n / QK_K;
  const block_q8_K* y[NT];
  float32x4_t acc[NT][4];
  for (int t = 0; t < NT; ++t) {
    y[t] = static_cast<const block_q8_K*>(act[t]);
    for (int i = 0; i < 4; ++i) acc[t][i] = vdupq_n_f32(0);
  }
  const uint8x16_t lo4 = vdupq_n_u8(0x0F);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* o = static_cast<const uint8_t*>(group) + b * kBlockBytes;
    PrefetchAhead(o, kBlockBytes);
    for (int i = 0; i < 4; ++i) {
      int32x4_t isc[NT], imin[NT];
      for (int t = 0; t < NT; ++t) isc[t] = imin[t] = vdupq_n_s32(0);
      for (int c = 0; c < 4; ++c) {  // sub-blocks 2c (low nibbles) and 2c + 1 (high)
        int8x16_t lo[8], hi[8];
        for (int k = 0; k < 8; ++k) {
          const uint8x16_t v = GroupQuad(o + 320 + (c * 8 + k) * 64, i);
          uint8x16_t l = vandq_u8(v, lo4), h = vshrq_n_u8(v, 4);
          if constexpr (kFive) {
            const uint8x16_t fifth = GroupQuad(o + q5_Kx16_high_offset() + k * 64, i);
            l = vorrq_u8(l, QuadFifth(fifth, 2 * c));
            h = vorrq_u8(h, QuadFifth(fifth, 2 * c + 1));
          }
          lo[k] = AsS8(l);
          hi[k] = AsS8(h);
        }
        const uint8_t* sc = o + 64 + 2 * c * 16 + 4 * i;
        const uint8_t* mins = o + 192 + 2 * c * 16 + 4 * i;
        const int32x4_t sc_lo = QuadU8(sc), sc_hi = QuadU8(sc + 16), min_lo = QuadU8(mins), min_hi = QuadU8(mins + 16);
        for (int t = 0; t < NT; ++t) {
          const int8_t* a = y[t][b].qs + 64 * c;
          const int16_t* bsums = y[t][b].bsums + 4 * c;
          isc[t] = vmlaq_s32(isc[t], QuadDot32<kDot>(vdupq_n_s32(0), lo, vld1q_s8(a), vld1q_s8(a + 16)), sc_lo);
          isc[t] = vmlaq_s32(isc[t], QuadDot32<kDot>(vdupq_n_s32(0), hi, vld1q_s8(a + 32), vld1q_s8(a + 48)), sc_hi);
          imin[t] = vmlaq_n_s32(imin[t], min_lo, bsums[0] + bsums[1]);
          imin[t] = vmlaq_n_s32(imin[t], min_hi, bsums[2] + bsums[3]);
        }
      }
      const float32x4_t d = QuadF16(o + 8 * i), dmin = QuadF16(o + 32 + 8 * i);
      for (int t = 0; t < NT; ++t) {
        const float32x4_t da = vdupq_n_f32(y[t][b].d);
        const float32x4_t v = vsubq_f32(vmulq_f32(vmulq_f32(d, da), vcvtq_f32_s32(isc[t])),
                                        vmulq_f32(vmulq_f32(dmin, da), vcvtq_f32_s32(imin[t])));
        acc[t][i] = vaddq_f32(acc[t][i], v);
      }
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int i = 0; i < 4; ++i) vst1q_f32(out + 16 * t + 4 * i, acc[t][i]);
}

// q2_K's and q3_K's 32-weight sub-block against its activations, four rows'
// worth: the sums of its two 16-weight groups (w[0..3] with a[0..15], w[4..7]
// with a[16..31]), each started at its seed.
template <bool kDot>
inline void QuadTwoGroupSums(const int8x16_t* w, const int8_t* a, int32_t seed0, int32_t seed1, int32x4_t* g0,
                             int32x4_t* g1) {
  const int8x16_t a0 = vld1q_s8(a), a1 = vld1q_s8(a + 16);
  QuadDot<kDot> s0(vdupq_n_s32(seed0)), s1(vdupq_n_s32(seed1));
  s0.template add<0>(w[0], a0);
  s0.template add<1>(w[1], a0);
  s0.template add<2>(w[2], a0);
  s0.template add<3>(w[3], a0);
  s1.template add<0>(w[4], a1);
  s1.template add<1>(w[5], a1);
  s1.template add<2>(w[6], a1);
  s1.template add<3>(w[7], a1);
  *g0 = s0.sum();
  *g1 = s1.sum();
}

// q2_Kx16 against NT q8_K rows: per register of four rows and 32-weight
// sub-block, 8 registers of 2-bit quants, two 16-weight groups scaled by the
// rows' 4-bit scales in integers; the 4-bit mins meet the activations' sums.
template <int NT, bool kDot>
void GroupQ2_Kx16_Neon(const void* group, const void* const* act, float* out, int64_t n) {
  const int64_t nb = n / QK_K;
  const block_q8_K* y[NT];
  float32x4_t acc[NT][4];
  for (int t = 0; t < NT; ++t) {
    y[t] = static_cast<const block_q8_K*>(act[t]);
    for (int i = 0; i < 4; ++i) acc[t][i] = vdupq_n_f32(0);
  }
  const int32x4_t lo4 = vdupq_n_s32(15);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* o = static_cast<const uint8_t*>(group) + b * q2_Kx16_block_bytes();
    PrefetchAhead(o, q2_Kx16_block_bytes());
    for (int i = 0; i < 4; ++i) {
      int32x4_t isc[NT], imin[NT];
      for (int t = 0; t < NT; ++t) isc[t] = imin[t] = vdupq_n_s32(0);
      for (int h = 0; h < 2; ++h)
        for (int sh = 0; sh < 4; ++sh) {
          int8x16_t w[8];
          for (int k = 0; k < 8; ++k) {
            const uint8x16_t q = GroupQuad(o + q2_Kx16_quants_offset() + (h * 8 + k) * 64, i);
            w[k] = AsS8(vandq_u8(vshlq_u8(q, vdupq_n_s8(static_cast<int8_t>(-2 * sh))), vdupq_n_u8(3)));
          }
          const int g = 8 * h + 2 * sh;
          const int32x4_t sc0 = vandq_s32(QuadU8(o + 64 + g * 16 + 4 * i), lo4);
          const int32x4_t sc1 = vandq_s32(QuadU8(o + 64 + (g + 1) * 16 + 4 * i), lo4);
          for (int t = 0; t < NT; ++t) {
            int32x4_t s0, s1;
            QuadTwoGroupSums<kDot>(w, y[t][b].qs + 16 * g, 0, 0, &s0, &s1);
            isc[t] = vmlaq_s32(vmlaq_s32(isc[t], s0, sc0), s1, sc1);
          }
        }
      for (int g = 0; g < 16; ++g) {
        const int32x4_t m = vshrq_n_s32(QuadU8(o + 64 + g * 16 + 4 * i), 4);
        for (int t = 0; t < NT; ++t) imin[t] = vmlaq_n_s32(imin[t], m, y[t][b].bsums[g]);
      }
      const float32x4_t d = QuadF16(o + 8 * i), dmin = QuadF16(o + 32 + 8 * i);
      for (int t = 0; t < NT; ++t) {
        const float32x4_t da = vdupq_n_f32(y[t][b].d);
        const float32x4_t v = vsubq_f32(vmulq_f32(vmulq_f32(d, da), vcvtq_f32_s32(isc[t])),
                                        vmulq_f32(vmulq_f32(dmin, da), vcvtq_f32_s32(imin[t])));
        acc[t][i] = vaddq_f32(acc[t][i], v);
      }
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int i = 0; i < 4; ++i) vst1q_f32(out + 16 * t + 4 * i, acc[t][i]);
}

// q3_Kx16 against NT q8_K rows: per register of four rows and 32-weight
// sub-block (half h, shift s), 8 registers of q2 + 4 hbit (0..7), two
// 16-weight groups whose sums start at -4 x their activation sums, scaled by
// the rows' int8 scales in integers.
template <int NT, bool kDot>
void GroupQ3_Kx16_Neon(const void* group, const void* const* act, float* out, int64_t n) {
  const int64_t nb = n / QK_K;
  const block_q8_K* y[NT];
  float32x4_t acc[NT][4];
  for (int t = 0; t < NT; ++t) {
    y[t] = static_cast<const block_q8_K*>(act[t]);
    for (int i = 0; i < 4; ++i) acc[t][i] = vdupq_n_f32(0);
  }
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* o = static_cast<const uint8_t*>(group) + b * q3_Kx16_block_bytes();
    PrefetchAhead(o, q3_Kx16_block_bytes());
    for (int i = 0; i < 4; ++i) {
      int32x4_t isc[NT];
      for (int t = 0; t < NT; ++t) isc[t] = vdupq_n_s32(0);
      for (int h = 0; h < 2; ++h)
        for (int sh = 0; sh < 4; ++sh) {
          int8x16_t w[8];
          for (int k = 0; k < 8; ++k) {
            const uint8x16_t q = GroupQuad(o + q3_Kx16_quants_offset() + (h * 8 + k) * 64, i);
            const uint8x16_t hm = GroupQuad(o + q3_Kx16_high_offset() + k * 64, i);
            const uint8x16_t q2 = vandq_u8(vshlq_u8(q, vdupq_n_s8(static_cast<int8_t>(-2 * sh))), vdupq_n_u8(3));
            const uint8x16_t hb = vandq_u8(vtstq_u8(hm, vdupq_n_u8(static_cast<uint8_t>(1u << (4 * h + sh)))), vdupq_n_u8(4));
            w[k] = AsS8(vorrq_u8(q2, hb));
          }
          const int g = 8 * h + 2 * sh;
          const int32x4_t sc0 = QuadS8(o + 64 + g * 16 + 4 * i), sc1 = QuadS8(o + 64 + (g + 1) * 16 + 4 * i);
          for (int t = 0; t < NT; ++t) {
            int32x4_t s0, s1;
            QuadTwoGroupSums<kDot>(w, y[t][b].qs + 16 * g, -4 * y[t][b].bsums[g], -4 * y[t][b].bsums[g + 1], &s0, &s1);
            isc[t] = vmlaq_s32(vmlaq_s32(isc[t], s0, sc0), s1, sc1);
          }
        }
      const float32x4_t d = QuadF16(o + 8 * i);
      for (int t = 0; t < NT; ++t)
        acc[t][i] = vaddq_f32(acc[t][i], vmulq_f32(vmulq_f32(d, vdupq_n_f32(y[t][b].d)), vcvtq_f32_s32(isc[t])));
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int i = 0; i < 4; ++i) vst1q_f32(out + 16 * t + 4 * i, acc[t][i]);
}

// iq4_xsx16 against NT q8_K rows: per register of four rows and 32-weight
// sub-block, the codebook indices become signed weights in one table lookup
// each, meet the sub-block's 32 activation bytes, and are scaled in integers.
template <int NT, bool kDot>
void GroupIQ4_XSx16_Neon(const void* group, const void* const* act, float* out, int64_t n) {
  const int64_t nb = n / QK_K;
  const block_q8_K* y[NT];
  float32x4_t acc[NT][4];
  for (int t = 0; t < NT; ++t) {
    y[t] = static_cast<const block_q8_K*>(act[t]);
    for (int i = 0; i < 4; ++i) acc[t][i] = vdupq_n_f32(0);
  }
  const int8x16_t table = vld1q_s8(kIQ4Values);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* o = static_cast<const uint8_t*>(group) + b * iq4_xsx16_block_bytes();
    PrefetchAhead(o, iq4_xsx16_block_bytes());
    for (int i = 0; i < 4; ++i) {
      int32x4_t isc[NT];
      for (int t = 0; t < NT; ++t) isc[t] = vdupq_n_s32(0);
      for (int ib = 0; ib < 8; ++ib) {
        int8x16_t w[8];
        for (int k = 0; k < 4; ++k) {
          const uint8x16_t v = GroupQuad(o + iq4_xsx16_quants_offset() + (ib * 4 + k) * 64, i);
          w[k] = vqtbl1q_s8(table, vandq_u8(v, vdupq_n_u8(0x0F)));
          w[4 + k] = vqtbl1q_s8(table, vshrq_n_u8(v, 4));
        }
        const int32x4_t sc = QuadS8(o + 64 + ib * 16 + 4 * i);
        for (int t = 0; t < NT; ++t) {
          const int8_t* a = y[t][b].qs + 32 * ib;
          isc[t] = vmlaq_s32(isc[t], QuadDot32<kDot>(vdupq_n_s32(0), w, vld1q_s8(a), vld1q_s8(a + 16)), sc);
        }
      }
      const float32x4_t d = QuadF16(o + 8 * i);
      for (int t = 0; t < NT; ++t)
        acc[t][i] = vaddq_f32(acc[t][i], vmulq_f32(vmulq_f32(d, vdupq_n_f32(y[t][b].d)), vcvtq_f32_s32(isc[t])));
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int i = 0; i < 4; ++i) vst1q_f32(out + 16 * t + 4 * i, acc[t][i]);
}

// The quants q + 32 (0..63) of sub-block 4u + J of a q6_Kx16 super-block,
// four rows' worth: the low 4 bits from pair 2u + J / 2 (low[4 (J / 2)..]:
// low or high nibbles), the high 2 from quad u (bits 2J.., moved to 4-5).
template <int J>
inline void Q6Quants(const uint8x16_t* low, const uint8x16_t* high, int8x16_t* w) {
  const uint8x16_t lo4 = vdupq_n_u8(0x0F), hi2 = vdupq_n_u8(0x30);
  for (int k = 0; k < 4; ++k) {
    const uint8x16_t l = low[(J / 2) * 4 + k];
    const uint8x16_t l4 = J % 2 ? vshrq_n_u8(l, 4) : vandq_u8(l, lo4);
    uint8x16_t h;
    if constexpr (J == 0) h = vshlq_n_u8(high[k], 4);
    else if constexpr (J == 1) h = vshlq_n_u8(high[k], 2);
    else if constexpr (J == 2) h = high[k];
    else h = vshrq_n_u8(high[k], 2);
    w[k] = AsS8(vorrq_u8(l4, vandq_u8(h, hi2)));
  }
}

// q6_Kx16 against NT q8_K rows: per register of four rows and quad of
// 16-weight sub-blocks, the quants from the two planes (12 registers) once for
// all tokens; the 32 sum a comes off in integers before the rows' int8 scales.
template <int NT, bool kDot>
void GroupQ6_Kx16_Neon(const void* group, const void* const* act, float* out, int64_t n) {
  const int64_t nb = n / QK_K;
  const block_q8_K* y[NT];
  float32x4_t acc[NT][4];
  for (int t = 0; t < NT; ++t) {
    y[t] = static_cast<const block_q8_K*>(act[t]);
    for (int i = 0; i < 4; ++i) acc[t][i] = vdupq_n_f32(0);
  }
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* o = static_cast<const uint8_t*>(group) + b * q6_Kx16_block_bytes();
    PrefetchAhead(o, q6_Kx16_block_bytes());
    for (int i = 0; i < 4; ++i) {
      int32x4_t scaled[NT];
      for (int t = 0; t < NT; ++t) scaled[t] = vdupq_n_s32(0);
      for (int u = 0; u < 4; ++u) {  // sub-blocks 4u .. 4u + 3
        uint8x16_t low[8], high[4];
        for (int k = 0; k < 8; ++k) low[k] = GroupQuad(o + q6_Kx16_low_offset() + (8 * u + k) * 64, i);
        for (int k = 0; k < 4; ++k) high[k] = GroupQuad(o + q6_Kx16_high_offset() + (4 * u + k) * 64, i);
        int8x16_t w[4][4];
        Q6Quants<0>(low, high, w[0]);
        Q6Quants<1>(low, high, w[1]);
        Q6Quants<2>(low, high, w[2]);
        Q6Quants<3>(low, high, w[3]);
        int32x4_t sc[4];
        for (int J = 0; J < 4; ++J) sc[J] = QuadS8(o + 64 + (4 * u + J) * 16 + 4 * i);
        for (int t = 0; t < NT; ++t)
          for (int J = 0; J < 4; ++J) {
            const int j = 4 * u + J;
            const int8x16_t a = vld1q_s8(y[t][b].qs + 16 * j);
            QuadDot<kDot> s(vdupq_n_s32(-32 * y[t][b].bsums[j]));
            s.template add<0>(w[J][0], a);
            s.template add<1>(w[J][1], a);
            s.template add<2>(w[J][2], a);
            s.template add<3>(w[J][3], a);
            scaled[t] = vmlaq_s32(scaled[t], s.sum(), sc[J]);
          }
      }
      const float32x4_t d = QuadF16(o + 8 * i);
      for (int t = 0; t < NT; ++t)
        acc[t][i] = vaddq_f32(acc[t][i], vmulq_f32(vmulq_f32(d, vdupq_n_f32(y[t][b].d)), vcvtq_f32_s32(scaled[t])));
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int i = 0; i < 4; ++i) vst1q_f32(out + 16 * t + 4 * i, acc[t][i]);
}

// f16x16 against NT f32 rows: per column, the 16 weights widened once and one
// fused multiply-add per token and register. kBF16: bf16x16, widened by a shift.
template <int NT, bool kBF16 = false>
void GroupF16x16_Neon(const void* group, const void* const* act, float* out, int64_t n) {
  const auto* g = static_cast<const uint16_t*>(group);
  const float* a[NT];
  float32x4_t acc[NT][4];
  for (int t = 0; t < NT; ++t) {
    a[t] = static_cast<const float*>(act[t]);
    for (int i = 0; i < 4; ++i) acc[t][i] = vdupq_n_f32(0);
  }
  for (int64_t c = 0; c < n; ++c) {
    if ((c & 1) == 0) PrefetchAhead(g + c * 16, 64);
    float32x4_t w[4];
    for (int i = 0; i < 4; ++i)
      w[i] = kBF16 ? vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(g + c * 16 + 4 * i), 16)) : QuadF16(g + c * 16 + 4 * i);
    for (int t = 0; t < NT; ++t) {
      const float32x4_t x = vdupq_n_f32(a[t][c]);
      for (int i = 0; i < 4; ++i) acc[t][i] = vfmaq_f32(acc[t][i], w[i], x);
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int i = 0; i < 4; ++i) vst1q_f32(out + 16 * t + 4 * i, acc[t][i]);
}

#ifdef __ARM_FEATURE_MATMUL_INT8
// q4_0x16 / q8_0x16 against NT split q8_0 rows with smmla (i8mm), for
// prompts: one instruction multiplies two rows' 8 weights by two tokens' 8
// activations (32 products, twice sdot's 16). Vectors 2p and 2p + 1 of four
// rows zip into rows 4i, 4i + 1 and rows 4i + 2, 4i + 3 with 8 consecutive
// elements each (8p.., for q4_0's nibbles and q8_0 alike), once per block for
// all token pairs; an odd last token takes the sdot path.
template <int NT, bool kQ4>
void GroupQx_0x16_I8mm(const void* group, const void* const* act, float* out, int64_t n) {
  const int64_t nb = n / QK;
  const auto* scales = static_cast<const uint16_t*>(group);
  const auto* qs = static_cast<const uint8_t*>(group) + nb * 32;
  const SplitRows<NT> split(act, n);
  float32x4_t acc[NT][4];
  for (int t = 0; t < NT; ++t) {
    for (int i = 0; i < 4; ++i) acc[t][i] = vdupq_n_f32(0);
  }
  auto s32 = [](int8x16_t v) { return vreinterpretq_s32_s8(v); };
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* q = qs + b * (kQ4 ? 256 : 512);
    PrefetchAhead(q, kQ4 ? 256 : 512);
    for (int i = 0; i < 4; ++i) {
      int8x16_t w[8];
      QuadQx_0<kQ4>(q, i, w);
      int8x16_t rows01[4], rows23[4];
      for (int p = 0; p < 4; ++p) {
        rows01[p] = vreinterpretq_s8_s32(vzip1q_s32(s32(w[2 * p]), s32(w[2 * p + 1])));
        rows23[p] = vreinterpretq_s8_s32(vzip2q_s32(s32(w[2 * p]), s32(w[2 * p + 1])));
      }
      const float32x4_t dw = QuadF16(scales + b * 16 + 4 * i);
      auto finish = [&dw](float32x4_t& sum, float da, int32x4_t s) {
        sum = vaddq_f32(sum, vmulq_f32(vmulq_f32(dw, vdupq_n_f32(da)), vcvtq_f32_s32(s)));
      };
      int t = 0;
      for (; t + 1 < NT; t += 2) {
        const int8_t* a0 = split.q[t] + QK * b;
        const int8_t* a1 = split.q[t + 1] + QK * b;
        int32x4_t s01 = vdupq_n_s32(0), s23 = vdupq_n_s32(0);  // [r0 t0, r0 t1, r1 t0, r1 t1], rows 2-3 alike
        for (int p = 0; p < 4; ++p) {
          const int8x16_t a = vcombine_s8(vld1_s8(a0 + 8 * p), vld1_s8(a1 + 8 * p));
          s01 = vmmlaq_s32(s01, rows01[p], a);
          s23 = vmmlaq_s32(s23, rows23[p], a);
        }
        const int32x4_t s0 = vuzp1q_s32(s01, s23), s1 = vuzp2q_s32(s01, s23);
        finish(acc[t][i], split.d[t][b], kQ4 ? vaddq_s32(s0, vdupq_n_s32(split.s[t][b] >> 4)) : s0);
        finish(acc[t + 1][i], split.d[t + 1][b], kQ4 ? vaddq_s32(s1, vdupq_n_s32(split.s[t + 1][b] >> 4)) : s1);
      }
      if (t < NT) {
        const int8_t* a = split.q[t] + QK * b;
        finish(acc[t][i], split.d[t][b], QuadDot32<true>(vdupq_n_s32(kQ4 ? split.s[t][b] >> 4 : 0), w, vld1q_s8(a), vld1q_s8(a + 16)));
      }
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int i = 0; i < 4; ++i) vst1q_f32(out + 16 * t + 4 * i, acc[t][i]);
}

// With i8mm: q4_0 and q8_0 prompts through smmla, one token (generation) and
// the other types through sdot.
struct GroupNeonI8mm {
  template <int NT> struct Q4_0 {
    static constexpr GroupFn Run = NT == 1 ? &GroupQx_0x16_Neon<1, true, true> : &GroupQx_0x16_I8mm<NT, true>;
  };
  template <int NT> struct Q8_0 {
    static constexpr GroupFn Run = NT == 1 ? &GroupQx_0x16_Neon<1, false, true> : &GroupQx_0x16_I8mm<NT, false>;
  };
  static void Fill(KernelSet* ks);
};
#endif

template <bool kDot>
struct GroupNeon {
  template <int NT> struct Q4_0 { static constexpr GroupFn Run = &GroupQx_0x16_Neon<NT, true, kDot>; };
  template <int NT> struct Q8_0 { static constexpr GroupFn Run = &GroupQx_0x16_Neon<NT, false, kDot>; };
  template <int NT> struct Q5_0 { static constexpr GroupFn Run = &GroupQx_0x16_Neon<NT, true, kDot, true>; };
  template <int NT> struct Q4_K { static constexpr GroupFn Run = &GroupQ4_Kx16_Neon<NT, kDot>; };
  template <int NT> struct Q5_K { static constexpr GroupFn Run = &GroupQ4_Kx16_Neon<NT, kDot, true>; };
  template <int NT> struct Q6_K { static constexpr GroupFn Run = &GroupQ6_Kx16_Neon<NT, kDot>; };
  template <int NT> struct IQ4_XS { static constexpr GroupFn Run = &GroupIQ4_XSx16_Neon<NT, kDot>; };
  template <int NT> struct Q3_K { static constexpr GroupFn Run = &GroupQ3_Kx16_Neon<NT, kDot>; };
  template <int NT> struct Q2_K { static constexpr GroupFn Run = &GroupQ2_Kx16_Neon<NT, kDot>; };
  template <int NT> struct F16 { static constexpr GroupFn Run = &GroupF16x16_Neon<NT>; };
  template <int NT> struct BF16 { static constexpr GroupFn Run = &GroupF16x16_Neon<NT, true>; };
  template <int NT> struct IQ4_NL { static constexpr GroupFn Run = &GroupNibblesx16_Neon<NT, Nibbles::kIQ4_NL, kDot>; };
  template <int NT> struct Q4_1 { static constexpr GroupFn Run = &GroupNibblesx16_Neon<NT, Nibbles::kQ4_1, kDot>; };
  template <int NT> struct Q5_1 { static constexpr GroupFn Run = &GroupNibblesx16_Neon<NT, Nibbles::kQ5_1, kDot>; };
  // Four tokens a call: their 16 accumulators and a register's 8 weights fill
  // the 32 registers.
  static void Fill(KernelSet* ks) {
    ks->group_q4_0x16 = &ByTokens<Q4_0, 4>;
    ks->group_q8_0x16 = &ByTokens<Q8_0, 4>;
    ks->group_q4_Kx16 = &ByTokens<Q4_K, 4>;
    ks->group_q5_0x16 = &ByTokens<Q5_0, 4>;
    ks->group_q5_Kx16 = &ByTokens<Q5_K, 4>;
    ks->group_q6_Kx16 = &ByTokens<Q6_K, 4>;
    ks->group_iq4_xsx16 = &ByTokens<IQ4_XS, 4>;
    ks->group_q3_Kx16 = &ByTokens<Q3_K, 4>;
    ks->group_q2_Kx16 = &ByTokens<Q2_K, 4>;
    ks->group_f16x16 = &ByTokens<F16, 4>;
    ks->group_bf16x16 = &ByTokens<BF16, 4>;
    ks->group_iq4_nlx16 = &ByTokens<IQ4_NL, 4>;
    ks->group_q4_1x16 = &ByTokens<Q4_1, 4>;
    ks->group_q5_1x16 = &ByTokens<Q5_1, 4>;
  }
};

#ifdef __ARM_FEATURE_MATMUL_INT8
inline void GroupNeonI8mm::Fill(KernelSet* ks) {
  GroupNeon<true>::Fill(ks);
  ks->group_q4_0x16 = &ByTokens<Q4_0, 4>;
  ks->group_q8_0x16 = &ByTokens<Q8_0, 4>;
}
#endif
