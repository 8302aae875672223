// Block layouts, bit-compatible with GGUF (ggml). Each block stores a run of
// weights of one row with its own scale(s); K-quants group 256 weights in a
// super-block with 6-bit (or 8-bit) sub-block scales.
#pragma once

#include <cstdint>

namespace edgerun {

constexpr int QK = 32;    // elements per block of the 32-element formats
constexpr int QK_K = 256; // elements per K-quant super-block

#pragma pack(push, 1)
struct block_q4_0 { uint16_t d; uint8_t qs[QK / 2]; };                 // x = (q - 8) * d
struct block_q4_1 { uint16_t d, m; uint8_t qs[QK / 2]; };              // x = q * d + m
struct block_q5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[QK / 2]; };  // x = (q - 16) * d, 5th bit in qh
struct block_q5_1 { uint16_t d, m; uint8_t qh[4]; uint8_t qs[QK / 2]; };
struct block_q8_0 { uint16_t d; int8_t qs[QK]; };                      // x = q * d
struct block_q8_1 { uint16_t d, s; int8_t qs[QK]; };                   // s = d * sum(q), for q4_1/q5_1 dots

struct block_q2_K { uint8_t scales[QK_K / 16]; uint8_t qs[QK_K / 4]; uint16_t d, dmin; };
struct block_q3_K { uint8_t hmask[QK_K / 8]; uint8_t qs[QK_K / 4]; uint8_t scales[12]; uint16_t d; };
struct block_q4_K { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[QK_K / 2]; };
struct block_q5_K { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; };
struct block_q6_K { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; uint16_t d; };
struct block_q8_K { float d; int8_t qs[QK_K]; int16_t bsums[QK_K / 16]; };  // activations of K-quant dots

// The IQ4 formats store 4-bit indices into one fixed non-uniform codebook
// (kIQ4Values): x = d * value[q]. iq4_xs adds a 6-bit scale per 32 weights,
// (ls - 32) * d, low 4 bits in scales_l, high 2 bits in scales_h.
struct block_iq4_nl { uint16_t d; uint8_t qs[QK / 2]; };
struct block_iq4_xs { uint16_t d; uint16_t scales_h; uint8_t scales_l[QK_K / 64]; uint8_t qs[QK_K / 2]; };
#pragma pack(pop)

static_assert(sizeof(block_q4_0) == 18 && sizeof(block_q4_1) == 20 && sizeof(block_q5_0) == 22 &&
              sizeof(block_q5_1) == 24 && sizeof(block_q8_0) == 34 && sizeof(block_q8_1) == 36, "block sizes");
static_assert(sizeof(block_q2_K) == 84 && sizeof(block_q3_K) == 110 && sizeof(block_q4_K) == 144 &&
              sizeof(block_q5_K) == 176 && sizeof(block_q6_K) == 210 && sizeof(block_q8_K) == 292, "K block sizes");
static_assert(sizeof(block_iq4_nl) == 18 && sizeof(block_iq4_xs) == 136, "IQ4 block sizes");

// GGUF's codebook of the IQ4 formats, sorted ascending.
constexpr int8_t kIQ4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// iq4_xs: the 6-bit scale of sub-block ib (0..7), offset by 32.
inline int iq4_xs_scale(const block_iq4_xs& b, int ib) {
  return (((b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0F) | (((b.scales_h >> (2 * ib)) & 3) << 4)) - 32;
}

}  // namespace edgerun
