// The 16-row group kernels (quant/layouts.h) on 256-bit registers, for CPUs
// without AVX-512 VNNI: laptops' AVX2, and AVX-VNNI (the VEX vpdpbusd of
// Alder Lake and later). Included inside a namespace once per instruction set
// (so no include guard): group_kernels.cpp's AVX2 and AVX3 targets with
// kVnni = false, group_kernels_avxvnni.cpp with kVnni = true; the includer
// brings <immintrin.h>, <cstring>, blocks.h, layouts.h and group_common.h.
//
// The layout is the AVX-512 one, read as it is: each 64-byte vector of it
// (32-bit lane r = row r) is two 256-bit halves, rows 0-7 and rows 8-15, so
// one .erm file serves every x86 kernel. The integer sums are exact whichever
// instruction forms them, and the float steps are the ones every backend
// takes (docs/NUMERICS.md), so the results equal the scalar reference's bits.
//
// Without VNNI, products of unsigned and signed bytes come from maddubs, whose
// int16 pair sums saturate: several of them are added in int16 only where
// their bound allows (q4: 8 x 2 x 15 x 128 < 2^15; q6_K's 0..63: two), and
// q8_0 goes through |w| x (a with w's sign), as |w| <= 128 and |a| <= 127.

// Four activation bytes in every 32-bit lane (a load, not a register move).
inline __m256i GroupBcast4(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

inline __m256i GroupLoad(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m256 GroupHalfF16(const void* p) { return _mm256_cvtph_ps(_mm_loadu_si128(static_cast<const __m128i*>(p))); }
// 8 bytes, one per row, widened to 32-bit lanes.
inline __m256i GroupRowsU8(const uint8_t* p) { return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))); }
inline __m256i GroupRowsI8(const uint8_t* p) { return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))); }
// A 32-bit lane's value (fitting int16) in both of its int16 halves, to scale
// a pair sum in madd: (x, x) . (p0, p1) = x (p0 + p1).
inline __m256i GroupPair16(__m256i x32) { return _mm256_or_si256(_mm256_and_si256(x32, _mm256_set1_epi32(0xFFFF)), _mm256_slli_epi32(x32, 16)); }

// The VNNI instantiation's includer may name another encoding of the same two
// instructions: the EVEX forms of AVX-512 VNNI run this code, unchanged, on
// CPUs without AVX-VNNI (to test and measure it there; kernels.cpp).
#ifndef EDGERUN_GROUP_DPBUSD
#define EDGERUN_GROUP_DPBUSD _mm256_dpbusd_avx_epi32
#define EDGERUN_GROUP_DPWSSD _mm256_dpwssd_avx_epi32
#endif

// acc + sum over each 32-bit lane's four byte products u x s (u unsigned; with
// maddubs, u x s pairs must fit int16).
template <bool kVnni>
inline __m256i GroupDp(__m256i acc, __m256i u, __m256i s) {
  if constexpr (kVnni) return EDGERUN_GROUP_DPBUSD(acc, u, s);
  else return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
}
// acc + each 32-bit lane's two int16 products a x b.
template <bool kVnni>
inline __m256i GroupDpWords(__m256i acc, __m256i a, __m256i b) {
  if constexpr (kVnni) return EDGERUN_GROUP_DPWSSD(acc, a, b);
  else return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
}

// Bit j of each byte of q5_0x16's / q5_Kx16's fifth-bit vectors (quant/layouts.h)
// moved to bit 4 (the 32-bit shifts move bits across bytes; the mask drops them).
inline __m256i GroupFifthBits(__m256i h, int j) {
  const __m256i moved = j <= 4 ? _mm256_sll_epi32(h, _mm_cvtsi32_si128(4 - j)) : _mm256_srl_epi32(h, _mm_cvtsi32_si128(j - 4));
  return _mm256_and_si256(moved, _mm256_set1_epi8(0x10));
}

// Half h of a q4_0x16 block's nibbles (q5_0x16's / q5_1x16's with their
// fifth bits, kFive): wq[k] the low nibbles of vector k, wq[4 + k] its high ones.
template <bool kFive>
inline void GroupNibbleVectors(const uint8_t* q, int h, __m256i* wq) {
  const __m256i lo4 = _mm256_set1_epi8(0x0F);
  for (int k = 0; k < 4; ++k) {
    const __m256i v = GroupLoad(q + 64 * k + 32 * h);
    wq[k] = _mm256_and_si256(v, lo4);
    wq[4 + k] = _mm256_and_si256(_mm256_srli_epi16(v, 4), lo4);
  }
  if constexpr (kFive) {
    const __m256i fifth = GroupLoad(q + 256 + 32 * h);
    for (int k = 0; k < 8; ++k) wq[k] = _mm256_or_si256(wq[k], GroupFifthBits(fifth, k));
  }
}

// s + the sums of 8 vectors of unsigned weights with their activation
// groups at(k), through maddubs: kRun products added in int16 before
// widening (the caller's bound: kRun x 2 x max w x 128 < 2^15).
template <int kRun, typename At>
inline __m256i GroupRunSums(__m256i s, const __m256i* w, At at) {
  for (int k0 = 0; k0 < 8; k0 += kRun) {
    __m256i p = _mm256_maddubs_epi16(w[k0], at(k0));
    for (int k = k0 + 1; k < k0 + kRun; ++k) p = _mm256_add_epi16(p, _mm256_maddubs_epi16(w[k], at(k)));
    s = _mm256_add_epi32(s, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
  }
  return s;
}

// The same for signed weights w (|w| <= 128, wabs = |w|): |w| x (a with w's sign).
template <typename At>
inline __m256i GroupSignedSums(__m256i s, const __m256i* w, const __m256i* wabs, At at) {
  for (int k = 0; k < 8; ++k)
    s = _mm256_add_epi32(s, _mm256_madd_epi16(_mm256_maddubs_epi16(wabs[k], _mm256_sign_epi8(at(k), w[k])), _mm256_set1_epi16(1)));
  return s;
}

// q4_0x16 / q8_0x16 against NT split q8_0 rows: per block and half, the
// weights are unpacked once; per token, the eight 4-byte groups of its block
// are broadcast against them. q8_0's stored q + 128 meets VNNI as it is, with
// the -128 sum a offset; without VNNI, the signed q meets a through |q|.
// kFive (with kQ4): q5_0x16, q4_0's nibbles with their fifth bits, offset 16.
template <int NT, bool kQ4, bool kVnni, bool kFive = false>
void GroupQx_0x16_256(const void* group, const void* const* act, float* out, int64_t n) {
  static_assert(kQ4 || !kFive, "q5_0 is q4_0's layout with fifth bits");
  constexpr int kBlockBytes = kFive ? 320 : kQ4 ? 256 : 512;
  // The offset's share: -128 sum a, divided by 128 / offset.
  constexpr int kOffsetShift = kFive ? 3 : kQ4 ? 4 : 0;
  const int64_t nb = n / QK;
  const auto* scales = static_cast<const uint16_t*>(group);
  const auto* qs = static_cast<const uint8_t*>(group) + nb * 32;
  const SplitRows<NT> split(act, n);
  __m256 acc[NT][2];
  for (int t = 0; t < NT; ++t) {
    acc[t][0] = acc[t][1] = _mm256_setzero_ps();
  }
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* q = qs + b * kBlockBytes;
    PrefetchAhead(q, kBlockBytes);
    for (int h = 0; h < 2; ++h) {
      const __m256 dw = GroupHalfF16(scales + b * 16 + 8 * h);
      if constexpr (!kQ4 && !kVnni) {
        // q8_0 with maddubs: vector k outer, so one signed q and its |q| are
        // live at a time (eight of each would not fit 16 registers with the
        // tokens' sums); each token's sum is the same exact integer.
        __m256i s[NT];
        for (int t = 0; t < NT; ++t) s[t] = _mm256_setzero_si256();
        for (int k = 0; k < 8; ++k) {
          const __m256i w = _mm256_xor_si256(GroupLoad(q + 64 * k + 32 * h), flip);  // the signed q
          const __m256i wabs = _mm256_abs_epi8(w);
          for (int t = 0; t < NT; ++t) {
            const __m256i p = _mm256_maddubs_epi16(wabs, _mm256_sign_epi8(GroupBcast4(split.q[t] + QK * b + 4 * k), w));
            s[t] = _mm256_add_epi32(s[t], _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
          }
        }
        for (int t = 0; t < NT; ++t) {
          const __m256 dd = _mm256_mul_ps(dw, _mm256_set1_ps(split.d[t][b]));
          acc[t][h] = _mm256_add_ps(acc[t][h], _mm256_mul_ps(dd, _mm256_cvtepi32_ps(s[t])));
        }
        continue;
      }
      __m256i wq[8];  // vector k multiplies activation bytes at koff[k]
      if constexpr (kQ4) {
        GroupNibbleVectors<kFive>(q, h, wq);
      } else {
        for (int k = 0; k < 8; ++k) wq[k] = GroupLoad(q + 64 * k + 32 * h);
      }
      for (int t = 0; t < NT; ++t) {
        const int8_t* a = split.q[t] + QK * b;
        // The activation bytes of vector k: q4_0's low nibbles are elements
        // 4k.., its high ones 16 + 4k..; q8_0's vector k is elements 4k...
        auto at = [&](int k) { return GroupBcast4(a + (kQ4 ? (k < 4 ? 4 * k : 16 + 4 * (k - 4)) : 4 * k)); };
        __m256i s;
        if constexpr (kVnni) {
          // The offset's share seeds one chain: -128 sum a (q4_0: -8 sum a, q5_0: -16 sum a).
          __m256i s0 = _mm256_set1_epi32(split.s[t][b] >> kOffsetShift), s1 = _mm256_setzero_si256();
          for (int k = 0; k < 8; k += 2) {
            s0 = GroupDp<kVnni>(s0, wq[k], at(k));
            s1 = GroupDp<kVnni>(s1, wq[k + 1], at(k + 1));
          }
          s = _mm256_add_epi32(s0, s1);
        } else {
          // In int16 as far as the bound allows: 8 products of 0..15 (q5_0's 0..31: 4).
          s = GroupRunSums<kFive ? 4 : 8>(_mm256_set1_epi32(split.s[t][b] >> kOffsetShift), wq, at);
        }
        const __m256 dd = _mm256_mul_ps(dw, _mm256_set1_ps(split.d[t][b]));
        acc[t][h] = _mm256_add_ps(acc[t][h], _mm256_mul_ps(dd, _mm256_cvtepi32_ps(s)));
      }
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int h = 0; h < 2; ++h) _mm256_storeu_ps(out + 16 * t + 8 * h, acc[t][h]);
}

// iq4_nlx16 against NT split q8_0 rows, q4_1x16 / q5_1x16 against q8_1 rows:
// per block and half, both nibble halves unpacked (q5_1's with their fifth
// bits, iq4_nl's through the codebook). With VNNI the codebook is kIQ4Values
// + 128 and the split activations' -128 sum a seeds a chain; without, the
// signed values meet a through |w|, as q8_0's. q4_1 and q5_1 have no offset:
// their float step is (d d_a) I + m s_a.
template <int NT, Nibbles kKind, bool kVnni>
void GroupNibblesx16_256(const void* group, const void* const* act, float* out, int64_t n) {
  constexpr bool kFive = kKind == Nibbles::kQ5_1;
  constexpr bool kMin = kKind == Nibbles::kQ4_1 || kKind == Nibbles::kQ5_1;
  constexpr bool kCodebook = kKind == Nibbles::kIQ4_NL;
  static_assert(kKind != Nibbles::kQ5_0, "q5_0 is GroupQx_0x16_256's");
  constexpr int kBlockBytes = kFive ? 320 : 256;
  const int64_t nb = n / QK;
  const auto* scales = static_cast<const uint16_t*>(group);
  const auto* mins = scales + nb * 16;
  const auto* qs = static_cast<const uint8_t*>(group) + nb * (kMin ? 64 : 32);
  const SplitRows<NT> split(kMin ? nullptr : act, n);  // q8_1 blocks instead
  const block_q8_1* y[NT];
  __m256 acc[NT][2];
  for (int t = 0; t < NT; ++t) {
    y[t] = kMin ? static_cast<const block_q8_1*>(act[t]) : nullptr;
    acc[t][0] = acc[t][1] = _mm256_setzero_ps();
  }
  uint8_t codebook[16];
  for (int i = 0; i < 16; ++i) codebook[i] = static_cast<uint8_t>(kIQ4Values[i] + (kVnni ? 128 : 0));
  const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codebook)));
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* q = qs + b * kBlockBytes;
    PrefetchAhead(q, kBlockBytes);
    for (int h = 0; h < 2; ++h) {
      const __m256 dw = GroupHalfF16(scales + b * 16 + 8 * h);
      __m256i wq[8];  // vector k meets activation bytes 4k.. (k < 4), 16 + 4(k - 4).. (k >= 4)
      __m256i wabs[kCodebook && !kVnni ? 8 : 1];
      GroupNibbleVectors<kFive>(q, h, wq);
      if constexpr (kCodebook)
        for (int k = 0; k < 8; ++k) {
          wq[k] = _mm256_shuffle_epi8(table, wq[k]);
          if constexpr (!kVnni) wabs[k] = _mm256_abs_epi8(wq[k]);
        }
      const __m256 mw = kMin ? GroupHalfF16(mins + b * 16 + 8 * h) : _mm256_setzero_ps();
      for (int t = 0; t < NT; ++t) {
        const int8_t* a = kMin ? y[t][b].qs : split.q[t] + QK * b;
        auto at = [&](int k) { return GroupBcast4(a + (k < 4 ? 4 * k : 16 + 4 * (k - 4))); };
        __m256i s;
        if constexpr (kVnni) {
          __m256i s0 = _mm256_set1_epi32(kMin ? 0 : split.s[t][b]), s1 = _mm256_setzero_si256();
          for (int k = 0; k < 8; k += 2) {
            s0 = GroupDp<kVnni>(s0, wq[k], at(k));
            s1 = GroupDp<kVnni>(s1, wq[k + 1], at(k + 1));
          }
          s = _mm256_add_epi32(s0, s1);
        } else if constexpr (kCodebook) {
          s = GroupSignedSums(_mm256_setzero_si256(), wq, wabs, at);
        } else {
          // In int16 as far as the bound allows: 8 products of 0..15 (q5_1's 0..31: 4).
          s = GroupRunSums<kFive ? 4 : 8>(_mm256_setzero_si256(), wq, at);
        }
        const __m256 sf = _mm256_cvtepi32_ps(s);
        if constexpr (kMin) {
          const __m256 dd = _mm256_mul_ps(dw, _mm256_set1_ps(_cvtsh_ss(y[t][b].d)));
          const __m256 ms = _mm256_mul_ps(mw, _mm256_set1_ps(_cvtsh_ss(y[t][b].s)));
          acc[t][h] = _mm256_add_ps(acc[t][h], _mm256_add_ps(_mm256_mul_ps(dd, sf), ms));
        } else {
          acc[t][h] = _mm256_add_ps(acc[t][h], _mm256_mul_ps(_mm256_mul_ps(dw, _mm256_set1_ps(split.d[t][b])), sf));
        }
      }
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int h = 0; h < 2; ++h) _mm256_storeu_ps(out + 16 * t + 8 * h, acc[t][h]);
}

// q4_Kx16 (q5_Kx16: kFive) against one q8_K row, generation's case, where
// loads bound the general form below: here each 32-byte vector is loaded once
// for both of its sub-blocks (low and high nibbles) and each activation group
// broadcast once for both halves of the rows. Its integer sums are the general
// form's, so its results are too.
template <bool kVnni, bool kFive>
void GroupQ4_Kx16_256_One(const void* group, const void* const* act, float* out, int64_t n) {
  constexpr size_t kBlockBytes = kFive ? q5_Kx16_block_bytes() : q4_Kx16_block_bytes();
  // Products summed in int16 before widening, without VNNI: 8 of 0..15 (q5_K's 0..31: 4).
  constexpr int kRun = kFive ? 4 : 8;
  const int64_t nb = n / QK_K;
  const auto* y = static_cast<const block_q8_K*>(act[0]);
  __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  const __m256i lo4 = _mm256_set1_epi8(0x0F);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* o = static_cast<const uint8_t*>(group) + b * kBlockBytes;
    PrefetchAhead(o, kBlockBytes);
    __m256i isc[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
    __m256i imin[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
    for (int c = 0; c < 4; ++c) {  // chunk c: sub-blocks 2c (low nibbles) and 2c + 1 (high)
      const int8_t* a = y[b].qs + 64 * c;
      // s[h][m][chain]: rows' half h, sub-block 2c + m; VNNI's two chains, or
      // maddubs' int16 run (chain 0 only).
      __m256i s[2][2][2];
      for (auto& sh : s)
        for (auto& sm : sh) sm[0] = sm[1] = _mm256_setzero_si256();
      auto flush = [&](int h, int m) {  // sub-block 2c + m's sum, scaled, into isc[h]
        const __m256i sc = GroupRowsU8(o + 64 + (2 * c + m) * 16 + 8 * h);
        if constexpr (kVnni) {
          isc[h] = _mm256_add_epi32(isc[h], _mm256_mullo_epi32(_mm256_add_epi32(s[h][m][0], s[h][m][1]), sc));
        } else {
          isc[h] = GroupDpWords<false>(isc[h], s[h][m][0], GroupPair16(sc));
          s[h][m][0] = _mm256_setzero_si256();
        }
      };
      #pragma GCC unroll 8
      for (int k = 0; k < 8; ++k) {
        const __m256i a_lo = GroupBcast4(a + 4 * k), a_hi = GroupBcast4(a + 32 + 4 * k);
        for (int h = 0; h < 2; ++h) {
          const __m256i v = GroupLoad(o + 320 + (c * 8 + k) * 64 + 32 * h);
          __m256i lo = _mm256_and_si256(v, lo4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), lo4);
          if constexpr (kFive) {
            const __m256i fifth = GroupLoad(o + q5_Kx16_high_offset() + k * 64 + 32 * h);
            lo = _mm256_or_si256(lo, GroupFifthBits(fifth, 2 * c));
            hi = _mm256_or_si256(hi, GroupFifthBits(fifth, 2 * c + 1));
          }
          if constexpr (kVnni) {
            s[h][0][k % 2] = GroupDp<true>(s[h][0][k % 2], lo, a_lo);
            s[h][1][k % 2] = GroupDp<true>(s[h][1][k % 2], hi, a_hi);
          } else {
            s[h][0][0] = _mm256_add_epi16(s[h][0][0], _mm256_maddubs_epi16(lo, a_lo));
            s[h][1][0] = _mm256_add_epi16(s[h][1][0], _mm256_maddubs_epi16(hi, a_hi));
          }
        }
        if (kVnni ? k == 7 : k % kRun == kRun - 1)
          for (int h = 0; h < 2; ++h) flush(h, 0), flush(h, 1);
      }
    }
    for (int j = 0; j < 8; ++j) {
      const __m256i bsum_pair = GroupBcast4(y[b].bsums + 2 * j);  // the sub-block's two 16-sums
      for (int h = 0; h < 2; ++h)
        imin[h] = GroupDpWords<kVnni>(imin[h], GroupPair16(GroupRowsU8(o + 192 + j * 16 + 8 * h)), bsum_pair);
    }
    const __m256 da = _mm256_set1_ps(y[b].d);
    for (int h = 0; h < 2; ++h) {
      const __m256 d = GroupHalfF16(o + 16 * h), dmin = GroupHalfF16(o + 32 + 16 * h);
      const __m256 v = _mm256_sub_ps(_mm256_mul_ps(_mm256_mul_ps(d, da), _mm256_cvtepi32_ps(isc[h])),
                                     _mm256_mul_ps(_mm256_mul_ps(dmin, da), _mm256_cvtepi32_ps(imin[h])));
      acc[h] = _mm256_add_ps(acc[h], v);
    }
  }
  for (int h = 0; h < 2; ++h) _mm256_storeu_ps(out + 8 * h, acc[h]);
}

// q4_Kx16 against NT q8_K rows: per sub-block and half, 8 vectors of nibbles
// against the sub-block's 32 activation bytes, the rows' scales applied in
// integers; the mins meet the activations' 16-element sums once per super-block.
// kFive: q5_Kx16, each nibble with its fifth bit.
template <int NT, bool kVnni, bool kFive = false>
void GroupQ4_Kx16_256(const void* group, const void* const* act, float* out, int64_t n) {
  constexpr size_t kBlockBytes = kFive ? q5_Kx16_block_bytes() : q4_Kx16_block_bytes();
  const int64_t nb = n / QK_K;
  const block_q8_K* y[NT];
  __m256 acc[NT][2];
  for (int t = 0; t < NT; ++t) {
    y[t] = static_cast<const block_q8_K*>(act[t]);
    acc[t][0] = acc[t][1] = _mm256_setzero_ps();
  }
  const __m256i lo4 = _mm256_set1_epi8(0x0F);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* o = static_cast<const uint8_t*>(group) + b * kBlockBytes;
    PrefetchAhead(o, kBlockBytes);
    for (int h = 0; h < 2; ++h) {
      __m256i isc[NT], imin[NT];
      for (int t = 0; t < NT; ++t) isc[t] = imin[t] = _mm256_setzero_si256();
      for (int j = 0; j < 8; ++j) {  // sub-block j: chunk j / 2, low or high nibbles
        __m256i w[8];
        for (int k = 0; k < 8; ++k) {
          const __m256i v = GroupLoad(o + 320 + ((j / 2) * 8 + k) * 64 + 32 * h);
          w[k] = _mm256_and_si256(j % 2 ? _mm256_srli_epi16(v, 4) : v, lo4);
          if constexpr (kFive)
            w[k] = _mm256_or_si256(w[k], GroupFifthBits(GroupLoad(o + q5_Kx16_high_offset() + k * 64 + 32 * h), j));
        }
        const __m256i sc = GroupRowsU8(o + 64 + j * 16 + 8 * h);
        const __m256i mins = GroupPair16(GroupRowsU8(o + 192 + j * 16 + 8 * h));
        for (int t = 0; t < NT; ++t) {
          const int8_t* a = y[t][b].qs + 32 * j;
          const __m256i bsum_pair = GroupBcast4(y[t][b].bsums + 2 * j);  // the sub-block's two 16-sums
          if constexpr (kVnni) {
            __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
            for (int k = 0; k < 8; k += 2) {
              s0 = GroupDp<kVnni>(s0, w[k], GroupBcast4(a + 4 * k));
              s1 = GroupDp<kVnni>(s1, w[k + 1], GroupBcast4(a + 4 * k + 4));
            }
            isc[t] = _mm256_add_epi32(isc[t], _mm256_mullo_epi32(_mm256_add_epi32(s0, s1), sc));
            imin[t] = GroupDpWords<kVnni>(imin[t], mins, bsum_pair);
          } else {
            // In int16 as far as the bound allows: 8 products of 0..15 (q5_K's 0..31: 4).
            constexpr int kRun = kFive ? 4 : 8;
            for (int k0 = 0; k0 < 8; k0 += kRun) {
              __m256i p = _mm256_maddubs_epi16(w[k0], GroupBcast4(a + 4 * k0));
              for (int k = k0 + 1; k < k0 + kRun; ++k) p = _mm256_add_epi16(p, _mm256_maddubs_epi16(w[k], GroupBcast4(a + 4 * k)));
              isc[t] = _mm256_add_epi32(isc[t], _mm256_madd_epi16(p, GroupPair16(sc)));
            }
            imin[t] = _mm256_add_epi32(imin[t], _mm256_madd_epi16(mins, bsum_pair));
          }
        }
      }
      const __m256 d = GroupHalfF16(o + 16 * h), dmin = GroupHalfF16(o + 32 + 16 * h);
      for (int t = 0; t < NT; ++t) {
        const __m256 da = _mm256_set1_ps(y[t][b].d);
        const __m256 v = _mm256_sub_ps(_mm256_mul_ps(_mm256_mul_ps(d, da), _mm256_cvtepi32_ps(isc[t])),
                                       _mm256_mul_ps(_mm256_mul_ps(dmin, da), _mm256_cvtepi32_ps(imin[t])));
        acc[t][h] = _mm256_add_ps(acc[t][h], v);
      }
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int h = 0; h < 2; ++h) _mm256_storeu_ps(out + 16 * t + 8 * h, acc[t][h]);
}

// q6_Kx16 against one q8_K row (generation): per half and quad of sub-blocks
// 4q..4q + 3, which share their high-plane vectors (and two by two their
// low-plane ones), each vector is loaded once for the four, not once per
// sub-block. The same integer sums as the general form below.
template <bool kVnni>
void GroupQ6_Kx16_256_One(const void* group, const void* const* act, float* out, int64_t n) {
  const int64_t nb = n / QK_K;
  const auto* y = static_cast<const block_q8_K*>(act[0]);
  __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  const __m256i lo4 = _mm256_set1_epi8(0x0F), hi2 = _mm256_set1_epi8(0x30);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* o = static_cast<const uint8_t*>(group) + b * q6_Kx16_block_bytes();
    PrefetchAhead(o, q6_Kx16_block_bytes());
    for (int h = 0; h < 2; ++h) {
      __m256i scaled = _mm256_setzero_si256(), off = _mm256_setzero_si256();
      for (int q = 0; q < 4; ++q) {
        // Sub-block 4q + i's sum: VNNI's int32 chain seeded with -32 sum a, or
        // maddubs' int16 sum of two products of 0..63 (flushed every two k).
        __m256i s[4];
        for (int i = 0; i < 4; ++i)
          s[i] = kVnni ? _mm256_set1_epi32(-32 * y[b].bsums[4 * q + i]) : _mm256_setzero_si256();
        auto scale_of = [&](int i) { return GroupRowsI8(o + 64 + (4 * q + i) * 16 + 8 * h); };
        #pragma GCC unroll 4
        for (int k = 0; k < 4; ++k) {
          const __m256i hi = GroupLoad(o + q6_Kx16_high_offset() + (q * 4 + k) * 64 + 32 * h);
          const __m256i lo[2] = {GroupLoad(o + q6_Kx16_low_offset() + (2 * q * 4 + k) * 64 + 32 * h),
                                 GroupLoad(o + q6_Kx16_low_offset() + ((2 * q + 1) * 4 + k) * 64 + 32 * h)};
          #pragma GCC unroll 4
          for (int i = 0; i < 4; ++i) {  // 16-bit shifts: the bits that cross a byte are masked off
            const __m256i l4 = _mm256_and_si256(i % 2 ? _mm256_srli_epi16(lo[i / 2], 4) : lo[i / 2], lo4);
            const __m256i h2 = i == 0 ? _mm256_slli_epi16(hi, 4) : i == 1 ? _mm256_slli_epi16(hi, 2) : i == 2 ? hi : _mm256_srli_epi16(hi, 2);
            const __m256i w = _mm256_or_si256(l4, _mm256_and_si256(h2, hi2));
            const __m256i a = GroupBcast4(y[b].qs + 16 * (4 * q + i) + 4 * k);
            if constexpr (kVnni) s[i] = GroupDp<true>(s[i], w, a);
            else s[i] = _mm256_add_epi16(s[i], _mm256_maddubs_epi16(w, a));
          }
          if constexpr (!kVnni) {
            if (k % 2 == 1)
              for (int i = 0; i < 4; ++i) {
                scaled = GroupDpWords<false>(scaled, s[i], GroupPair16(scale_of(i)));
                s[i] = _mm256_setzero_si256();
              }
          }
        }
        for (int i = 0; i < 4; ++i) {
          if constexpr (kVnni) {
            scaled = _mm256_add_epi32(scaled, _mm256_mullo_epi32(s[i], scale_of(i)));
          } else {  // sc x the sub-block's activation sum, for the 32 offset: (sc, sc) . (bsum, 0)
            const __m256i bsum = _mm256_set1_epi32(static_cast<uint16_t>(y[b].bsums[4 * q + i]));
            off = GroupDpWords<false>(off, GroupPair16(scale_of(i)), bsum);
          }
        }
      }
      const __m256i total = _mm256_sub_epi32(scaled, _mm256_slli_epi32(off, 5));
      acc[h] = _mm256_add_ps(acc[h], _mm256_mul_ps(_mm256_mul_ps(GroupHalfF16(o + 16 * h), _mm256_set1_ps(y[b].d)),
                                                   _mm256_cvtepi32_ps(total)));
    }
  }
  for (int h = 0; h < 2; ++h) _mm256_storeu_ps(out + 8 * h, acc[h]);
}

// q6_Kx16 against NT q8_K rows: per 16-weight sub-block and half, 4 vectors of
// q + 32 (0..63); sum (q + 32) a is scaled in integers. With VNNI, 32 sum a
// comes off before the scale (a chain's seed); with maddubs, scaled too, at
// the end of the super-block.
template <int NT, bool kVnni>
void GroupQ6_Kx16_256(const void* group, const void* const* act, float* out, int64_t n) {
  const int64_t nb = n / QK_K;
  const block_q8_K* y[NT];
  __m256 acc[NT][2];
  for (int t = 0; t < NT; ++t) {
    y[t] = static_cast<const block_q8_K*>(act[t]);
    acc[t][0] = acc[t][1] = _mm256_setzero_ps();
  }
  const __m256i lo4 = _mm256_set1_epi8(0x0F), hi2 = _mm256_set1_epi8(0x30);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* o = static_cast<const uint8_t*>(group) + b * q6_Kx16_block_bytes();
    PrefetchAhead(o, q6_Kx16_block_bytes());
    for (int h = 0; h < 2; ++h) {
      __m256i scaled[NT], off[NT];
      for (int t = 0; t < NT; ++t) scaled[t] = off[t] = _mm256_setzero_si256();
      // Unrolled: the shifts and offsets that depend on j become constants.
      #pragma GCC unroll 16
      for (int j = 0; j < 16; ++j) {
        __m256i wq[4];
        for (int k = 0; k < 4; ++k) {
          const __m256i lo = GroupLoad(o + q6_Kx16_low_offset() + ((j / 2) * 4 + k) * 64 + 32 * h);
          const __m256i hi = GroupLoad(o + q6_Kx16_high_offset() + ((j / 4) * 4 + k) * 64 + 32 * h);
          const __m256i l4 = _mm256_and_si256(j % 2 ? _mm256_srli_epi16(lo, 4) : lo, lo4);
          __m256i h2;
          switch (j % 4) {  // 16-bit shifts: the bits that cross a byte are masked off
            case 0: h2 = _mm256_slli_epi16(hi, 4); break;
            case 1: h2 = _mm256_slli_epi16(hi, 2); break;
            case 2: h2 = hi; break;
            default: h2 = _mm256_srli_epi16(hi, 2); break;
          }
          wq[k] = _mm256_or_si256(l4, _mm256_and_si256(h2, hi2));
        }
        const __m256i sc = GroupRowsI8(o + 64 + j * 16 + 8 * h);
        for (int t = 0; t < NT; ++t) {
          const int8_t* a = y[t][b].qs + 16 * j;
          if constexpr (kVnni) {
            // The 32 sum a comes off as the seed of one chain, before the scale.
            __m256i s0 = GroupDp<kVnni>(_mm256_set1_epi32(-32 * y[t][b].bsums[j]), wq[0], GroupBcast4(a));
            __m256i s1 = GroupDp<kVnni>(_mm256_setzero_si256(), wq[1], GroupBcast4(a + 4));
            s0 = GroupDp<kVnni>(s0, wq[2], GroupBcast4(a + 8));
            s1 = GroupDp<kVnni>(s1, wq[3], GroupBcast4(a + 12));
            scaled[t] = _mm256_add_epi32(scaled[t], _mm256_mullo_epi32(_mm256_add_epi32(s0, s1), sc));
          } else {
            // sc x the sub-block's activation sum, for the 32 offset: (sc, sc) . (bsum, 0).
            const __m256i sc16 = GroupPair16(sc);
            off[t] = _mm256_add_epi32(off[t], _mm256_madd_epi16(sc16, _mm256_set1_epi32(static_cast<uint16_t>(y[t][b].bsums[j]))));
            const __m256i p01 = _mm256_add_epi16(_mm256_maddubs_epi16(wq[0], GroupBcast4(a)), _mm256_maddubs_epi16(wq[1], GroupBcast4(a + 4)));
            const __m256i p23 = _mm256_add_epi16(_mm256_maddubs_epi16(wq[2], GroupBcast4(a + 8)), _mm256_maddubs_epi16(wq[3], GroupBcast4(a + 12)));
            scaled[t] = _mm256_add_epi32(scaled[t], _mm256_add_epi32(_mm256_madd_epi16(p01, sc16), _mm256_madd_epi16(p23, sc16)));
          }
        }
      }
      const __m256 d = GroupHalfF16(o + 16 * h);
      for (int t = 0; t < NT; ++t) {
        const __m256i total = _mm256_sub_epi32(scaled[t], _mm256_slli_epi32(off[t], 5));
        acc[t][h] = _mm256_add_ps(acc[t][h], _mm256_mul_ps(_mm256_mul_ps(d, _mm256_set1_ps(y[t][b].d)), _mm256_cvtepi32_ps(total)));
      }
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int h = 0; h < 2; ++h) _mm256_storeu_ps(out + 16 * t + 8 * h, acc[t][h]);
}

// q2_K's and q3_K's 32-weight sub-block (values 0..7) against its
// activations, as the sums of its two 16-weight groups (w[0..3] with
// a[0..15], w[4..7] with a[16..31]): with VNNI in int32, each chain started at
// its seed; without, as int16 pair sums (four products of 0..7 fit int16).
// (A template, as GroupDp: only the VNNI file instantiates it, with kVnni.)
template <bool kVnni>
inline void GroupTwoSumsVnni(const __m256i* w, const int8_t* a, int32_t seed0, int32_t seed1, __m256i* g0, __m256i* g1) {
  static_assert(kVnni, "the VEX vpdpbusd");
  __m256i s0 = _mm256_set1_epi32(seed0), s1 = _mm256_set1_epi32(seed1);
  for (int k = 0; k < 4; ++k) {
    s0 = GroupDp<kVnni>(s0, w[k], GroupBcast4(a + 4 * k));
    s1 = GroupDp<kVnni>(s1, w[4 + k], GroupBcast4(a + 16 + 4 * k));
  }
  *g0 = s0;
  *g1 = s1;
}
inline void GroupTwoPairSums(const __m256i* w, const int8_t* a, __m256i* p0, __m256i* p1) {
  *p0 = _mm256_maddubs_epi16(w[0], GroupBcast4(a));
  *p1 = _mm256_maddubs_epi16(w[4], GroupBcast4(a + 16));
  for (int k = 1; k < 4; ++k) {
    *p0 = _mm256_add_epi16(*p0, _mm256_maddubs_epi16(w[k], GroupBcast4(a + 4 * k)));
    *p1 = _mm256_add_epi16(*p1, _mm256_maddubs_epi16(w[4 + k], GroupBcast4(a + 16 + 4 * k)));
  }
}

// q3_Kx16 against NT q8_K rows: per 32-weight sub-block and half, 8 vectors
// of q2 + 4 hbit (0..7); the 4 comes off through the activations' 16-element
// sums, scaled like the products (with VNNI the sums seed the chains).
template <int NT, bool kVnni>
void GroupQ3_Kx16_256(const void* group, const void* const* act, float* out, int64_t n) {
  const int64_t nb = n / QK_K;
  const block_q8_K* y[NT];
  __m256 acc[NT][2];
  for (int t = 0; t < NT; ++t) {
    y[t] = static_cast<const block_q8_K*>(act[t]);
    acc[t][0] = acc[t][1] = _mm256_setzero_ps();
  }
  const __m256i m2 = _mm256_set1_epi8(3), four = _mm256_set1_epi8(4);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* o = static_cast<const uint8_t*>(group) + b * q3_Kx16_block_bytes();
    PrefetchAhead(o, q3_Kx16_block_bytes());
    for (int half = 0; half < 2; ++half) {
      __m256i scaled[NT], off[NT];
      for (int t = 0; t < NT; ++t) scaled[t] = off[t] = _mm256_setzero_si256();
      for (int h = 0; h < 2; ++h)
        for (int sh = 0; sh < 4; ++sh) {
          __m256i w[8];
          for (int k = 0; k < 8; ++k) {
            const __m256i q = GroupLoad(o + q3_Kx16_quants_offset() + (h * 8 + k) * 64 + 32 * half);
            const __m256i hm = GroupLoad(o + q3_Kx16_high_offset() + k * 64 + 32 * half);
            const int from = 4 * h + sh;  // the high bit, to bit 2
            const __m256i hb = from >= 2 ? _mm256_srl_epi32(hm, _mm_cvtsi32_si128(from - 2)) : _mm256_sll_epi32(hm, _mm_cvtsi32_si128(2 - from));
            w[k] = _mm256_or_si256(_mm256_and_si256(_mm256_srl_epi16(q, _mm_cvtsi32_si128(2 * sh)), m2), _mm256_and_si256(hb, four));
          }
          const int g = 8 * h + 2 * sh;
          const __m256i sc0 = GroupRowsI8(o + 64 + g * 16 + 8 * half), sc1 = GroupRowsI8(o + 64 + (g + 1) * 16 + 8 * half);
          for (int t = 0; t < NT; ++t) {
            const int8_t* a = y[t][b].qs + 16 * g;
            if constexpr (kVnni) {
              __m256i s0, s1;
              GroupTwoSumsVnni<kVnni>(w, a, -4 * y[t][b].bsums[g], -4 * y[t][b].bsums[g + 1], &s0, &s1);
              scaled[t] = _mm256_add_epi32(scaled[t], _mm256_add_epi32(_mm256_mullo_epi32(s0, sc0), _mm256_mullo_epi32(s1, sc1)));
            } else {
              __m256i p0, p1;
              GroupTwoPairSums(w, a, &p0, &p1);
              const __m256i sc0_16 = GroupPair16(sc0), sc1_16 = GroupPair16(sc1);
              scaled[t] = _mm256_add_epi32(scaled[t], _mm256_add_epi32(_mm256_madd_epi16(p0, sc0_16), _mm256_madd_epi16(p1, sc1_16)));
              // sc x the groups' activation sums, for the offset 4: (sc, sc) . (bsum, 0).
              off[t] = _mm256_add_epi32(off[t], _mm256_madd_epi16(sc0_16, _mm256_set1_epi32(static_cast<uint16_t>(y[t][b].bsums[g]))));
              off[t] = _mm256_add_epi32(off[t], _mm256_madd_epi16(sc1_16, _mm256_set1_epi32(static_cast<uint16_t>(y[t][b].bsums[g + 1]))));
            }
          }
        }
      const __m256 d = GroupHalfF16(o + 16 * half);
      for (int t = 0; t < NT; ++t) {
        const __m256i total = _mm256_sub_epi32(scaled[t], _mm256_slli_epi32(off[t], 2));
        acc[t][half] = _mm256_add_ps(acc[t][half], _mm256_mul_ps(_mm256_mul_ps(d, _mm256_set1_ps(y[t][b].d)), _mm256_cvtepi32_ps(total)));
      }
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int h = 0; h < 2; ++h) _mm256_storeu_ps(out + 16 * t + 8 * h, acc[t][h]);
}

// q2_Kx16 against NT q8_K rows: per 32-weight sub-block and half, 8 vectors
// of 2-bit quants, two 16-weight groups scaled by the rows' 4-bit scales in
// integers; the 4-bit mins meet the activations' 16-element sums.
template <int NT, bool kVnni>
void GroupQ2_Kx16_256(const void* group, const void* const* act, float* out, int64_t n) {
  const int64_t nb = n / QK_K;
  const block_q8_K* y[NT];
  __m256 acc[NT][2];
  for (int t = 0; t < NT; ++t) {
    y[t] = static_cast<const block_q8_K*>(act[t]);
    acc[t][0] = acc[t][1] = _mm256_setzero_ps();
  }
  const __m256i m2 = _mm256_set1_epi8(3), lo4 = _mm256_set1_epi32(15);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* o = static_cast<const uint8_t*>(group) + b * q2_Kx16_block_bytes();
    PrefetchAhead(o, q2_Kx16_block_bytes());
    for (int half = 0; half < 2; ++half) {
      __m256i isc[NT], imin[NT];
      for (int t = 0; t < NT; ++t) isc[t] = imin[t] = _mm256_setzero_si256();
      for (int h = 0; h < 2; ++h)
        for (int sh = 0; sh < 4; ++sh) {
          __m256i w[8];
          for (int k = 0; k < 8; ++k)
            w[k] = _mm256_and_si256(_mm256_srl_epi16(GroupLoad(o + q2_Kx16_quants_offset() + (h * 8 + k) * 64 + 32 * half),
                                                     _mm_cvtsi32_si128(2 * sh)), m2);
          const int g = 8 * h + 2 * sh;
          const __m256i sc0 = _mm256_and_si256(GroupRowsU8(o + 64 + g * 16 + 8 * half), lo4);
          const __m256i sc1 = _mm256_and_si256(GroupRowsU8(o + 64 + (g + 1) * 16 + 8 * half), lo4);
          for (int t = 0; t < NT; ++t) {
            const int8_t* a = y[t][b].qs + 16 * g;
            if constexpr (kVnni) {
              __m256i s0, s1;
              GroupTwoSumsVnni<kVnni>(w, a, 0, 0, &s0, &s1);
              isc[t] = _mm256_add_epi32(isc[t], _mm256_add_epi32(_mm256_mullo_epi32(s0, sc0), _mm256_mullo_epi32(s1, sc1)));
            } else {
              __m256i p0, p1;
              GroupTwoPairSums(w, a, &p0, &p1);
              isc[t] = _mm256_add_epi32(isc[t], _mm256_add_epi32(_mm256_madd_epi16(p0, GroupPair16(sc0)),
                                                                 _mm256_madd_epi16(p1, GroupPair16(sc1))));
            }
          }
        }
      for (int g = 0; g < 16; ++g) {  // min x the group's activation sum: (m, m) . (bsum, 0)
        const __m256i m16 = GroupPair16(_mm256_srli_epi32(GroupRowsU8(o + 64 + g * 16 + 8 * half), 4));
        for (int t = 0; t < NT; ++t)
          imin[t] = _mm256_add_epi32(imin[t], _mm256_madd_epi16(m16, _mm256_set1_epi32(static_cast<uint16_t>(y[t][b].bsums[g]))));
      }
      const __m256 d = GroupHalfF16(o + 16 * half), dmin = GroupHalfF16(o + 32 + 16 * half);
      for (int t = 0; t < NT; ++t) {
        const __m256 da = _mm256_set1_ps(y[t][b].d);
        const __m256 v = _mm256_sub_ps(_mm256_mul_ps(_mm256_mul_ps(d, da), _mm256_cvtepi32_ps(isc[t])),
                                       _mm256_mul_ps(_mm256_mul_ps(dmin, da), _mm256_cvtepi32_ps(imin[t])));
        acc[t][half] = _mm256_add_ps(acc[t][half], v);
      }
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int h = 0; h < 2; ++h) _mm256_storeu_ps(out + 16 * t + 8 * h, acc[t][h]);
}

// iq4_xsx16 against NT q8_K rows: per 32-weight sub-block and half, the
// codebook indices become weights in one byte shuffle each; with VNNI the
// codebook + 128 (unsigned, the 128 off through the activations' sums),
// without it the signed weights through |w| x (a with w's sign), whose pair
// sums fit int16 (|w|, |a| <= 127). Scaled in integers per sub-block.
template <int NT, bool kVnni>
void GroupIQ4_XSx16_256(const void* group, const void* const* act, float* out, int64_t n) {
  const int64_t nb = n / QK_K;
  const block_q8_K* y[NT];
  __m256 acc[NT][2];
  for (int t = 0; t < NT; ++t) {
    y[t] = static_cast<const block_q8_K*>(act[t]);
    acc[t][0] = acc[t][1] = _mm256_setzero_ps();
  }
  uint8_t codebook[16];
  for (int i = 0; i < 16; ++i) codebook[i] = static_cast<uint8_t>(kIQ4Values[i] + (kVnni ? 128 : 0));
  const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codebook)));
  const __m256i lo4 = _mm256_set1_epi8(0x0F);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* o = static_cast<const uint8_t*>(group) + b * iq4_xsx16_block_bytes();
    PrefetchAhead(o, iq4_xsx16_block_bytes());
    for (int h = 0; h < 2; ++h) {
      __m256i scaled[NT];
      for (int t = 0; t < NT; ++t) scaled[t] = _mm256_setzero_si256();
      for (int ib = 0; ib < 8; ++ib) {
        __m256i w[8];  // vector k meets activation bytes 4k.. (k < 4), 16 + 4(k - 4).. (k >= 4)
        for (int k = 0; k < 4; ++k) {
          const __m256i v = GroupLoad(o + iq4_xsx16_quants_offset() + (ib * 4 + k) * 64 + 32 * h);
          w[k] = _mm256_shuffle_epi8(table, _mm256_and_si256(v, lo4));
          w[4 + k] = _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(v, 4), lo4));
        }
        const __m256i sc = GroupRowsI8(o + 64 + ib * 16 + 8 * h);
        for (int t = 0; t < NT; ++t) {
          const int8_t* a = y[t][b].qs + 32 * ib;
          auto at = [&](int k) { return GroupBcast4(a + (k < 4 ? 4 * k : 16 + 4 * (k - 4))); };
          if constexpr (kVnni) {
            __m256i s0 = _mm256_set1_epi32(-128 * (y[t][b].bsums[2 * ib] + y[t][b].bsums[2 * ib + 1])), s1 = _mm256_setzero_si256();
            for (int k = 0; k < 8; k += 2) {
              s0 = GroupDp<kVnni>(s0, w[k], at(k));
              s1 = GroupDp<kVnni>(s1, w[k + 1], at(k + 1));
            }
            scaled[t] = _mm256_add_epi32(scaled[t], _mm256_mullo_epi32(_mm256_add_epi32(s0, s1), sc));
          } else {
            const __m256i sc16 = GroupPair16(sc);
            for (int k = 0; k < 8; ++k) {
              const __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(w[k]), _mm256_sign_epi8(at(k), w[k]));
              scaled[t] = _mm256_add_epi32(scaled[t], _mm256_madd_epi16(p, sc16));
            }
          }
        }
      }
      const __m256 d = GroupHalfF16(o + 16 * h);
      for (int t = 0; t < NT; ++t)
        acc[t][h] = _mm256_add_ps(acc[t][h], _mm256_mul_ps(_mm256_mul_ps(d, _mm256_set1_ps(y[t][b].d)), _mm256_cvtepi32_ps(scaled[t])));
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int h = 0; h < 2; ++h) _mm256_storeu_ps(out + 16 * t + 8 * h, acc[t][h]);
}

// f16x16 against NT f32 rows: per column, the 16 weights widened once and one
// FMA per token and half. kBF16: bf16x16, widened by a shift.
template <int NT, bool kBF16 = false>
void GroupF16x16_256(const void* group, const void* const* act, float* out, int64_t n) {
  const auto* g = static_cast<const uint16_t*>(group);
  const float* a[NT];
  __m256 acc[NT][2];
  for (int t = 0; t < NT; ++t) {
    a[t] = static_cast<const float*>(act[t]);
    acc[t][0] = acc[t][1] = _mm256_setzero_ps();
  }
  for (int64_t c = 0; c < n; ++c) {
    if ((c & 1) == 0) PrefetchAhead(g + c * 16, 64);
    __m256 w0, w1;
    if constexpr (kBF16) {
      const __m256i h = GroupLoad(reinterpret_cast<const uint8_t*>(g + c * 16));
      w0 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm256_castsi256_si128(h)), 16));
      w1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm256_extracti128_si256(h, 1)), 16));
    } else {
      w0 = GroupHalfF16(g + c * 16);
      w1 = GroupHalfF16(g + c * 16 + 8);
    }
    for (int t = 0; t < NT; ++t) {
      const __m256 x = _mm256_set1_ps(a[t][c]);
      acc[t][0] = _mm256_fmadd_ps(w0, x, acc[t][0]);
      acc[t][1] = _mm256_fmadd_ps(w1, x, acc[t][1]);
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int h = 0; h < 2; ++h) _mm256_storeu_ps(out + 16 * t + 8 * h, acc[t][h]);
}

template <bool kVnni>
struct Group256 {
  template <int NT> struct Q4_0 { static constexpr GroupFn Run = &GroupQx_0x16_256<NT, true, kVnni>; };
  template <int NT> struct Q8_0 { static constexpr GroupFn Run = &GroupQx_0x16_256<NT, false, kVnni>; };
  template <int NT> struct Q5_0 { static constexpr GroupFn Run = &GroupQx_0x16_256<NT, true, kVnni, true>; };
  template <int NT> struct Q4_K {
    static constexpr GroupFn Run = NT == 1 ? &GroupQ4_Kx16_256_One<kVnni, false> : &GroupQ4_Kx16_256<NT, kVnni>;
  };
  template <int NT> struct Q5_K {
    static constexpr GroupFn Run = NT == 1 ? &GroupQ4_Kx16_256_One<kVnni, true> : &GroupQ4_Kx16_256<NT, kVnni, true>;
  };
  template <int NT> struct Q6_K {
    static constexpr GroupFn Run = NT == 1 ? &GroupQ6_Kx16_256_One<kVnni> : &GroupQ6_Kx16_256<NT, kVnni>;
  };
  template <int NT> struct IQ4_XS { static constexpr GroupFn Run = &GroupIQ4_XSx16_256<NT, kVnni>; };
  template <int NT> struct IQ4_NL { static constexpr GroupFn Run = &GroupNibblesx16_256<NT, Nibbles::kIQ4_NL, kVnni>; };
  template <int NT> struct Q4_1 { static constexpr GroupFn Run = &GroupNibblesx16_256<NT, Nibbles::kQ4_1, kVnni>; };
  template <int NT> struct Q5_1 { static constexpr GroupFn Run = &GroupNibblesx16_256<NT, Nibbles::kQ5_1, kVnni>; };
  template <int NT> struct Q3_K { static constexpr GroupFn Run = &GroupQ3_Kx16_256<NT, kVnni>; };
  template <int NT> struct Q2_K { static constexpr GroupFn Run = &GroupQ2_Kx16_256<NT, kVnni>; };
  template <int NT> struct F16 { static constexpr GroupFn Run = &GroupF16x16_256<NT>; };
  template <int NT> struct BF16 { static constexpr GroupFn Run = &GroupF16x16_256<NT, true>; };
  // Four tokens a call: with two halves each, more accumulators than 16 registers hold.
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
