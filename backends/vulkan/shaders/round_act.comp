#version 450
// Rounds activations to 8 bits block by block, exactly as the cpu quantizes
// them before an int8 dot product (quant/ref_*.cpp): Q8_0 blocks of 32 (scale
// amax/127 stored as f16, ties to even) or, with Q8_K, blocks of 256 (scale
// from the signed largest value, kept in f32). Out, with PACKED: all the
// quants, four to a word, then one float scale per block (qmatmul.comp reads
// them), and for Q8_1 (quant/ref_legacy.cpp quantize_q8_1, what q4_1 and
// q5_1 meet) then each block's f16 d x (sum of its quants); without: each
// value rounded, as a float. One workgroup per block, four values per invocation.
#include "common.glsl"
#include "exact_math.glsl"
layout(binding = 0) readonly buffer In { float x[]; };
#ifdef PACKED
layout(binding = 1) writeonly buffer Out { uint y[]; };
#else
layout(binding = 1) writeonly buffer Out { float y[]; };
#endif
// u0 number of blocks (where the scales start: u0 * BLOCK / 4 words)
#ifdef Q8_K
#define BLOCK 256
#else
#define BLOCK 32
#endif

void main() {
  const uint b = group_row(), lid = gl_LocalInvocationID.x;
  if (b >= pc.u0) return;  // uniform over the workgroup
  const bool mine = lid * 4 < BLOCK;
  const uint xo = pc.o0 + b * BLOCK + lid * 4;
  vec4 v = mine ? vec4(x[xo], x[xo + 1], x[xo + 2], x[xo + 3]) : vec4(0.0);
  const vec4 a = abs(v);
  const float amax = wg_max(max(max(a.x, a.y), max(a.z, a.w)));
  const uint qo = pc.o1 + b * (BLOCK / 4) + lid, so = pc.o1 + pc.u0 * (BLOCK / 4) + b;
#ifdef Q8_K
  // The cpu takes the first value of largest magnitude, with its sign.
  float first = -1e9;
  [[unroll]] for (uint k = 0; k < 4; ++k)
    if (mine && a[k] == amax) first = max(first, -float(lid * 4 + k));
  first = wg_max(first);
  float d = 0.0;
  ivec4 q = ivec4(0);
  if (amax != 0.0) {
    const float iscale = div_rn(-127.0, x[pc.o0 + b * BLOCK + uint(-first)]);
    precise vec4 s = iscale * v;
    q = ivec4(min(vec4(127.0), roundEven(s)));
    d = div_rn(1.0, iscale);
  }
#elif defined(Q8_1)
  // quantize_q8_1: scale d = amax / 127, values x (1 / d) rounded half away
  // from zero; the block's sum s = d * (sum of its quants), rounded to f16.
  const float d32 = div_rn(amax, 127.0), id = d32 != 0.0 ? div_rn(1.0, d32) : 0.0;
  precise vec4 s = v * id;
  const vec4 whole = trunc(s);
  const ivec4 q = ivec4(whole + mix(vec4(0.0), sign(s), greaterThanEqual(abs(s - whole), vec4(0.5))));
  const float qsum = wg_sum(mine ? float(q.x + q.y + q.z + q.w) : 0.0);
  precise float sd = qsum * d32;
  const float d = unpackHalf2x16(f32_to_f16(d32)).x, sum_d = unpackHalf2x16(f32_to_f16(sd)).x;
#else
  const float id = amax != 0.0 ? div_rn(127.0, amax) : 0.0;
  precise vec4 s = v * id;
  const ivec4 q = ivec4(roundEven(s));
  const float d = unpackHalf2x16(f32_to_f16(div_rn(amax, 127.0))).x;
#endif
#ifdef PACKED
  if (lid == 0) y[so] = floatBitsToUint(d);
#ifdef Q8_1
  if (lid == 0) y[so + pc.u0] = floatBitsToUint(sum_d);  // after every block's scale
#endif
  if (mine) y[qo] = uint(q.x & 255) | (uint(q.y & 255) << 8) | (uint(q.z & 255) << 16) | (uint(q.w & 255) << 24);
#else
  precise vec4 r = vec4(q) * d;
  if (mine) {
    const uint yo = pc.o1 + b * BLOCK + lid * 4;
    y[yo] = r.x; y[yo + 1] = r.y; y[yo + 2] = r.z; y[yo + 3] = r.w;
  }
#endif
}
