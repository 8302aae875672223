// Weight layouts the cpu kernels read better than GGUF's row-after-row blocks.
//
// q4_0x16: q4_0 rows regrouped 16 at a time, so that one 512-bit VNNI
// instruction multiplies four quants of 16 rows at once (32-bit lane r holds
// row r's bytes) against four activation bytes broadcast to every lane; the
// per-row work of a block (scale, offset) is then done for 16 rows in one
// vector op instead of per row. Same size as the rows it holds. One group:
//   [nb x 16 f16 scales: block b's scales of rows 0..15]
//   [nb x 256 bytes: block b as 4 vectors; vector k, lane r = row r's qs[4k..4k+3]]
// (nb = cols / 32; nibble i of a q4_0 block is element i, its high half element i + 16.)
//
// q8_0x16: the same for q8_0: per block 8 vectors; vector k, lane r = row r's
// qs[4k..4k+3], each stored as the unsigned byte q + 128.
#pragma once

#include <cstddef>
#include <cstdint>

#include "types.h"

namespace edgerun {

// How a tensor's bytes are laid out (the `layout` field of an .erm tensor,
// docs/FORMAT.md).
enum : int {
  kLayoutRows = 0,  // rows of blocks, as GGUF stores them
  kLayoutX16 = 1,   // whole tensor as consecutive 16-row groups of the type's xN16 layout below
};

// Whether .erm files store `type` in kLayoutX16 for a [rows, cols] matrix:
// q4_0, q4_1, q5_0, q5_1, q8_0, q2_K, q3_K, q4_K, q5_K, q6_K, iq4_nl, iq4_xs,
// f16 and bf16, whose groups take about the rows' size (q3_K: 5.5 % more, q4_K and iq4_xs 3 %, q5_K 2 %, q6_K
// 1 %), when rows % 16 == 0 and cols % 64 == 0 (K-quants and iq4_xs: % 256).
bool x16_stored(DType type, int64_t rows, int64_t cols);
// Bytes of a [rows, cols] tensor in kLayoutX16 (when x16_stored or regrouped at load).
size_t x16_tensor_bytes(DType type, int64_t rows, int64_t cols);
// Whole-tensor conversions between the two layouts (exact, each the other's inverse).
void rows_to_x16(DType type, const void* rows, int64_t n_rows, int64_t cols, void* groups);
void x16_to_rows(DType type, const void* groups, int64_t n_rows, int64_t cols, void* rows);

constexpr int kGroupRows = 16;

inline size_t q4_0x16_group_bytes(int64_t cols) { return static_cast<size_t>(cols / 32) * (32 + 256); }

// Regroups 16 consecutive q4_0 rows (cols values each, cols % 32 == 0).
void repack_q4_0x16(const void* rows, int64_t cols, void* group);

inline size_t q8_0x16_group_bytes(int64_t cols) { return static_cast<size_t>(cols / 32) * (32 + 512); }
void repack_q8_0x16(const void* rows, int64_t cols, void* group);
void dot_q8_0x16_ref(const void* group, const void* act, int64_t cols, float* out);

// q5_0x16: q4_0x16's scales and nibble vectors with, after each block's 256
// bytes, 64 bytes of fifth bits: lane r = a 32-bit word of row r whose byte i,
// bit j is the fifth bit of element 4j + i, the one byte i of lane r holds in
// nibble vector j (j < 4: low nibbles) or j - 4 (high ones); shifted to bit 4,
// it is ORed into the nibble. Same size as the rows it holds.
//   [nb x 16 f16 scales][nb x (256 bytes as q4_0x16's + 64 bytes of fifth bits)]
inline size_t q5_0x16_group_bytes(int64_t cols) { return static_cast<size_t>(cols / 32) * (32 + 320); }
void repack_q5_0x16(const void* rows, int64_t cols, void* group);
// With split q8_0 activations, like dot_q4_0x16_ref.
void dot_q5_0x16_ref(const void* group, const void* act, int64_t cols, float* out);

// q4_Kx16: per 256-weight super-block of the 16 rows: their d and dmin (f16),
// the 8 sub-block scales and mins decoded from 6 bits ([j][row], bytes), then
// per 64-weight chunk c 8 vectors: vector k, lane r = row r's qs[32c + 4k..+3]
// (low nibbles: sub-block 2c, high: sub-block 2c + 1). Activations: q8_K blocks.
constexpr size_t q4_Kx16_block_bytes() { return 64 + 128 + 128 + 2048; }
inline size_t q4_Kx16_group_bytes(int64_t cols) { return static_cast<size_t>(cols / 256) * q4_Kx16_block_bytes(); }
void repack_q4_Kx16(const void* rows, int64_t cols, void* group);
void dot_q4_Kx16_ref(const void* group, const void* act, int64_t cols, float* out);

// q5_Kx16: q4_Kx16's super-block followed by 512 bytes of fifth bits, 8
// vectors: vector k, lane r = row r's qh[4k..4k+3], so that bit j of byte i is
// the fifth bit of sub-block j's nibble in byte i of lane r of its chunk's
// vector k (2 % larger than the rows). Activations: q8_K blocks.
constexpr size_t q5_Kx16_high_offset() { return q4_Kx16_block_bytes(); }
constexpr size_t q5_Kx16_block_bytes() { return q4_Kx16_block_bytes() + 512; }
inline size_t q5_Kx16_group_bytes(int64_t cols) { return static_cast<size_t>(cols / 256) * q5_Kx16_block_bytes(); }
void repack_q5_Kx16(const void* rows, int64_t cols, void* group);
void dot_q5_Kx16_ref(const void* group, const void* act, int64_t cols, float* out);

// q2_Kx16: per super-block of the 16 rows: their d and dmin (f16), the 16
// scale bytes of 16 weights as GGUF packs them (scale in the low nibble, min
// in the high one; [g][row]), then the 2-bit quants as q3_Kx16's: half h,
// vector k, lane r = row r's qs[32 h + 4k..+3]. The rows' size exactly.
// Activations: q8_K blocks.
constexpr size_t q2_Kx16_quants_offset() { return 64 + 256; }
constexpr size_t q2_Kx16_block_bytes() { return q2_Kx16_quants_offset() + 1024; }
inline size_t q2_Kx16_group_bytes(int64_t cols) { return static_cast<size_t>(cols / 256) * q2_Kx16_block_bytes(); }
void repack_q2_Kx16(const void* rows, int64_t cols, void* group);
void dot_q2_Kx16_ref(const void* group, const void* act, int64_t cols, float* out);

// q3_Kx16: per super-block of the 16 rows: their d (f16), 32 pad bytes, the
// 16 scales of 16 weights (sc - 32, int8, [g][row]), then the 2-bit quants:
// half h, vector k, lane r = row r's qs[32 h + 4k..+3] (bits 2s.. of byte i:
// element 128 h + 32 s + 4k + i), then the high bits: vector k, lane r = row
// r's hmask[4k..+3] (bit 4h + s of byte i: the same element's). 5.5 % larger
// than the rows. Activations: q8_K blocks.
constexpr size_t q3_Kx16_quants_offset() { return 64 + 256; }
constexpr size_t q3_Kx16_high_offset() { return q3_Kx16_quants_offset() + 1024; }
constexpr size_t q3_Kx16_block_bytes() { return q3_Kx16_high_offset() + 512; }
inline size_t q3_Kx16_group_bytes(int64_t cols) { return static_cast<size_t>(cols / 256) * q3_Kx16_block_bytes(); }
void repack_q3_Kx16(const void* rows, int64_t cols, void* group);
void dot_q3_Kx16_ref(const void* group, const void* act, int64_t cols, float* out);

// iq4_xsx16: per super-block of the 16 rows: their d (f16), 32 pad bytes,
// the 8 sub-block scales (ls - 32, int8, [ib][row]), then per 32-weight
// sub-block ib q4_0x16's 4 vectors of codebook indices: vector k, lane r =
// row r's qs[16 ib + 4k..+3] (low nibbles: elements 4k.., high: 16 + 4k..).
// 3 % larger than the rows. Activations: q8_K blocks.
constexpr size_t iq4_xsx16_quants_offset() { return 64 + 128; }
constexpr size_t iq4_xsx16_block_bytes() { return iq4_xsx16_quants_offset() + 2048; }
inline size_t iq4_xsx16_group_bytes(int64_t cols) { return static_cast<size_t>(cols / 256) * iq4_xsx16_block_bytes(); }
void repack_iq4_xsx16(const void* rows, int64_t cols, void* group);
void dot_iq4_xsx16_ref(const void* group, const void* act, int64_t cols, float* out);

// q6_Kx16: per super-block of the 16 rows: their d (f16), 32 pad bytes, the 16
// sub-block scales ([j][row], int8), then the 6-bit quants (0..63, i.e. q + 32)
// of 16-weight sub-block j, as vectors k = 0..3 whose lane r holds row r's
// quants 16j + 4k..+3, split in two planes: low 4 bits, sub-blocks 2p and
// 2p + 1 in the low and high nibbles of pair p's 4 vectors; high 2 bits,
// sub-blocks 4u..4u + 3 at bits 0-1, 2-3, 4-5, 6-7 of quad u's 4 vectors.
// 1 % larger than the rows. Activations: q8_K blocks.
constexpr size_t q6_Kx16_low_offset() { return 64 + 256; }
constexpr size_t q6_Kx16_high_offset() { return q6_Kx16_low_offset() + 2048; }
constexpr size_t q6_Kx16_block_bytes() { return q6_Kx16_high_offset() + 1024; }
inline size_t q6_Kx16_group_bytes(int64_t cols) { return static_cast<size_t>(cols / 256) * q6_Kx16_block_bytes(); }
void repack_q6_Kx16(const void* rows, int64_t cols, void* group);
void dot_q6_Kx16_ref(const void* group, const void* act, int64_t cols, float* out);

// f16x16: column by column, the 16 rows' f16 values (32 bytes): one vector
// conversion and one FMA per column and token. Activations: f32.
inline size_t f16x16_group_bytes(int64_t cols) { return static_cast<size_t>(cols) * 32; }
void repack_f16x16(const void* rows, int64_t cols, void* group);
void dot_f16x16_ref(const void* group, const void* act, int64_t cols, float* out);

// q4_1x16 / q5_1x16: q4_0x16's / q5_0x16's group with the rows' mins after
// their scales: [nb x 16 f16 d][nb x 16 f16 m][nb x 256 bytes as q4_0x16's
// (q5_1: 320 as q5_0x16's)]. Same size as the rows. Activations: q8_1 blocks.
inline size_t q4_1x16_group_bytes(int64_t cols) { return static_cast<size_t>(cols / 32) * (64 + 256); }
inline size_t q5_1x16_group_bytes(int64_t cols) { return static_cast<size_t>(cols / 32) * (64 + 320); }
void repack_q4_1x16(const void* rows, int64_t cols, void* group);
void repack_q5_1x16(const void* rows, int64_t cols, void* group);
void dot_q4_1x16_ref(const void* group, const void* act, int64_t cols, float* out);
void dot_q5_1x16_ref(const void* group, const void* act, int64_t cols, float* out);

// iq4_nlx16: q4_0x16's layout, the nibbles being indices into kIQ4Values.
// Activations: split q8_0, like q4_0x16.
void repack_iq4_nlx16(const void* rows, int64_t cols, void* group);
void dot_iq4_nlx16_ref(const void* group, const void* act, int64_t cols, float* out);

// bf16x16: f16x16's layout of bf16 values. Activations: f32.
void dot_bf16x16_ref(const void* group, const void* act, int64_t cols, float* out);

// The scalar reference of a group's dot products with split q8_0 activations
// (cpu/kernels.h): out[r] for the group's 16 rows. Kernels are tested against it.
void dot_q4_0x16_ref(const void* group, const void* act, int64_t cols, float* out);

}  // namespace edgerun
