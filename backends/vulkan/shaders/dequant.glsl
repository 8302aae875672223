// Weight blocks as the GPU stores them (vulkan_weights.cpp repacks GGUF blocks
// so that every block starts on a 4-byte word and its f16 scale has a word of
// its own). The shaders read words only, so no 8- or 16-bit storage feature is
// needed. Each type defines:
//   QK  elements per block, BW  words per block, GS  elements per group (8, or 4 for f32/f16),
//   dequant8(block word, j, a, b): elements GS*j.. of the block, as floats (b unused when GS is 4).
// W must be declared by the includer as `uint W[]`.

vec4 s8x4(uint w) {  // four signed bytes
  return vec4(int(w << 24) >> 24, int(w << 16) >> 24, int(w << 8) >> 24, int(w) >> 24);
}
vec4 nib4(uint w) {  // the low nibbles of four bytes
  return vec4(w & 15u, (w >> 8) & 15u, (w >> 16) & 15u, (w >> 24) & 15u);
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
uint q4k_byte(uint b, uint i) { return (W[b + 1 + (i >> 2)] >> ((i & 3u) * 8u)) & 255u; }
// The 6-bit scale and min of 32-element sub-block sb (0..7) of block b.
void q4k_scale_min(uint b, uint sb, out uint sc, out uint m) {
  if (sb < 4) {
    sc = q4k_byte(b, sb) & 63u;
    m = q4k_byte(b, sb + 4) & 63u;
  } else {
    sc = (q4k_byte(b, sb + 4) & 15u) | ((q4k_byte(b, sb - 4) >> 6) << 4);
    m = (q4k_byte(b, sb + 4) >> 4) | ((q4k_byte(b, sb) >> 6) << 4);
  }
}
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
#else
#error "no weight type defined"
#endif
#ifndef GS
#define GS 8
#endif
