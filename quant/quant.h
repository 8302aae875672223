// Scalar reference implementations of every block format: quantize,
// dequantize, and the dot product of a weight row with an activation row
// quantized to 8 bits. Every SIMD or GPU kernel is tested against these.
#pragma once

#include <cstdint>

#include "types.h"

namespace edgerun {

struct QuantOps {
  // The type activations are quantized to before a dot product with this
  // weight type (as llama.cpp does): Q8_0, Q8_1 or Q8_K; F32 for float types.
  DType vec_dot_type = DType::F32;
  void (*dequantize)(const void* src, float* dst, int64_t n) = nullptr;
  // Reference quantizer; nullptr where this build has none.
  void (*quantize)(const float* src, void* dst, int64_t n) = nullptr;
  // How activations are quantized to this type at run time (may round ties
  // differently from `quantize`, which must match GGUF's reference quantizer).
  void (*quantize_activation)(const float* src, void* dst, int64_t n) = nullptr;
  // Dot product of n weights with n activations stored as vec_dot_type.
  float (*vec_dot)(const void* w, const void* act, int64_t n) = nullptr;
};

// Ops for a type; vec_dot is null for types that cannot be weights.
const QuantOps& quant_ops(DType t);
bool is_quantized(DType t);

}  // namespace edgerun
