#version 450
// Rounds activations to 8 bits and back, block by block, exactly as the cpu
// quantizes them before an int8 dot product (quant/ref_*.cpp): Q8_0 blocks of
// 32 (scale amax/127 stored as f16, ties to even) or, with Q8_K, blocks of 256
// (scale from the signed largest value, kept in f32). Matrix products with
// quantized weights then give the cpu's (and llama.cpp's) numbers.
#include "common.glsl"
layout(binding = 0) readonly buffer In { float x[]; };
layout(binding = 1) writeonly buffer Out { float y[]; };
// u0 number of blocks

// a / b correctly rounded, as on the cpu: Vulkan lets a division be off by
// 2.5 ulp, and one ulp in the scale can move an 8-bit rounding.
float div_rn(float a, float b) {
  const float q = a / b;
  return fma(fma(-q, b, a), 1.0 / b, q);
}
#ifdef Q8_K
#define BLOCK 256
#else
#define BLOCK 32
#endif

void main() {
  const uint b = flat_id();
  if (b >= pc.u0) return;
  const uint xo = pc.o0 + b * BLOCK, yo = pc.o1 + b * BLOCK;
  float amax = 0.0, signed_max = 0.0;
  for (uint i = 0; i < BLOCK; ++i) {
    const float v = x[xo + i];
    if (abs(v) > amax) {
      amax = abs(v);
      signed_max = v;
    }
  }
#ifdef Q8_K
  if (amax == 0.0) {
    for (uint i = 0; i < BLOCK; ++i) y[yo + i] = 0.0;
    return;
  }
  const float iscale = div_rn(-127.0, signed_max), d = div_rn(1.0, iscale);
  for (uint i = 0; i < BLOCK; ++i) y[yo + i] = min(127.0, roundEven(iscale * x[xo + i])) * d;
#else
  const float id = amax != 0.0 ? div_rn(127.0, amax) : 0.0;
  const float d = unpackHalf2x16(packHalf2x16(vec2(div_rn(amax, 127.0), 0.0))).x;
  for (uint i = 0; i < BLOCK; ++i) y[yo + i] = roundEven(x[xo + i] * id) * d;
#endif
}
