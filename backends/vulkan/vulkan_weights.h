// How weights are laid out in GPU memory. GGUF blocks of Q8_0, Q4_0, Q5_0,
// IQ4_NL, Q3_K and Q6_K are 34, 18, 22, 18, 110 and 210 bytes long; the
// shaders read 32-bit words only (no 8- or 16-bit storage feature needed), so
// such a block is padded to a whole number of words on upload, a leading f16
// scale in a word of its own (a trailing one gains 2 zero bytes). Q4_1, Q5_1,
// Q2_K, Q4_K, Q5_K and IQ4_XS blocks are whole words as they are. bf16 rows
// are widened to f32 on upload (f16 cannot hold bf16's range).
#pragma once

#include <cstddef>
#include <cstdint>

#include "types.h"

namespace edgerun::vk {

DType storage_type(DType t);
// Bytes of one stored row (a multiple of 4). Throws Error when cols does not
// fit the type's blocks (or is not a multiple of 4 for f32/f16).
size_t storage_row_bytes(DType storage, int64_t cols);
// Writes `rows` rows of `src` (type t, GGUF layout) in the storage layout of storage_type(t).
void repack_rows(DType t, const void* src, int64_t rows, int64_t cols, void* dst);
// The shader name suffix of a storage type: "f32", "q4_k", ...
const char* shader_suffix(DType storage);

}  // namespace edgerun::vk
