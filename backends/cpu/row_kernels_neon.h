// Row kernels on NEON for the types without 16-row group layouts: q4_1 and
// q5_1 against q8_1 blocks, q5_0 and iq4_nl against q8_0, q2_K, q3_K, q5_K
// and iq4_xs against q8_K; the ARM counterparts of row_kernels.cpp and
// iq4_kernels.cpp. Included inside a namespace once per instruction set, like
// group_kernels_neon.h (kDot: with sdot), after it (AsS8); the includer
// brings <arm_neon.h>, <cstring>, blocks.h, block_order.h, quant_impl.h and
// kernels.h.
//
// Each kernel unpacks a block's weights to signed bytes once for all the
// tokens (every value here fits: |w| <= 127), and forms the block's integer
// sums exactly (sdot, or widening multiplies into int16 products and pairwise
// adds into int32), then takes the float steps of docs/NUMERICS.md: the
// scalar reference's bits.

// f16 to float in one instruction (exact, as fp16_to_float).
inline float H2F(uint16_t h) {
  __fp16 v;
  std::memcpy(&v, &h, 2);
  return static_cast<float>(v);
}

// acc + the 16 products of w and a, in four int32 lanes.
template <bool kDot>
inline int32x4_t Dot16(int32x4_t acc, int8x16_t w, int8x16_t a) {
  if constexpr (kDot) {
    return vdotq_s32(acc, w, a);
  } else {
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(w), vget_low_s8(a)));
    return vpadalq_s16(acc, vmull_high_s8(w, a));
  }
}

// The integer sum of 32 weights (two registers) with 32 activation bytes.
template <bool kDot>
inline int32_t Dot32(const int8x16_t* w, const int8_t* a) {
  return vaddvq_s32(Dot16<kDot>(Dot16<kDot>(vdupq_n_s32(0), w[0], vld1q_s8(a)), w[1], vld1q_s8(a + 16)));
}

// 16 bytes of packed nibbles: elements 0..15 in the low ones, 16..31 in the high.
inline void UnpackNibbles(const uint8_t* qs, uint8x16_t* v) {
  const uint8x16_t q = vld1q_u8(qs);
  v[0] = vandq_u8(q, vdupq_n_u8(0x0F));
  v[1] = vshrq_n_u8(q, 4);
}

// q5_0 / q5_1: bit e of the 32 bits at qh is element e's fifth bit; ORed in as 0x10.
inline void AddFifthBits(const uint8_t* qh, uint8x16_t* v) {
  uint32_t h;
  std::memcpy(&h, qh, 4);
  const uint8x16_t bytes = vreinterpretq_u8_u32(vdupq_n_u32(h));
  static const uint8_t kByteOf[2][16] = {{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1},
                                         {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3}};
  static const uint8_t kBit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  const uint8x16_t bit = vld1q_u8(kBit), ten = vdupq_n_u8(0x10);
  for (int i = 0; i < 2; ++i)
    v[i] = vorrq_u8(v[i], vandq_u8(vtstq_u8(vqtbl1q_u8(bytes, vld1q_u8(kByteOf[i])), bit), ten));
}

// Bit `bit` of each of 16 bytes as the value `value` (a power of two), else 0.
inline uint8x16_t BitAs(uint8x16_t bytes, int bit, uint8_t value) {
  return vandq_u8(vtstq_u8(bytes, vdupq_n_u8(static_cast<uint8_t>(1u << bit))), vdupq_n_u8(value));
}

template <bool kDot>
void DotNQ5_0_Neon(const void* w, const void* const* act, int nt, float* out, int64_t n) {
  const auto* x = static_cast<const block_q5_0*>(w);
  float sum[kMaxTokens] = {};
  for (int64_t b = 0; b < n / QK; ++b) {
    uint8x16_t u[2];
    UnpackNibbles(x[b].qs, u);
    AddFifthBits(x[b].qh, u);
    const int8x16_t v[2] = {vsubq_s8(AsS8(u[0]), vdupq_n_s8(16)), vsubq_s8(AsS8(u[1]), vdupq_n_s8(16))};
    const float dw = H2F(x[b].d);
    for (int t = 0; t < nt; ++t) {
      const auto* y = static_cast<const block_q8_0*>(act[t]) + b;
      sum[t] = add_block(sum[t], dw * H2F(y->d), Dot32<kDot>(v, y->qs));
    }
  }
  for (int t = 0; t < nt; ++t) out[t] = sum[t];
}

template <bool kDot, bool kFive>
void DotNQx_1_Neon(const void* w, const void* const* act, int nt, float* out, int64_t n) {
  float sum[kMaxTokens] = {};
  for (int64_t b = 0; b < n / QK; ++b) {
    uint8x16_t u[2];
    float dw, mw;
    if constexpr (kFive) {
      const auto& x = static_cast<const block_q5_1*>(w)[b];
      UnpackNibbles(x.qs, u);
      AddFifthBits(x.qh, u);
      dw = H2F(x.d);
      mw = H2F(x.m);
    } else {
      const auto& x = static_cast<const block_q4_1*>(w)[b];
      UnpackNibbles(x.qs, u);
      dw = H2F(x.d);
      mw = H2F(x.m);
    }
    const int8x16_t v[2] = {AsS8(u[0]), AsS8(u[1])};
    for (int t = 0; t < nt; ++t) {
      const auto* y = static_cast<const block_q8_1*>(act[t]) + b;
      sum[t] = add_block_min(sum[t], dw * H2F(y->d), Dot32<kDot>(v, y->qs), mw * H2F(y->s));
    }
  }
  for (int t = 0; t < nt; ++t) out[t] = sum[t];
}

// q5_K: q4_K's nibbles (element 64 c + l in the low nibble of byte 32 c + l,
// 64 c + 32 + l in its high one) with the fifth bit from bit 2c / 2c + 1 of
// qh[l]; sub-block j of 32 scaled by its 6-bit scale, the mins' share from the
// activations' 16-element sums.
template <bool kDot>
void DotNQ5_K_Neon(const void* w, const void* const* act, int nt, float* out, int64_t n) {
  const auto* x = static_cast<const block_q5_K*>(w);
  float sum[kMaxTokens] = {};
  for (int64_t b = 0; b < n / QK_K; ++b) {
    int sc[8], mn[8];
    for (int j = 0; j < 8; ++j) quant::scale_min_6bit(x[b].scales, j, &sc[j], &mn[j]);
    const uint8x16_t qh[2] = {vld1q_u8(x[b].qh), vld1q_u8(x[b].qh + 16)};
    int8x16_t v[8][2];  // sub-block j, elements 32 j + 16 i ..
    for (int c = 0; c < 4; ++c)
      for (int i = 0; i < 2; ++i) {
        const uint8x16_t q = vld1q_u8(x[b].qs + 32 * c + 16 * i);
        v[2 * c][i] = AsS8(vorrq_u8(vandq_u8(q, vdupq_n_u8(0x0F)), BitAs(qh[i], 2 * c, 0x10)));
        v[2 * c + 1][i] = AsS8(vorrq_u8(vshrq_n_u8(q, 4), BitAs(qh[i], 2 * c + 1, 0x10)));
      }
    const float d = H2F(x[b].d), dmin = H2F(x[b].dmin);
    for (int t = 0; t < nt; ++t) {
      const auto* y = static_cast<const block_q8_K*>(act[t]) + b;
      int32_t isum = 0, imin = 0;
      for (int j = 0; j < 8; ++j) {
        isum += sc[j] * Dot32<kDot>(v[j], y->qs + 32 * j);
        imin += mn[j] * (y->bsums[2 * j] + y->bsums[2 * j + 1]);
      }
      sum[t] = add_block_k(sum[t], d, dmin, y->d, isum, imin);
    }
  }
  for (int t = 0; t < nt; ++t) out[t] = sum[t];
}

// q2_K: element 128 h + 32 s + l is bits 2s.. of byte 32 h + l; each 16 (one
// register) has a 4-bit scale and a 4-bit min.
template <bool kDot>
void DotNQ2_K_Neon(const void* w, const void* const* act, int nt, float* out, int64_t n) {
  const auto* x = static_cast<const block_q2_K*>(w);
  float sum[kMaxTokens] = {};
  for (int64_t b = 0; b < n / QK_K; ++b) {
    int8x16_t v[16];  // group g: elements 16 g ..
    for (int h = 0; h < 2; ++h)
      for (int i = 0; i < 2; ++i) {
        const uint8x16_t bytes = vld1q_u8(x[b].qs + 32 * h + 16 * i);
        for (int s = 0; s < 4; ++s)
          v[8 * h + 2 * s + i] = AsS8(vandq_u8(vshlq_u8(bytes, vdupq_n_s8(static_cast<int8_t>(-2 * s))), vdupq_n_u8(3)));
      }
    const float d = H2F(x[b].d), dmin = H2F(x[b].dmin);
    for (int t = 0; t < nt; ++t) {
      const auto* y = static_cast<const block_q8_K*>(act[t]) + b;
      int32x4_t acc = vdupq_n_s32(0);
      int32_t imin = 0;
      for (int g = 0; g < 16; ++g) {
        acc = vmlaq_n_s32(acc, Dot16<kDot>(vdupq_n_s32(0), v[g], vld1q_s8(y->qs + 16 * g)), x[b].scales[g] & 0x0F);
        imin += (x[b].scales[g] >> 4) * y->bsums[g];
      }
      sum[t] = add_block_k(sum[t], d, dmin, y->d, vaddvq_s32(acc), imin);
    }
  }
  for (int t = 0; t < nt; ++t) out[t] = sum[t];
}

// q3_K: values q2 - 4 (high bit clear) or q2 (set), taken as q2 + 4 h in 0..7
// with the 4 back through the activations' sums; sixteen signed 6-bit scales.
template <bool kDot>
void DotNQ3_K_Neon(const void* w, const void* const* act, int nt, float* out, int64_t n) {
  const auto* x = static_cast<const block_q3_K*>(w);
  float sum[kMaxTokens] = {};
  for (int64_t b = 0; b < n / QK_K; ++b) {
    int sc[16];
    for (int g = 0; g < 16; ++g) {
      const int low = g < 8 ? x[b].scales[g] & 0x0F : x[b].scales[g - 8] >> 4;
      const int high = (x[b].scales[8 + g % 4] >> (2 * (g / 4))) & 3;
      sc[g] = (low | (high << 4)) - 32;
    }
    const uint8x16_t hm[2] = {vld1q_u8(x[b].hmask), vld1q_u8(x[b].hmask + 16)};
    int8x16_t v[16];
    for (int h = 0; h < 2; ++h)
      for (int i = 0; i < 2; ++i) {
        const uint8x16_t bytes = vld1q_u8(x[b].qs + 32 * h + 16 * i);
        for (int s = 0; s < 4; ++s) {
          const uint8x16_t q2 = vandq_u8(vshlq_u8(bytes, vdupq_n_s8(static_cast<int8_t>(-2 * s))), vdupq_n_u8(3));
          v[8 * h + 2 * s + i] = AsS8(vorrq_u8(q2, BitAs(hm[i], 4 * h + s, 4)));
        }
      }
    const float d = H2F(x[b].d);
    for (int t = 0; t < nt; ++t) {
      const auto* y = static_cast<const block_q8_K*>(act[t]) + b;
      int32x4_t acc = vdupq_n_s32(0);
      int32_t ioff = 0;
      for (int g = 0; g < 16; ++g) {
        acc = vmlaq_n_s32(acc, Dot16<kDot>(vdupq_n_s32(0), v[g], vld1q_s8(y->qs + 16 * g)), sc[g]);
        ioff += sc[g] * y->bsums[g];
      }
      sum[t] = add_block(sum[t], d * y->d, vaddvq_s32(acc) - 4 * ioff);
    }
  }
  for (int t = 0; t < nt; ++t) out[t] = sum[t];
}

// iq4: each nibble an index into the 16 signed bytes of kIQ4Values (one table lookup).
inline void IQ4Weights(int8x16_t table, const uint8_t* qs, int8x16_t* v) {
  uint8x16_t u[2];
  UnpackNibbles(qs, u);
  v[0] = vqtbl1q_s8(table, u[0]);
  v[1] = vqtbl1q_s8(table, u[1]);
}

template <bool kDot>
void DotNIQ4NL_Neon(const void* w, const void* const* act, int nt, float* out, int64_t n) {
  const auto* x = static_cast<const block_iq4_nl*>(w);
  const int8x16_t table = vld1q_s8(kIQ4Values);
  float sum[kMaxTokens] = {};
  for (int64_t b = 0; b < n / QK; ++b) {
    int8x16_t v[2];
    IQ4Weights(table, x[b].qs, v);
    const float dw = H2F(x[b].d);
    for (int t = 0; t < nt; ++t) {
      const auto* y = static_cast<const block_q8_0*>(act[t]) + b;
      sum[t] = add_block(sum[t], dw * H2F(y->d), Dot32<kDot>(v, y->qs));
    }
  }
  for (int t = 0; t < nt; ++t) out[t] = sum[t];
}

// iq4_xs: per super-block one integer sum of the sub-blocks' sums, each times its scale.
template <bool kDot>
void DotNIQ4XS_Neon(const void* w, const void* const* act, int nt, float* out, int64_t n) {
  const auto* x = static_cast<const block_iq4_xs*>(w);
  const int8x16_t table = vld1q_s8(kIQ4Values);
  float sum[kMaxTokens] = {};
  for (int64_t b = 0; b < n / QK_K; ++b) {
    int32_t isum[kMaxTokens] = {};
    for (int ib = 0; ib < QK_K / QK; ++ib) {
      int8x16_t v[2];
      IQ4Weights(table, x[b].qs + ib * (QK / 2), v);
      const int scale = iq4_xs_scale(x[b], ib);
      for (int t = 0; t < nt; ++t)
        isum[t] += scale * Dot32<kDot>(v, (static_cast<const block_q8_K*>(act[t]) + b)->qs + ib * QK);
    }
    const float dw = H2F(x[b].d);
    for (int t = 0; t < nt; ++t) sum[t] = add_block(sum[t], dw * (static_cast<const block_q8_K*>(act[t]) + b)->d, isum[t]);
  }
  for (int t = 0; t < nt; ++t) out[t] = sum[t];
}

// int8_helpers.h's OneToken, for the files compiled apart from Highway's targets.
template <void (*kDotN)(const void*, const void* const*, int, float*, int64_t)>
float OneTokenNeon(const void* w, const void* a, int64_t n) {
  float r;
  kDotN(w, &a, 1, &r, n);
  return r;
}

template <bool kDot>
void FillRowKernelsNeon(KernelSet* ks) {
  ks->dotn_q5_0 = &DotNQ5_0_Neon<kDot>;
  ks->dotn_q4_1 = &DotNQx_1_Neon<kDot, false>;
  ks->dotn_q5_1 = &DotNQx_1_Neon<kDot, true>;
  ks->dotn_q2_K = &DotNQ2_K_Neon<kDot>;
  ks->dotn_q3_K = &DotNQ3_K_Neon<kDot>;
  ks->dotn_q5_K = &DotNQ5_K_Neon<kDot>;
  ks->dotn_iq4_nl = &DotNIQ4NL_Neon<kDot>;
  ks->dotn_iq4_xs = &DotNIQ4XS_Neon<kDot>;
  ks->dot_q5_0 = &OneTokenNeon<DotNQ5_0_Neon<kDot>>;
  ks->dot_q4_1 = &OneTokenNeon<DotNQx_1_Neon<kDot, false>>;
  ks->dot_q5_1 = &OneTokenNeon<DotNQx_1_Neon<kDot, true>>;
  ks->dot_q2_K = &OneTokenNeon<DotNQ2_K_Neon<kDot>>;
  ks->dot_q3_K = &OneTokenNeon<DotNQ3_K_Neon<kDot>>;
  ks->dot_q5_K = &OneTokenNeon<DotNQ5_K_Neon<kDot>>;
  ks->dot_iq4_nl = &OneTokenNeon<DotNIQ4NL_Neon<kDot>>;
  ks->dot_iq4_xs = &OneTokenNeon<DotNIQ4XS_Neon<kDot>>;
}
