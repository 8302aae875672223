// Tensor element types. The numeric ids are GGUF's (ggml_type), so a type read
// from a GGUF file needs no translation, and the .erm format reuses them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace edgerun {

enum class DType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15, IQ4_NL = 20, IQ4_XS = 23,
  I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, BF16 = 30,
};

struct DTypeTraits {
  const char* name;
  int block_size;     // elements per block (1 for plain types)
  size_t block_bytes; // bytes per block
  bool known;         // false for ids this build cannot interpret
};

const DTypeTraits& dtype_traits(DType t);
// Looks a type up by its raw id; known == false when the id is unknown.
const DTypeTraits& dtype_traits(uint32_t raw_id);
inline const char* dtype_name(DType t) { return dtype_traits(t).name; }

// Why a tensor of raw type id `raw_id` (known == false) cannot be loaded:
// "has type iq2_xxs (GGUF type 16), which edgerun does not run (it runs ...)"
// for GGUF's other types, "has unknown tensor type id N" for ids GGUF lacks.
std::string unsupported_type_reason(uint32_t raw_id);

// Bytes taken by `n` elements of `t`; n must be a multiple of the block size.
size_t dtype_row_bytes(DType t, int64_t n);

// Parses "f32", "q4_k" ... (case-insensitive). Returns false if unknown.
bool dtype_from_name(const std::string& name, DType* out);

// Scalar reference: converts one row of n elements to float.
// Throws Error for types without a dequantizer in this build.
void dequantize_row(DType t, const void* src, float* dst, int64_t n);

}  // namespace edgerun
