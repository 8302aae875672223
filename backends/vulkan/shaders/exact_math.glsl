// quant/exact_math.h in GLSL: the same operations in the same order, so
// that the shaders give the cpu's bits (docs/NUMERICS.md). Every result that
// must match is `precise` (SPIR-V NoContraction), or a driver may fuse a
// multiply and an add into one rounding where the cpu rounds twice.
// Vulkan rounds +, - and * correctly but lets / be 2.5 ulp off and sqrt 3,
// and its fma need not be fused; so division and square root are done here
// on the significands in integers, correctly rounded (ties to even), as IEEE
// has them on the cpu. Zeros, subnormals, infinities and NaNs (which these
// shaders do not meet in practice) take the device's own / and sqrt.

float div_rn(float a, float b) {
  const uint ua = floatBitsToUint(a), ub = floatBitsToUint(b);
  const uint ea = (ua >> 23) & 255u, eb = (ub >> 23) & 255u;
  if (ea == 0u || eb == 0u || ea == 255u || eb == 255u) return a / b;
  uint ma = (ua & 0x7fffffu) | 0x800000u;
  const uint mb = (ub & 0x7fffffu) | 0x800000u;
  int e = int(ea) - int(eb) + 127;
  if (ma < mb) {  // so that ma / mb is in [1, 2)
    ma <<= 1;
    --e;
  }
  uint q = 0u, r = ma;  // 24 quotient bits, long division
  for (int i = 0; i < 24; ++i) {
    q <<= 1;
    if (r >= mb) {
      r -= mb;
      q |= 1u;
    }
    r <<= 1;
  }
  if (r > mb || (r == mb && (q & 1u) != 0u)) ++q;  // r is twice the remainder
  if (q == 0x1000000u) {
    q >>= 1;
    ++e;
  }
  if (e <= 0 || e >= 255) return a / b;
  return uintBitsToFloat(((ua ^ ub) & 0x80000000u) | (uint(e) << 23) | (q & 0x7fffffu));
}

float sqrt_rn(float x) {
  const uint ux = floatBitsToUint(x), ex = (ux >> 23) & 255u;
  if (ex == 0u || ex == 255u || (ux >> 31) != 0u) return sqrt(x);
  // x = m 2^(ex - 150), m in [2^23, 2^24); with m 2^s (s = 23 or 24 so that
  // ex - 150 - s is even), the root's 24 bits are floor(sqrt(m 2^s)).
  const uint m = (ux & 0x7fffffu) | 0x800000u;
  const uint s = (ex & 1u) != 0u ? 23u : 24u;  // ex - 150 - s even
  // The radicand m 2^s, 48 bits, as hi (bits 32..47) and lo.
  const uint hi = m >> (32u - s), lo = m << s;
  uint root = 0u, rem = 0u;
  for (int i = 23; i >= 0; --i) {  // two radicand bits a step, from the top
    const uint bit = uint(2 * i);
    const uint two = bit >= 32u ? (hi >> (bit - 32u)) & 3u : (lo >> bit) & 3u;
    rem = (rem << 2) | two;
    const uint trial = (root << 2) | 1u;
    root <<= 1;
    if (rem >= trial) {
      rem -= trial;
      root |= 1u;
    }
  }
  if (rem > root) ++root;  // (root + 1/2)^2 <= radicand: no exact halves for a square root
  const int e = (int(ex) - 150 - int(s)) / 2 + 150;  // root's exponent field for 24 significant bits
  return uintBitsToFloat((uint(e) << 23) + (root - 0x800000u));
}

// Lanes of a 16-lane sum (exact_math.h: element i in lane i % 16, in order),
// added pairwise: (j, j + 8), (j, j + 4), (j, j + 2), (j, j + 1).
float sum_lanes16(float l[16]) {
  precise float v[16] = l;
  [[unroll]] for (uint w = 8; w > 0; w >>= 1)
    [[unroll]] for (uint j = 0; j < w; ++j) v[j] = v[j] + v[j + w];
  return v[0];
}

// The 16-lane sum of a workgroup: invocations 0..15 pass their lanes (the
// others' values are not read), every invocation gets the pairwise total.
// Every invocation must call it.
shared float lanes16_[16];
float wg_sum_lanes16(float lane) {
  if (gl_LocalInvocationID.x < 16) lanes16_[gl_LocalInvocationID.x] = lane;
  barrier();
  float l[16];
  for (uint j = 0; j < 16; ++j) l[j] = lanes16_[j];
  const float total = sum_lanes16(l);
  barrier();
  return total;
}

float exact_exp(float x) {
  if (x < -87.0) return 0.0;
  if (x > 88.0) return uintBitsToFloat(0x7f800000u);
  precise float k = floor(x * 1.44269502 + 0.5);
  precise float r = (x - k * 0.693359375) - k * -2.12194440e-4;
  precise float p = 1.98412698e-4;
  p = p * r + 1.38888889e-3;
  p = p * r + 8.33333333e-3;
  p = p * r + 4.16666667e-2;
  p = p * r + 1.66666667e-1;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  precise float res = p * uintBitsToFloat(uint(int(k) + 127) << 23);
  return res;
}

float exact_silu(float x) {
  if (x < -87.0) return 0.0;
  precise float d = 1.0 + exact_exp(-x);
  return div_rn(x, d);
}

// float -> IEEE half, round to nearest even (quant/fp16.h), from the bits:
// packHalf2x16's rounding is not specified.
uint f32_to_f16(float f) {
  const uint x = floatBitsToUint(f), sign = (x >> 16) & 0x8000u, a = x & 0x7fffffffu;
  if (a >= 0x7f800000u) return sign | 0x7c00u | (a > 0x7f800000u ? 0x200u : 0u);
  if (a >= 0x477ff000u) return sign | 0x7c00u;
  if (a < 0x38800000u) {  // a half subnormal, or zero
    if (a < 0x33000000u) return sign;
    const uint e = a >> 23, m = (a & 0x7fffffu) | 0x800000u, shift = 126u - e;
    uint r = m >> shift;
    const uint rem = m & ((1u << shift) - 1u), halfway = 1u << (shift - 1u);
    if (rem > halfway || (rem == halfway && (r & 1u) != 0u)) ++r;
    return sign | r;
  }
  uint h = ((a >> 13) - (112u << 10));
  const uint rem = a & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u) != 0u)) ++h;
  return sign | h;
}
uint pack_f16x2(float lo, float hi) { return f32_to_f16(lo) | (f32_to_f16(hi) << 16); }
