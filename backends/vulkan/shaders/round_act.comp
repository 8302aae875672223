#version 450
// Rounds activations to 8 bits and back, block by block, exactly as the cpu
// quantizes them before an int8 dot product (quant/ref_*.cpp): Q8_0 blocks of
// 32 (scale amax/127 stored as f16, ties to even) or, with Q8_K, blocks of 256
// (scale from the signed largest value, kept in f32). Matrix products with
// quantized weights then give the cpu's (and llama.cpp's) numbers.
// One workgroup per block.
#include "common.glsl"
layout(binding = 0) readonly buffer In { float x[]; };
layout(binding = 1) writeonly buffer Out { float y[]; };
// u0 number of blocks
#ifdef Q8_K
#define BLOCK 256
#else
#define BLOCK 32
#endif
#define PER_THREAD ((BLOCK + WG - 1) / WG)

// a / b correctly rounded, as on the cpu: Vulkan lets a division be off by
// 2.5 ulp, and one ulp in the scale can move an 8-bit rounding.
float div_rn(float a, float b) {
  const float q = a / b;
  return fma(fma(-q, b, a), 1.0 / b, q);
}

void main() {
  const uint b = group_row(), lid = gl_LocalInvocationID.x;
  if (b >= pc.u0) return;  // uniform over the workgroup
  const uint xo = pc.o0 + b * BLOCK, yo = pc.o1 + b * BLOCK;
  float v[PER_THREAD];
  float amax = 0.0;
  [[unroll]] for (uint k = 0; k < PER_THREAD; ++k) {
    const uint i = lid + k * WG;
    v[k] = i < BLOCK ? x[xo + i] : 0.0;
    amax = max(amax, abs(v[k]));
  }
  amax = wg_max(amax);
#ifdef Q8_K
  // The cpu takes the first value of largest magnitude, with its sign.
  float first = -1e9;
  [[unroll]] for (uint k = 0; k < PER_THREAD; ++k) {
    const uint i = lid + k * WG;
    if (i < BLOCK && abs(v[k]) == amax) first = max(first, -float(i));
  }
  first = wg_max(first);
  if (amax == 0.0) {
    [[unroll]] for (uint k = 0; k < PER_THREAD; ++k)
      if (lid + k * WG < BLOCK) y[yo + lid + k * WG] = 0.0;
    return;
  }
  const float iscale = div_rn(-127.0, x[xo + uint(-first)]), d = div_rn(1.0, iscale);
  [[unroll]] for (uint k = 0; k < PER_THREAD; ++k)
    if (lid + k * WG < BLOCK) y[yo + lid + k * WG] = min(127.0, roundEven(iscale * v[k])) * d;
#else
  const float id = amax != 0.0 ? div_rn(127.0, amax) : 0.0;
  const float d = unpackHalf2x16(packHalf2x16(vec2(div_rn(amax, 127.0), 0.0))).x;
  [[unroll]] for (uint k = 0; k < PER_THREAD; ++k)
    if (lid + k * WG < BLOCK) y[yo + lid + k * WG] = roundEven(v[k] * id) * d;
#endif
}
