#include "layouts.h"

#include <cstring>

#include "blocks.h"
#include "fp16.h"

namespace edgerun {

namespace {
// q4_0 and q8_0 blocks: [f16 d][quant bytes]; the group keeps the scales,
// then per block the quant bytes as 64-byte vectors of 4 bytes per row.
template <typename Block, bool kFlip>
void regroup_x_0(const void* rows, int64_t cols, void* group) {
  constexpr int kVectors = sizeof(Block::qs) / 4;
  const int64_t nb = cols / QK;
  const auto* x = static_cast<const Block*>(rows);
  auto* scales = static_cast<uint16_t*>(group);
  auto* qs = static_cast<uint8_t*>(group) + nb * 32;
  for (int64_t b = 0; b < nb; ++b)
    for (int r = 0; r < kGroupRows; ++r) {
      const Block& blk = x[r * nb + b];
      scales[b * kGroupRows + r] = blk.d;
      for (int k = 0; k < kVectors; ++k) std::memcpy(qs + (b * kVectors + k) * 64 + r * 4, blk.qs + 4 * k, 4);
      if (kFlip)  // q8_0's int8 quants as q + 128, the unsigned bytes vpdpbusd wants
        for (int k = 0; k < kVectors; ++k)
          for (int j = 0; j < 4; ++j) qs[(b * kVectors + k) * 64 + r * 4 + j] ^= 0x80;
    }
}
}  // namespace

void repack_q4_0x16(const void* rows, int64_t cols, void* group) { regroup_x_0<block_q4_0, false>(rows, cols, group); }

namespace {
// q5_0x16's fifth-bit word of a row's block: bit 8i + j = fifth bit of element 4j + i.
uint32_t q5_0_fifth_word(const uint8_t* qh) {
  uint32_t h, word = 0;
  std::memcpy(&h, qh, 4);
  for (int e = 0; e < QK; ++e) word |= ((h >> e) & 1u) << (8 * (e % 4) + e / 4);
  return word;
}
uint32_t q5_0_qh(uint32_t word) {
  uint32_t h = 0;
  for (int e = 0; e < QK; ++e) h |= ((word >> (8 * (e % 4) + e / 4)) & 1u) << e;
  return h;
}
}  // namespace

void repack_q5_0x16(const void* rows, int64_t cols, void* group) {
  const int64_t nb = cols / QK;
  const auto* x = static_cast<const block_q5_0*>(rows);
  auto* scales = static_cast<uint16_t*>(group);
  auto* qs = static_cast<uint8_t*>(group) + nb * 32;
  for (int64_t b = 0; b < nb; ++b)
    for (int r = 0; r < kGroupRows; ++r) {
      const block_q5_0& blk = x[r * nb + b];
      scales[b * kGroupRows + r] = blk.d;
      uint8_t* q = qs + b * 320;
      for (int k = 0; k < 4; ++k) std::memcpy(q + k * 64 + r * 4, blk.qs + 4 * k, 4);
      const uint32_t word = q5_0_fifth_word(blk.qh);
      std::memcpy(q + 256 + r * 4, &word, 4);
    }
}
void repack_q8_0x16(const void* rows, int64_t cols, void* group) { regroup_x_0<block_q8_0, true>(rows, cols, group); }
void repack_iq4_nlx16(const void* rows, int64_t cols, void* group) { regroup_x_0<block_iq4_nl, false>(rows, cols, group); }

namespace {
// q4_1 and q5_1 blocks: q4_0x16's / q5_0x16's group with the rows' mins after their scales.
template <typename Block, bool kFive>
void regroup_x_1(const void* rows, int64_t cols, void* group) {
  constexpr int kBlockBytes = kFive ? 320 : 256;
  const int64_t nb = cols / QK;
  const auto* x = static_cast<const Block*>(rows);
  auto* scales = static_cast<uint16_t*>(group);
  auto* mins = scales + nb * kGroupRows;
  auto* qs = static_cast<uint8_t*>(group) + nb * 64;
  for (int64_t b = 0; b < nb; ++b)
    for (int r = 0; r < kGroupRows; ++r) {
      const Block& blk = x[r * nb + b];
      scales[b * kGroupRows + r] = blk.d;
      mins[b * kGroupRows + r] = blk.m;
      uint8_t* q = qs + b * kBlockBytes;
      for (int k = 0; k < 4; ++k) std::memcpy(q + k * 64 + r * 4, blk.qs + 4 * k, 4);
      if constexpr (kFive) {
        const uint32_t word = q5_0_fifth_word(blk.qh);
        std::memcpy(q + 256 + r * 4, &word, 4);
      }
    }
}
template <typename Block, bool kFive>
void ungroup_x_1(const void* group, int64_t cols, void* rows) {
  constexpr int kBlockBytes = kFive ? 320 : 256;
  const int64_t nb = cols / QK;
  auto* x = static_cast<Block*>(rows);
  const auto* scales = static_cast<const uint16_t*>(group);
  const auto* mins = scales + nb * kGroupRows;
  const auto* qs = static_cast<const uint8_t*>(group) + nb * 64;
  for (int64_t b = 0; b < nb; ++b)
    for (int r = 0; r < kGroupRows; ++r) {
      Block& blk = x[r * nb + b];
      blk.d = scales[b * kGroupRows + r];
      blk.m = mins[b * kGroupRows + r];
      const uint8_t* q = qs + b * kBlockBytes;
      for (int k = 0; k < 4; ++k) std::memcpy(blk.qs + 4 * k, q + k * 64 + r * 4, 4);
      if constexpr (kFive) {
        uint32_t word;
        std::memcpy(&word, q + 256 + r * 4, 4);
        const uint32_t h = q5_0_qh(word);
        std::memcpy(blk.qh, &h, 4);
      }
    }
}
// The q4_1x16 / q5_1x16 reference: per block, (d d_a) I + m s_a, added in block order (add_block_min's order).
template <bool kFive>
void dot_x_1x16_ref(const void* group, const void* act, int64_t cols, float* out) {
  constexpr int kBlockBytes = kFive ? 320 : 256;
  const int64_t nb = cols / QK;
  const auto* scales = static_cast<const uint16_t*>(group);
  const auto* mins = scales + nb * kGroupRows;
  const auto* qs = static_cast<const uint8_t*>(group) + nb * 64;
  const auto* y = static_cast<const block_q8_1*>(act);
  for (int r = 0; r < kGroupRows; ++r) {
    float sum = 0;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* q = qs + b * kBlockBytes;
      int s = 0;
      for (int k = 0; k < 4; ++k)
        for (int j = 0; j < 4; ++j) {
          const uint8_t byte = q[k * 64 + r * 4 + j];
          int lo = byte & 15, hi = byte >> 4;
          if (kFive) {
            const uint8_t fifth = q[256 + r * 4 + j];
            lo |= ((fifth >> k) & 1) << 4;
            hi |= ((fifth >> (4 + k)) & 1) << 4;
          }
          s += lo * y[b].qs[4 * k + j] + hi * y[b].qs[16 + 4 * k + j];
        }
      const float dd = fp16_to_float(scales[b * kGroupRows + r]) * fp16_to_float(y[b].d);
      sum += dd * static_cast<float>(s) + fp16_to_float(mins[b * kGroupRows + r]) * fp16_to_float(y[b].s);
    }
    out[r] = sum;
  }
}
}  // namespace

void repack_q4_1x16(const void* rows, int64_t cols, void* group) { regroup_x_1<block_q4_1, false>(rows, cols, group); }
void repack_q5_1x16(const void* rows, int64_t cols, void* group) { regroup_x_1<block_q5_1, true>(rows, cols, group); }
void dot_q4_1x16_ref(const void* group, const void* act, int64_t cols, float* out) { dot_x_1x16_ref<false>(group, act, cols, out); }
void dot_q5_1x16_ref(const void* group, const void* act, int64_t cols, float* out) { dot_x_1x16_ref<true>(group, act, cols, out); }

namespace {
// The q4_0x16 and q8_0x16 references differ only in a block's integer sum:
// block_sum(quant vectors of the block, activation quants, row) -> sum q a.
template <int kBlockBytes, typename BlockSum>
void dot_x_0x16_ref(const void* group, const void* act, int64_t cols, float* out, BlockSum block_sum) {
  const int64_t nb = cols / QK;
  const auto* scales = static_cast<const uint16_t*>(group);
  const auto* qs = static_cast<const uint8_t*>(group) + nb * 32;
  const auto* aq = static_cast<const int8_t*>(act);
  const auto* ad = reinterpret_cast<const float*>(static_cast<const uint8_t*>(act) + cols);
  for (int r = 0; r < kGroupRows; ++r) {
    float sum = 0;
    for (int64_t b = 0; b < nb; ++b)
      sum += fp16_to_float(scales[b * kGroupRows + r]) * ad[b] * static_cast<float>(block_sum(qs + b * kBlockBytes, aq + b * QK, r));
    out[r] = sum;
  }
}
}  // namespace

void dot_q4_0x16_ref(const void* group, const void* act, int64_t cols, float* out) {
  dot_x_0x16_ref<256>(group, act, cols, out, [](const uint8_t* q, const int8_t* a, int r) {
    int s = 0;
    for (int k = 0; k < 4; ++k)
      for (int j = 0; j < 4; ++j) {
        const uint8_t byte = q[k * 64 + r * 4 + j];
        s += ((byte & 15) - 8) * a[4 * k + j] + ((byte >> 4) - 8) * a[16 + 4 * k + j];
      }
    return s;
  });
}

void dot_q5_0x16_ref(const void* group, const void* act, int64_t cols, float* out) {
  dot_x_0x16_ref<320>(group, act, cols, out, [](const uint8_t* q, const int8_t* a, int r) {
    int s = 0;
    for (int k = 0; k < 4; ++k)
      for (int j = 0; j < 4; ++j) {
        const uint8_t byte = q[k * 64 + r * 4 + j], fifth = q[256 + r * 4 + j];
        const int lo = (byte & 15) | ((fifth >> k) & 1) << 4, hi = (byte >> 4) | ((fifth >> (4 + k)) & 1) << 4;
        s += (lo - 16) * a[4 * k + j] + (hi - 16) * a[16 + 4 * k + j];
      }
    return s;
  });
}

void dot_iq4_nlx16_ref(const void* group, const void* act, int64_t cols, float* out) {
  dot_x_0x16_ref<256>(group, act, cols, out, [](const uint8_t* q, const int8_t* a, int r) {
    int s = 0;
    for (int k = 0; k < 4; ++k)
      for (int j = 0; j < 4; ++j) {
        const uint8_t byte = q[k * 64 + r * 4 + j];
        s += kIQ4Values[byte & 15] * a[4 * k + j] + kIQ4Values[byte >> 4] * a[16 + 4 * k + j];
      }
    return s;
  });
}

void dot_q8_0x16_ref(const void* group, const void* act, int64_t cols, float* out) {
  dot_x_0x16_ref<512>(group, act, cols, out, [](const uint8_t* q, const int8_t* a, int r) {
    int s = 0;
    for (int k = 0; k < 8; ++k)
      for (int j = 0; j < 4; ++j) s += (q[k * 64 + r * 4 + j] - 128) * a[4 * k + j];
    return s;
  });
}

namespace {
// Sub-block j's 6-bit scale and min of a q4_K block (GGUF's packing).
void scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}
}  // namespace

namespace {
// q4_Kx16 and q5_Kx16 (q4_K's layout and q5_K's fifth bits after it).
template <typename Block, bool kFive>
void regroup_xk(const void* rows, int64_t cols, void* group) {
  const int64_t nb = cols / QK_K;
  const auto* x = static_cast<const Block*>(rows);
  const size_t block_bytes = kFive ? q5_Kx16_block_bytes() : q4_Kx16_block_bytes();
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* o = static_cast<uint8_t*>(group) + b * block_bytes;
    auto* d = reinterpret_cast<uint16_t*>(o);
    for (int r = 0; r < kGroupRows; ++r) {
      const Block& blk = x[r * nb + b];
      d[r] = blk.d;
      d[16 + r] = blk.dmin;
      for (int j = 0; j < 8; ++j) scale_min_k4(j, blk.scales, o + 64 + j * 16 + r, o + 192 + j * 16 + r);
      for (int c = 0; c < 4; ++c)
        for (int k = 0; k < 8; ++k) std::memcpy(o + 320 + (c * 8 + k) * 64 + r * 4, blk.qs + 32 * c + 4 * k, 4);
      if constexpr (kFive)
        for (int k = 0; k < 8; ++k) std::memcpy(o + q5_Kx16_high_offset() + k * 64 + r * 4, blk.qh + 4 * k, 4);
    }
  }
}
}  // namespace

void repack_q4_Kx16(const void* rows, int64_t cols, void* group) { regroup_xk<block_q4_K, false>(rows, cols, group); }
void repack_q5_Kx16(const void* rows, int64_t cols, void* group) { regroup_xk<block_q5_K, true>(rows, cols, group); }

void repack_f16x16(const void* rows, int64_t cols, void* group) {
  const auto* x = static_cast<const uint16_t*>(rows);
  auto* o = static_cast<uint16_t*>(group);
  for (int r = 0; r < kGroupRows; ++r)
    for (int64_t c = 0; c < cols; ++c) o[c * kGroupRows + r] = x[r * cols + c];
}

void dot_f16x16_ref(const void* group, const void* act, int64_t cols, float* out) {
  const auto* g = static_cast<const uint16_t*>(group);
  const auto* a = static_cast<const float*>(act);
  for (int r = 0; r < kGroupRows; ++r) {
    double s = 0;
    for (int64_t c = 0; c < cols; ++c) s += static_cast<double>(fp16_to_float(g[c * kGroupRows + r])) * a[c];
    out[r] = static_cast<float>(s);
  }
}

void dot_bf16x16_ref(const void* group, const void* act, int64_t cols, float* out) {
  const auto* g = static_cast<const uint16_t*>(group);
  const auto* a = static_cast<const float*>(act);
  for (int r = 0; r < kGroupRows; ++r) {
    double s = 0;
    for (int64_t c = 0; c < cols; ++c) s += static_cast<double>(bf16_to_float(g[c * kGroupRows + r])) * a[c];
    out[r] = static_cast<float>(s);
  }
}

namespace {
// Where quant i of vector k, lane r, sub-block j of a q6_Kx16 super-block
// lives: its low 4 bits (byte, shift) and its high 2 bits (byte, shift).
struct Q6Place {
  size_t low, high;
  int low_shift, high_shift;
};
Q6Place q6_place(int j, int k, int r, int i) {
  const size_t lane = static_cast<size_t>(k) * 64 + r * 4 + i;
  return {q6_Kx16_low_offset() + (j / 2) * 256 + lane, q6_Kx16_high_offset() + (j / 4) * 256 + lane, 4 * (j % 2), 2 * (j % 4)};
}
// Where element e of a q6_K block (GGUF's packing) keeps its low 4 bits (in
// ql) and its high 2 bits (in qh).
Q6Place q6_row_place(int e) {
  const int half = e / 128, rest = e % 128, quarter = rest / 32, l = rest % 32;
  return {static_cast<size_t>(64 * half + l + 32 * (quarter & 1)), static_cast<size_t>(32 * half + l), 4 * (quarter >> 1),
          2 * quarter};
}
int q6_get(const uint8_t* o, int j, int k, int r, int i) {
  const Q6Place p = q6_place(j, k, r, i);
  return ((o[p.low] >> p.low_shift) & 15) | (((o[p.high] >> p.high_shift) & 3) << 4);
}
}  // namespace

void repack_q6_Kx16(const void* rows, int64_t cols, void* group) {
  const int64_t nb = cols / QK_K;
  const auto* x = static_cast<const block_q6_K*>(rows);
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* o = static_cast<uint8_t*>(group) + b * q6_Kx16_block_bytes();
    std::memset(o, 0, q6_Kx16_block_bytes());
    for (int r = 0; r < kGroupRows; ++r) {
      const block_q6_K& blk = x[r * nb + b];
      std::memcpy(o + 2 * r, &blk.d, 2);
      for (int j = 0; j < 16; ++j) o[64 + j * 16 + r] = static_cast<uint8_t>(blk.scales[j]);
      for (int e = 0; e < QK_K; ++e) {
        const Q6Place s = q6_row_place(e), p = q6_place(e / 16, (e % 16) / 4, r, e % 4);
        const int low = (blk.ql[s.low] >> s.low_shift) & 15, high = (blk.qh[s.high] >> s.high_shift) & 3;
        o[p.low] = static_cast<uint8_t>(o[p.low] | low << p.low_shift);
        o[p.high] = static_cast<uint8_t>(o[p.high] | high << p.high_shift);
      }
    }
  }
}

void dot_q6_Kx16_ref(const void* group, const void* act, int64_t cols, float* out) {
  const int64_t nb = cols / QK_K;
  const auto* y = static_cast<const block_q8_K*>(act);
  for (int r = 0; r < kGroupRows; ++r) {
    float sum = 0;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* o = static_cast<const uint8_t*>(group) + b * q6_Kx16_block_bytes();
      uint16_t d;
      std::memcpy(&d, o + 2 * r, 2);
      int total = 0;
      for (int j = 0; j < 16; ++j) {
        int s = 0;
        for (int e = 0; e < 16; ++e) s += (q6_get(o, j, e / 4, r, e % 4) - 32) * y[b].qs[16 * j + e];
        total += static_cast<int8_t>(o[64 + j * 16 + r]) * s;
      }
      sum += y[b].d * fp16_to_float(d) * static_cast<float>(total);
    }
    out[r] = sum;
  }
}

namespace {
template <bool kFive>
void dot_xkx16_ref(const void* group, const void* act, int64_t cols, float* out) {
  const int64_t nb = cols / QK_K;
  const auto* y = static_cast<const block_q8_K*>(act);
  const size_t block_bytes = kFive ? q5_Kx16_block_bytes() : q4_Kx16_block_bytes();
  for (int r = 0; r < kGroupRows; ++r) {
    float sum = 0;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* o = static_cast<const uint8_t*>(group) + b * block_bytes;
      const auto* d = reinterpret_cast<const uint16_t*>(o);
      int scaled = 0, mins = 0;
      for (int j = 0; j < 8; ++j) {
        int s = 0;
        for (int k = 0; k < 8; ++k)
          for (int i = 0; i < 4; ++i) {
            const uint8_t byte = o[320 + ((j / 2) * 8 + k) * 64 + r * 4 + i];
            int q = (j % 2) ? byte >> 4 : byte & 15;
            if (kFive) q |= ((o[q5_Kx16_high_offset() + k * 64 + r * 4 + i] >> j) & 1) << 4;
            s += q * y[b].qs[32 * j + 4 * k + i];
          }
        scaled += o[64 + j * 16 + r] * s;
        mins += o[192 + j * 16 + r] * (y[b].bsums[2 * j] + y[b].bsums[2 * j + 1]);
      }
      sum += (fp16_to_float(d[r]) * y[b].d) * static_cast<float>(scaled) - (fp16_to_float(d[16 + r]) * y[b].d) * static_cast<float>(mins);
    }
    out[r] = sum;
  }
}
}  // namespace

void dot_q4_Kx16_ref(const void* group, const void* act, int64_t cols, float* out) { dot_xkx16_ref<false>(group, act, cols, out); }
void dot_q5_Kx16_ref(const void* group, const void* act, int64_t cols, float* out) { dot_xkx16_ref<true>(group, act, cols, out); }

void repack_q2_Kx16(const void* rows, int64_t cols, void* group) {
  const int64_t nb = cols / QK_K;
  const auto* x = static_cast<const block_q2_K*>(rows);
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* o = static_cast<uint8_t*>(group) + b * q2_Kx16_block_bytes();
    auto* d = reinterpret_cast<uint16_t*>(o);
    for (int r = 0; r < kGroupRows; ++r) {
      const block_q2_K& blk = x[r * nb + b];
      d[r] = blk.d;
      d[16 + r] = blk.dmin;
      for (int g = 0; g < 16; ++g) o[64 + g * 16 + r] = blk.scales[g];
      for (int h = 0; h < 2; ++h)
        for (int k = 0; k < 8; ++k) std::memcpy(o + q2_Kx16_quants_offset() + (h * 8 + k) * 64 + r * 4, blk.qs + 32 * h + 4 * k, 4);
    }
  }
}

void dot_q2_Kx16_ref(const void* group, const void* act, int64_t cols, float* out) {
  const int64_t nb = cols / QK_K;
  const auto* y = static_cast<const block_q8_K*>(act);
  for (int r = 0; r < kGroupRows; ++r) {
    float sum = 0;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* o = static_cast<const uint8_t*>(group) + b * q2_Kx16_block_bytes();
      const auto* d = reinterpret_cast<const uint16_t*>(o);
      int isum = 0, imin = 0;
      for (int e = 0; e < QK_K; ++e) {
        const int h = e / 128, s = (e % 128) / 32, l = e % 32;
        const int q = (o[q2_Kx16_quants_offset() + (h * 8 + l / 4) * 64 + r * 4 + l % 4] >> (2 * s)) & 3;
        isum += (o[64 + (e / 16) * 16 + r] & 15) * q * y[b].qs[e];
      }
      for (int g = 0; g < 16; ++g) imin += (o[64 + g * 16 + r] >> 4) * y[b].bsums[g];
      sum += (fp16_to_float(d[r]) * y[b].d) * static_cast<float>(isum) - (fp16_to_float(d[16 + r]) * y[b].d) * static_cast<float>(imin);
    }
    out[r] = sum;
  }
}

namespace {
// q3_K's 6-bit scale of 16-element group g, offset by 32.
int q3_K_scale(const block_q3_K& blk, int g) {
  const int low = g < 8 ? blk.scales[g] & 0x0F : blk.scales[g - 8] >> 4;
  const int high = (blk.scales[8 + g % 4] >> (2 * (g / 4))) & 3;
  return (low | (high << 4)) - 32;
}
}  // namespace

void repack_q3_Kx16(const void* rows, int64_t cols, void* group) {
  const int64_t nb = cols / QK_K;
  const auto* x = static_cast<const block_q3_K*>(rows);
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* o = static_cast<uint8_t*>(group) + b * q3_Kx16_block_bytes();
    std::memset(o, 0, 64);
    auto* d = reinterpret_cast<uint16_t*>(o);
    for (int r = 0; r < kGroupRows; ++r) {
      const block_q3_K& blk = x[r * nb + b];
      d[r] = blk.d;
      for (int g = 0; g < 16; ++g) o[64 + g * 16 + r] = static_cast<uint8_t>(static_cast<int8_t>(q3_K_scale(blk, g)));
      for (int h = 0; h < 2; ++h)
        for (int k = 0; k < 8; ++k) std::memcpy(o + q3_Kx16_quants_offset() + (h * 8 + k) * 64 + r * 4, blk.qs + 32 * h + 4 * k, 4);
      for (int k = 0; k < 8; ++k) std::memcpy(o + q3_Kx16_high_offset() + k * 64 + r * 4, blk.hmask + 4 * k, 4);
    }
  }
}

void dot_q3_Kx16_ref(const void* group, const void* act, int64_t cols, float* out) {
  const int64_t nb = cols / QK_K;
  const auto* y = static_cast<const block_q8_K*>(act);
  for (int r = 0; r < kGroupRows; ++r) {
    float sum = 0;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* o = static_cast<const uint8_t*>(group) + b * q3_Kx16_block_bytes();
      int isum = 0;
      for (int e = 0; e < QK_K; ++e) {
        const int h = e / 128, s = (e % 128) / 32, l = e % 32, k = l / 4, i = l % 4;
        const int q2 = (o[q3_Kx16_quants_offset() + (h * 8 + k) * 64 + r * 4 + i] >> (2 * s)) & 3;
        const int hbit = (o[q3_Kx16_high_offset() + k * 64 + r * 4 + i] >> (4 * h + s)) & 1;
        isum += static_cast<int8_t>(o[64 + (e / 16) * 16 + r]) * (q2 + 4 * hbit - 4) * y[b].qs[e];
      }
      sum += (fp16_to_float(reinterpret_cast<const uint16_t*>(o)[r]) * y[b].d) * static_cast<float>(isum);
    }
    out[r] = sum;
  }
}

void repack_iq4_xsx16(const void* rows, int64_t cols, void* group) {
  const int64_t nb = cols / QK_K;
  const auto* x = static_cast<const block_iq4_xs*>(rows);
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* o = static_cast<uint8_t*>(group) + b * iq4_xsx16_block_bytes();
    std::memset(o, 0, 64);
    auto* d = reinterpret_cast<uint16_t*>(o);
    for (int r = 0; r < kGroupRows; ++r) {
      const block_iq4_xs& blk = x[r * nb + b];
      d[r] = blk.d;
      for (int ib = 0; ib < 8; ++ib) {
        o[64 + ib * 16 + r] = static_cast<uint8_t>(static_cast<int8_t>(iq4_xs_scale(blk, ib)));
        for (int k = 0; k < 4; ++k)
          std::memcpy(o + iq4_xsx16_quants_offset() + (ib * 4 + k) * 64 + r * 4, blk.qs + 16 * ib + 4 * k, 4);
      }
    }
  }
}

void dot_iq4_xsx16_ref(const void* group, const void* act, int64_t cols, float* out) {
  const int64_t nb = cols / QK_K;
  const auto* y = static_cast<const block_q8_K*>(act);
  for (int r = 0; r < kGroupRows; ++r) {
    float sum = 0;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* o = static_cast<const uint8_t*>(group) + b * iq4_xsx16_block_bytes();
      int scaled = 0;
      for (int ib = 0; ib < 8; ++ib) {
        int s = 0;
        for (int k = 0; k < 4; ++k)
          for (int i = 0; i < 4; ++i) {
            const uint8_t byte = o[iq4_xsx16_quants_offset() + (ib * 4 + k) * 64 + r * 4 + i];
            s += kIQ4Values[byte & 15] * y[b].qs[32 * ib + 4 * k + i] + kIQ4Values[byte >> 4] * y[b].qs[32 * ib + 16 + 4 * k + i];
          }
        scaled += static_cast<int8_t>(o[64 + ib * 16 + r]) * s;
      }
      sum += (fp16_to_float(reinterpret_cast<const uint16_t*>(o)[r]) * y[b].d) * static_cast<float>(scaled);
    }
    out[r] = sum;
  }
}

namespace {
// The inverses of the regroupings above, for files whose x16 tensors meet a
// CPU or backend without the group kernels.
template <typename Block, bool kFlip>
void ungroup_x_0(const void* group, int64_t cols, void* rows) {
  constexpr int kVectors = sizeof(Block::qs) / 4;
  const int64_t nb = cols / QK;
  auto* x = static_cast<Block*>(rows);
  const auto* scales = static_cast<const uint16_t*>(group);
  const auto* qs = static_cast<const uint8_t*>(group) + nb * 32;
  for (int64_t b = 0; b < nb; ++b)
    for (int r = 0; r < kGroupRows; ++r) {
      Block& blk = x[r * nb + b];
      blk.d = scales[b * kGroupRows + r];
      for (int k = 0; k < kVectors; ++k) std::memcpy(blk.qs + 4 * k, qs + (b * kVectors + k) * 64 + r * 4, 4);
      if (kFlip)
        for (auto& q : blk.qs) q = static_cast<decltype(+q)>(static_cast<uint8_t>(q) ^ 0x80);
    }
}

void ungroup_q5_0x16(const void* group, int64_t cols, void* rows) {
  const int64_t nb = cols / QK;
  auto* x = static_cast<block_q5_0*>(rows);
  const auto* scales = static_cast<const uint16_t*>(group);
  const auto* qs = static_cast<const uint8_t*>(group) + nb * 32;
  for (int64_t b = 0; b < nb; ++b)
    for (int r = 0; r < kGroupRows; ++r) {
      block_q5_0& blk = x[r * nb + b];
      blk.d = scales[b * kGroupRows + r];
      const uint8_t* q = qs + b * 320;
      for (int k = 0; k < 4; ++k) std::memcpy(blk.qs + 4 * k, q + k * 64 + r * 4, 4);
      uint32_t word;
      std::memcpy(&word, q + 256 + r * 4, 4);
      const uint32_t h = q5_0_qh(word);
      std::memcpy(blk.qh, &h, 4);
    }
}

template <typename Block, bool kFive>
void ungroup_xk(const void* group, int64_t cols, void* rows) {
  const int64_t nb = cols / QK_K;
  auto* x = static_cast<Block*>(rows);
  const size_t block_bytes = kFive ? q5_Kx16_block_bytes() : q4_Kx16_block_bytes();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* o = static_cast<const uint8_t*>(group) + b * block_bytes;
    const auto* d = reinterpret_cast<const uint16_t*>(o);
    for (int r = 0; r < kGroupRows; ++r) {
      Block& blk = x[r * nb + b];
      if constexpr (kFive)
        for (int k = 0; k < 8; ++k) std::memcpy(blk.qh + 4 * k, o + q5_Kx16_high_offset() + k * 64 + r * 4, 4);
      blk.d = d[r];
      blk.dmin = d[16 + r];
      uint8_t sc[8], m[8];
      for (int j = 0; j < 8; ++j) sc[j] = o[64 + j * 16 + r], m[j] = o[192 + j * 16 + r];
      // GGUF's 12-byte packing of eight 6-bit scales and mins (scale_min_k4's inverse).
      for (int j = 0; j < 4; ++j) {
        blk.scales[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
        blk.scales[j + 4] = static_cast<uint8_t>(m[j] | ((m[j + 4] >> 4) << 6));
        blk.scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4));
      }
      for (int c = 0; c < 4; ++c)
        for (int k = 0; k < 8; ++k) std::memcpy(blk.qs + 32 * c + 4 * k, o + 320 + (c * 8 + k) * 64 + r * 4, 4);
    }
  }
}

void ungroup_q6_Kx16(const void* group, int64_t cols, void* rows) {
  const int64_t nb = cols / QK_K;
  auto* x = static_cast<block_q6_K*>(rows);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* o = static_cast<const uint8_t*>(group) + b * q6_Kx16_block_bytes();
    for (int r = 0; r < kGroupRows; ++r) {
      block_q6_K& blk = x[r * nb + b];
      std::memset(&blk, 0, sizeof blk);
      std::memcpy(&blk.d, o + 2 * r, 2);
      for (int j = 0; j < 16; ++j) blk.scales[j] = static_cast<int8_t>(o[64 + j * 16 + r]);
      for (int e = 0; e < QK_K; ++e) {  // repack_q6_Kx16's inverse
        const int q = q6_get(o, e / 16, (e % 16) / 4, r, e % 4);
        const Q6Place s = q6_row_place(e);
        blk.ql[s.low] = static_cast<uint8_t>(blk.ql[s.low] | (q & 15) << s.low_shift);
        blk.qh[s.high] = static_cast<uint8_t>(blk.qh[s.high] | (q >> 4) << s.high_shift);
      }
    }
  }
}

void ungroup_q2_Kx16(const void* group, int64_t cols, void* rows) {
  const int64_t nb = cols / QK_K;
  auto* x = static_cast<block_q2_K*>(rows);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* o = static_cast<const uint8_t*>(group) + b * q2_Kx16_block_bytes();
    for (int r = 0; r < kGroupRows; ++r) {
      block_q2_K& blk = x[r * nb + b];
      std::memcpy(&blk.d, o + 2 * r, 2);
      std::memcpy(&blk.dmin, o + 32 + 2 * r, 2);
      for (int g = 0; g < 16; ++g) blk.scales[g] = o[64 + g * 16 + r];
      for (int h = 0; h < 2; ++h)
        for (int k = 0; k < 8; ++k) std::memcpy(blk.qs + 32 * h + 4 * k, o + q2_Kx16_quants_offset() + (h * 8 + k) * 64 + r * 4, 4);
    }
  }
}

void ungroup_q3_Kx16(const void* group, int64_t cols, void* rows) {
  const int64_t nb = cols / QK_K;
  auto* x = static_cast<block_q3_K*>(rows);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* o = static_cast<const uint8_t*>(group) + b * q3_Kx16_block_bytes();
    for (int r = 0; r < kGroupRows; ++r) {
      block_q3_K& blk = x[r * nb + b];
      std::memcpy(&blk.d, o + 2 * r, 2);
      std::memset(blk.scales, 0, sizeof blk.scales);
      for (int g = 0; g < 16; ++g) {  // q3_K_scale's inverse
        const int v = static_cast<int8_t>(o[64 + g * 16 + r]) + 32;
        if (g < 8) blk.scales[g] = static_cast<uint8_t>(blk.scales[g] | (v & 0x0F));
        else blk.scales[g - 8] = static_cast<uint8_t>(blk.scales[g - 8] | (v & 0x0F) << 4);
        blk.scales[8 + g % 4] = static_cast<uint8_t>(blk.scales[8 + g % 4] | (v >> 4) << (2 * (g / 4)));
      }
      for (int h = 0; h < 2; ++h)
        for (int k = 0; k < 8; ++k) std::memcpy(blk.qs + 32 * h + 4 * k, o + q3_Kx16_quants_offset() + (h * 8 + k) * 64 + r * 4, 4);
      for (int k = 0; k < 8; ++k) std::memcpy(blk.hmask + 4 * k, o + q3_Kx16_high_offset() + k * 64 + r * 4, 4);
    }
  }
}

void ungroup_iq4_xsx16(const void* group, int64_t cols, void* rows) {
  const int64_t nb = cols / QK_K;
  auto* x = static_cast<block_iq4_xs*>(rows);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* o = static_cast<const uint8_t*>(group) + b * iq4_xsx16_block_bytes();
    for (int r = 0; r < kGroupRows; ++r) {
      block_iq4_xs& blk = x[r * nb + b];
      std::memcpy(&blk.d, o + 2 * r, 2);
      blk.scales_h = 0;
      std::memset(blk.scales_l, 0, sizeof blk.scales_l);
      for (int ib = 0; ib < 8; ++ib) {
        const int ls = static_cast<int8_t>(o[64 + ib * 16 + r]) + 32;  // iq4_xs_scale's inverse
        blk.scales_l[ib / 2] = static_cast<uint8_t>(blk.scales_l[ib / 2] | (ls & 15) << (4 * (ib % 2)));
        blk.scales_h = static_cast<uint16_t>(blk.scales_h | (ls >> 4) << (2 * ib));
        for (int k = 0; k < 4; ++k)
          std::memcpy(blk.qs + 16 * ib + 4 * k, o + iq4_xsx16_quants_offset() + (ib * 4 + k) * 64 + r * 4, 4);
      }
    }
  }
}

void ungroup_f16x16(const void* group, int64_t cols, void* rows) {
  const auto* g = static_cast<const uint16_t*>(group);
  auto* x = static_cast<uint16_t*>(rows);
  for (int r = 0; r < kGroupRows; ++r)
    for (int64_t c = 0; c < cols; ++c) x[r * cols + c] = g[c * kGroupRows + r];
}

struct X16Layout {
  void (*regroup)(const void*, int64_t, void*);
  void (*ungroup)(const void*, int64_t, void*);
  size_t (*group_bytes)(int64_t);
  int64_t col_multiple;
};

const X16Layout* x16_layout(DType type) {
  static const X16Layout q4_0{repack_q4_0x16, ungroup_x_0<block_q4_0, false>, q4_0x16_group_bytes, 64};
  static const X16Layout q8_0{repack_q8_0x16, ungroup_x_0<block_q8_0, true>, q8_0x16_group_bytes, 64};
  static const X16Layout q5_0{repack_q5_0x16, ungroup_q5_0x16, q5_0x16_group_bytes, 64};
  static const X16Layout q4_K{repack_q4_Kx16, ungroup_xk<block_q4_K, false>, q4_Kx16_group_bytes, 256};
  static const X16Layout q5_K{repack_q5_Kx16, ungroup_xk<block_q5_K, true>, q5_Kx16_group_bytes, 256};
  static const X16Layout q6_K{repack_q6_Kx16, ungroup_q6_Kx16, q6_Kx16_group_bytes, 256};
  static const X16Layout q2_K{repack_q2_Kx16, ungroup_q2_Kx16, q2_Kx16_group_bytes, 256};
  static const X16Layout q3_K{repack_q3_Kx16, ungroup_q3_Kx16, q3_Kx16_group_bytes, 256};
  static const X16Layout iq4_xs{repack_iq4_xsx16, ungroup_iq4_xsx16, iq4_xsx16_group_bytes, 256};
  static const X16Layout f16{repack_f16x16, ungroup_f16x16, f16x16_group_bytes, 64};
  // bf16x16 is f16x16's column order: the same moves of 16-bit values.
  static const X16Layout bf16{repack_f16x16, ungroup_f16x16, f16x16_group_bytes, 64};
  static const X16Layout q4_1{repack_q4_1x16, ungroup_x_1<block_q4_1, false>, q4_1x16_group_bytes, 64};
  static const X16Layout q5_1{repack_q5_1x16, ungroup_x_1<block_q5_1, true>, q5_1x16_group_bytes, 64};
  static const X16Layout iq4_nl{repack_iq4_nlx16, ungroup_x_0<block_iq4_nl, false>, q4_0x16_group_bytes, 64};
  switch (type) {
    case DType::Q4_0: return &q4_0;
    case DType::Q8_0: return &q8_0;
    case DType::Q5_0: return &q5_0;
    case DType::Q4_K: return &q4_K;
    case DType::Q5_K: return &q5_K;
    case DType::Q6_K: return &q6_K;
    case DType::Q2_K: return &q2_K;
    case DType::Q3_K: return &q3_K;
    case DType::IQ4_XS: return &iq4_xs;
    case DType::F16: return &f16;
    case DType::BF16: return &bf16;
    case DType::Q4_1: return &q4_1;
    case DType::Q5_1: return &q5_1;
    case DType::IQ4_NL: return &iq4_nl;
    default: return nullptr;
  }
}
}  // namespace

bool x16_stored(DType type, int64_t rows, int64_t cols) {
  const X16Layout* l = x16_layout(type);
  return l && rows > 0 && rows % kGroupRows == 0 && cols > 0 && cols % l->col_multiple == 0;
}

size_t x16_tensor_bytes(DType type, int64_t rows, int64_t cols) {
  return static_cast<size_t>(rows / kGroupRows) * x16_layout(type)->group_bytes(cols);
}

void rows_to_x16(DType type, const void* rows, int64_t n_rows, int64_t cols, void* groups) {
  const X16Layout& l = *x16_layout(type);
  const size_t row_bytes = dtype_row_bytes(type, cols), group_bytes = l.group_bytes(cols);
  for (int64_t g = 0; g < n_rows / kGroupRows; ++g)
    l.regroup(static_cast<const uint8_t*>(rows) + g * kGroupRows * row_bytes, cols, static_cast<uint8_t*>(groups) + g * group_bytes);
}

void x16_to_rows(DType type, const void* groups, int64_t n_rows, int64_t cols, void* rows) {
  const X16Layout& l = *x16_layout(type);
  const size_t row_bytes = dtype_row_bytes(type, cols), group_bytes = l.group_bytes(cols);
  for (int64_t g = 0; g < n_rows / kGroupRows; ++g)
    l.ungroup(static_cast<const uint8_t*>(groups) + g * group_bytes, cols, static_cast<uint8_t*>(rows) + g * kGroupRows * row_bytes);
}

}  // namespace edgerun
