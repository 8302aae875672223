// The arithmetic every backend shares, so that a GPU computes the cpu's logits
// to the bit (docs/NUMERICS.md). A forward pass of a quantized model rounds
// its activations to 8 bits before every matrix product; a last-bit
// difference anywhere upstream moves some of those roundings a whole step and
// the logits by 1e-2, enough to change the argmax where two are close. So
// the sums and functions below are defined down to their order of operations:
//   - only +, -, *, / and sqrt, each rounded to float (never fused: the build
//     has -ffp-contract=off, the shaders mark them `precise`), float <-> int
//     and f16 conversions, floor and exponent bits;
//   - sums over a vector in 16 lanes (element i in lane i % 16, in order),
//     then the lanes pairwise: (j, j + 8), (j, j + 4), (j, j + 2), (j, j + 1);
//   - exp as a fixed polynomial rather than the C library's or a GPU's
//     (neither is specified to the last bit).
// backends/vulkan/shaders/exact_math.glsl is the same in GLSL.
#pragma once

#include <cmath>
#include <cstdint>

#include "fp16.h"

namespace edgerun {

constexpr int kSumLanes = 16;

// lanes[0..15] -> their sum, pairwise.
inline float sum_lanes(float* lanes) {
  for (int w = kSumLanes / 2; w > 0; w /= 2)
    for (int j = 0; j < w; ++j) lanes[j] = lanes[j] + lanes[j + w];
  return lanes[0];
}

// sum over i of f(i), in the lane order above.
template <typename F>
float exact_sum(int64_t n, F f) {
  float lanes[kSumLanes] = {};
  int64_t i = 0;
  for (; i + kSumLanes <= n; i += kSumLanes)
    for (int j = 0; j < kSumLanes; ++j) lanes[j] = lanes[j] + f(i + j);
  for (int j = 0; i + j < n; ++j) lanes[j] = lanes[j] + f(i + j);
  return sum_lanes(lanes);
}

inline float exact_dot(const float* a, const float* b, int64_t n) {
  return exact_sum(n, [&](int64_t i) { return a[i] * b[i]; });
}

// e^x for x <= 88 (0 below -87): x = k ln2 + r, |r| <= ln2 / 2 (ln2 in two
// parts, the first exact in 10 bits), e^r by its Taylor series to r^7 (error
// < 1e-8, below a float's rounding), times 2^k built from exponent bits.
// The SIMD kernels (backends/cpu/kernels.cpp) use these constants too.
constexpr float kExpLog2e = 1.44269502f, kExpLn2Hi = 0.693359375f, kExpLn2Lo = -2.12194440e-4f;
constexpr float kExpTop = 1.98412698e-4f;  // 1/7!, then Horner's steps down to 1:
constexpr float kExpPoly[7] = {1.38888889e-3f, 8.33333333e-3f, 4.16666667e-2f, 1.66666667e-1f, 0.5f, 1.0f, 1.0f};

inline float exact_exp(float x) {
  if (x < -87.0f) return 0.0f;
  if (x > 88.0f) return INFINITY;
  const float k = std::floor(x * kExpLog2e + 0.5f);
  const float r = (x - k * kExpLn2Hi) - k * kExpLn2Lo;
  float p = kExpTop;
  for (const float c : kExpPoly) p = p * r + c;
  return p * bits_to_float(static_cast<uint32_t>(static_cast<int32_t>(k) + 127) << 23);
}

// x * sigmoid(x); 0 where e^-x would overflow.
inline float exact_silu(float x) { return x < -87.0f ? 0.0f : x / (1.0f + exact_exp(-x)); }

}  // namespace edgerun
