// Weight blocks as the GPU stores them (vulkan_weights.cpp repacks GGUF blocks
// so that every block starts on a 4-byte word and its f16 scale has a word of
// its own). The shaders read words only, so no 8- or 16-bit storage feature is
// needed. Each type defines:
//   QK  elements per block, BW  words per block, GS  elements per group (8, or 4 for f32/f16),
//   dequant8(block word, j, a, b): elements GS*j.. of the block, as floats (b unused when GS is 4);
// and ACT_Q8_1 where the activations are q8_1 blocks (their quant sums too: q4_1, q5_1).
// W must be declared by the includer as `uint W[]`.

vec4 s8x4(uint w) {  // four signed bytes
  return vec4(int(w << 24) >> 24, int(w << 16) >> 24, int(w << 8) >> 24, int(w) >> 24);
}
vec4 nib4(uint w) {  // the low nibbles of four bytes
  return vec4(w & 15u, (w >> 8) & 15u, (w >> 16) & 15u, (w >> 24) & 15u);
}
ivec4 iu8x4(uint w) {  // four unsigned bytes
  return ivec4(w & 255u, (w >> 8) & 255u, (w >> 16) & 255u, w >> 24);
}

// Byte i of the words from word w on.
uint byte_at(uint w, uint i) { return (W[w + (i >> 2)] >> ((i & 3u) * 8u)) & 255u; }

// q4_K and q5_K: the 6-bit scale and min of 32-element sub-block sb (0..7),
// from the 12 bytes at word b + 1.
uint q4k_byte(uint b, uint i) { return byte_at(b + 1, i); }
void q4k_scale_min(uint b, uint sb, out uint sc, out uint m) {
  if (sb < 4) {
    sc = q4k_byte(b, sb) & 63u;
    m = q4k_byte(b, sb + 4) & 63u;
  } else {
    sc = (q4k_byte(b, sb + 4) & 15u) | ((q4k_byte(b, sb - 4) >> 6) << 4);
    m = (q4k_byte(b, sb + 4) >> 4) | ((q4k_byte(b, sb) >> 6) << 4);
  }
}

// The IQ4 codebook (quant/blocks.h kIQ4Values).
const int kIQ4[16] = int[16](-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
ivec4 iq4x4(uint w) {  // the codebook entries of the low nibbles of four bytes
  return ivec4(kIQ4[w & 15u], kIQ4[(w >> 8) & 15u], kIQ4[(w >> 16) & 15u], kIQ4[(w >> 24) & 15u]);
}
// q5_0: bits 0..3 of h moved to bit 4 of bytes 0..3.
uint spread4(uint h) { return ((h & 1u) << 4) | ((h & 2u) << 11) | ((h & 4u) << 18) | ((h & 8u) << 25); }
// iq4_xs: the scale of 32-element sub-block ib (0..7), offset by 32.
int iq4xs_scale(uint b, uint ib) {
  const uint lo = (byte_at(b + 1, ib >> 1) >> (4u * (ib & 1u))) & 15u;
  const uint hi = ((W[b] >> 16) >> (2u * ib)) & 3u;
  return int(lo | (hi << 4)) - 32;
}
// q3_K: the 6-bit scale of 16-element group g (0..15), offset by 32, from the 12 bytes at word b + 24.
int q3k_scale(uint b, uint g) {
  const uint low = g < 8 ? byte_at(b + 24, g) & 15u : byte_at(b + 24, g - 8) >> 4;
  const uint high = (byte_at(b + 24, 8 + (g & 3u)) >> (2u * (g >> 2))) & 3u;
  return int(low | (high << 4)) - 32;
}

// Plain rows come in groups of 4 so that any width divisible by 4 works (stories260K's 172).
#if defined(TYPE_F32)
#define QK 4
#define BW 4
#define GS 4
void dequant8(uint b, uint j, out vec4 x, out vec4 y) {
  x = vec4(uintBitsToFloat(W[b]), uintBitsToFloat(W[b + 1]), uintBitsToFloat(W[b + 2]), uintBitsToFloat(W[b + 3]));
  y = vec4(0.0);
}

#elif defined(TYPE_F16)
#define QK 4
#define BW 2
#define GS 4
void dequant8(uint b, uint j, out vec4 x, out vec4 y) {
  x = vec4(unpackHalf2x16(W[b]), unpackHalf2x16(W[b + 1]));
  y = vec4(0.0);
}

#elif defined(TYPE_Q8_0)
// [f16 d, 2 pad bytes][32 x int8]
#define QK 32
#define BW 9
void dequant8(uint b, uint j, out vec4 x, out vec4 y) {
  float d = unpackHalf2x16(W[b]).x;
  x = d * s8x4(W[b + 1 + 2 * j]);
  y = d * s8x4(W[b + 2 + 2 * j]);
}

#elif defined(TYPE_Q4_0)
// [f16 d, 2 pad bytes][16 bytes: element i in the low nibble of byte i, i+16 in its high nibble]
#define QK 32
#define BW 5
void dequant8(uint b, uint j, out vec4 x, out vec4 y) {
  float d = unpackHalf2x16(W[b]).x;
  uint w = b + 1 + 2 * (j & 1u);
  uint sh = (j >> 1) * 4u;
  x = d * (nib4(W[w] >> sh) - 8.0);
  y = d * (nib4(W[w + 1] >> sh) - 8.0);
}

#elif defined(TYPE_Q4_K)
// GGUF's block as is: [f16 d, f16 dmin][12 bytes of 6-bit scales and mins][128 bytes of nibbles]
#define QK 256
#define BW 36
void dequant8(uint b, uint j, out vec4 x, out vec4 y) {
  vec2 dm = unpackHalf2x16(W[b]);
  uint sb = j >> 2;  // 32-element sub-block
  uint sc, m;
  q4k_scale_min(b, sb, sc, m);
  float d = dm.x * float(sc), mn = dm.y * float(m);
  uint w = b + 4 + 8 * (sb >> 1) + 2 * (j & 3u);
  uint sh = (sb & 1u) * 4u;
  x = d * nib4(W[w] >> sh) - mn;
  y = d * nib4(W[w + 1] >> sh) - mn;
}

#elif defined(TYPE_Q6_K)
// GGUF's block plus 2 pad bytes: [128 bytes low nibbles][64 bytes high bit pairs][16 x int8 scales][f16 d, pad]
#define QK 256
#define BW 53
vec4 q6(uint lo, uint hi, uint shl, uint shh) {
  lo >>= shl;
  hi >>= shh;
  return vec4((lo & 15u) | ((hi & 3u) << 4), ((lo >> 8) & 15u) | (((hi >> 8) & 3u) << 4),
              ((lo >> 16) & 15u) | (((hi >> 16) & 3u) << 4), ((lo >> 24) & 15u) | (((hi >> 24) & 3u) << 4)) - 32.0;
}
void dequant8(uint b, uint j, out vec4 x, out vec4 y) {
  uint e = 8 * j, half_ = e >> 7, r = e & 127u, quarter = r >> 5, l = r & 31u;
  uint wl = b + (64 * half_ + (quarter & 1u) * 32 + l) / 4;
  uint wh = b + 32 + (32 * half_ + l) / 4;
  uint si = 8 * half_ + l / 16 + 2 * quarter;
  float sc = float(int(W[b + 48 + (si >> 2)] << (24 - 8 * (si & 3u))) >> 24);
  float d = unpackHalf2x16(W[b + 52]).x * sc;
  x = d * q6(W[wl], W[wh], (quarter >> 1) * 4u, 2u * quarter);
  y = d * q6(W[wl + 1], W[wh + 1], (quarter >> 1) * 4u, 2u * quarter);
}
#elif defined(TYPE_Q5_0)
// [f16 d, 2 pad bytes][32 fifth bits: element i's in bit i][16 bytes of nibbles as q4_0]
#define QK 32
#define BW 6
void dequant8(uint b, uint j, out vec4 x, out vec4 y) {
  const float d = unpackHalf2x16(W[b]).x;
  const uint w = b + 2 + 2 * (j & 1u), sh = (j >> 1) * 4u, h = W[b + 1] >> (8u * (j & 1u) + 16u * (j >> 1));
  precise vec4 a = (vec4(iu8x4(((W[w] >> sh) & 0x0F0F0F0Fu) | spread4(h))) - 16.0) * d;
  precise vec4 c = (vec4(iu8x4(((W[w + 1] >> sh) & 0x0F0F0F0Fu) | spread4(h >> 4))) - 16.0) * d;
  x = a;
  y = c;
}

#elif defined(TYPE_Q4_1)
// GGUF's block as is: [f16 d, f16 m][16 bytes of nibbles as q4_0]; x = q d + m.
#define QK 32
#define BW 5
#define ACT_Q8_1
void dequant8(uint b, uint j, out vec4 x, out vec4 y) {
  const vec2 dm = unpackHalf2x16(W[b]);
  const uint w = b + 1 + 2 * (j & 1u), sh = (j >> 1) * 4u;
  precise vec4 a = nib4(W[w] >> sh) * dm.x + dm.y;
  precise vec4 c = nib4(W[w + 1] >> sh) * dm.x + dm.y;
  x = a;
  y = c;
}

#elif defined(TYPE_Q5_1)
// GGUF's block as is: [f16 d, f16 m][32 fifth bits as q5_0's][16 bytes of nibbles]; x = q d + m.
#define QK 32
#define BW 6
#define ACT_Q8_1
void dequant8(uint b, uint j, out vec4 x, out vec4 y) {
  const vec2 dm = unpackHalf2x16(W[b]);
  const uint w = b + 2 + 2 * (j & 1u), sh = (j >> 1) * 4u, h = W[b + 1] >> (8u * (j & 1u) + 16u * (j >> 1));
  precise vec4 a = vec4(iu8x4(((W[w] >> sh) & 0x0F0F0F0Fu) | spread4(h))) * dm.x + dm.y;
  precise vec4 c = vec4(iu8x4(((W[w + 1] >> sh) & 0x0F0F0F0Fu) | spread4(h >> 4))) * dm.x + dm.y;
  x = a;
  y = c;
}

#elif defined(TYPE_IQ4_NL)
// [f16 d, 2 pad bytes][16 bytes of codebook indices, placed as q4_0's nibbles]
#define QK 32
#define BW 5
void dequant8(uint b, uint j, out vec4 x, out vec4 y) {
  const float d = unpackHalf2x16(W[b]).x;
  const uint w = b + 1 + 2 * (j & 1u), sh = (j >> 1) * 4u;
  precise vec4 a = d * vec4(iq4x4(W[w] >> sh));
  precise vec4 c = d * vec4(iq4x4(W[w + 1] >> sh));
  x = a;
  y = c;
}

#elif defined(TYPE_IQ4_XS)
// GGUF's block as is: [f16 d, u16 high scale bits][4 bytes low scale bits][128 bytes: 8 sub-blocks as iq4_nl's]
#define QK 256
#define BW 34
void dequant8(uint b, uint j, out vec4 x, out vec4 y) {
  const uint ib = j >> 2, jj = j & 3u;
  const float dl = unpackHalf2x16(W[b]).x * float(iq4xs_scale(b, ib));
  const uint w = b + 2 + 4 * ib + 2 * (jj & 1u), sh = (jj >> 1) * 4u;
  precise vec4 a = dl * vec4(iq4x4(W[w] >> sh));
  precise vec4 c = dl * vec4(iq4x4(W[w + 1] >> sh));
  x = a;
  y = c;
}

#elif defined(TYPE_Q2_K)
// GGUF's block as is: [16 bytes: 4-bit scale | 4-bit min per 16 elements][64 bytes of 2-bit values][f16 d, f16 dmin]
#define QK 256
#define BW 21
void dequant8(uint b, uint j, out vec4 x, out vec4 y) {
  const uint e = 8 * j, half_ = e >> 7, shift = (e & 127u) >> 5, l = e & 31u, g = e >> 4;
  const vec2 dm = unpackHalf2x16(W[b + 20]);
  const uint s = byte_at(b, g);
  const float d = dm.x * float(s & 15u), mn = dm.y * float(s >> 4);
  const uint w = b + 4 + 8 * half_ + l / 4;
  precise vec4 a = d * vec4(iu8x4((W[w] >> (2u * shift)) & 0x03030303u)) - mn;
  precise vec4 c = d * vec4(iu8x4((W[w + 1] >> (2u * shift)) & 0x03030303u)) - mn;
  x = a;
  y = c;
}

#elif defined(TYPE_Q3_K)
// GGUF's block plus 2 pad bytes: [32 bytes high bits][64 bytes of 2-bit values][12 bytes of 6-bit scales][f16 d, pad]
#define QK 256
#define BW 28
ivec4 q3k_values(uint b, uint half_, uint shift, uint l) {  // elements 128 half + 32 shift + l .. + 3
  const uint q = (W[b + 8 + 8 * half_ + l / 4] >> (2u * shift)) & 0x03030303u;
  const uint h = (W[b + l / 4] >> (4u * half_ + shift)) & 0x01010101u;
  return iu8x4(q) - 4 + 4 * iu8x4(h);
}
void dequant8(uint b, uint j, out vec4 x, out vec4 y) {
  const uint e = 8 * j, half_ = e >> 7, shift = (e & 127u) >> 5, l = e & 31u;
  const float d = unpackHalf2x16(W[b + 27]).x * float(q3k_scale(b, e >> 4));
  precise vec4 a = d * vec4(q3k_values(b, half_, shift, l));
  precise vec4 c = d * vec4(q3k_values(b, half_, shift, l + 4));
  x = a;
  y = c;
}

#elif defined(TYPE_Q5_K)
// GGUF's block as is: [f16 d, f16 dmin][12 bytes of scales and mins][32 bytes of fifth bits][128 bytes of nibbles]
#define QK 256
#define BW 44
void dequant8(uint b, uint j, out vec4 x, out vec4 y) {
  const vec2 dm = unpackHalf2x16(W[b]);
  const uint sb = j >> 2;
  uint sc, m;
  q4k_scale_min(b, sb, sc, m);
  const float d = dm.x * float(sc), mn = dm.y * float(m);
  const uint w = b + 12 + 8 * (sb >> 1) + 2 * (j & 3u), wh = b + 4 + 2 * (j & 3u), sh = (sb & 1u) * 4u;
  const uint q0 = ((W[w] >> sh) & 0x0F0F0F0Fu) | (((W[wh] >> sb) & 0x01010101u) << 4);
  const uint q1 = ((W[w + 1] >> sh) & 0x0F0F0F0Fu) | (((W[wh + 1] >> sb) & 0x01010101u) << 4);
  precise vec4 a = d * vec4(iu8x4(q0)) - mn;
  precise vec4 c = d * vec4(iu8x4(q1)) - mn;
  x = a;
  y = c;
}
#else
#error "no weight type defined"
#endif
#ifndef GS
#define GS 8
#endif
