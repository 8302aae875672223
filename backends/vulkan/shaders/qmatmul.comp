#version 450
// y[t, row0 + r] = W[r, :] . x[t, :] (+ bias) for quantized W, in the order
// every backend sums (backends/cpu/kernels.cpp, docs/NUMERICS.md): per block
// an exact integer sum I of weight quants times the activations' 8-bit
// quants (round_act.comp), the block's value (d_w d_a) I (K-quants:
// (d d_a) I - (dmin d_a) Imin), and the blocks added in order from the first,
// each step rounded to float. A workgroup takes 8 rows x 8 tokens: per pass
// over 8 blocks, invocation (r, s) works out block s of row r for every token
// into shared memory, then adds the 8 values of token s to its sum, in order.
#include "common.glsl"
layout(binding = 0) readonly buffer Weights { uint W[]; };
layout(binding = 1) readonly buffer Act { uint A[]; };
layout(binding = 2) writeonly buffer Out { float Y[]; };
layout(binding = 3) readonly buffer Bias { float B[]; };
// u0 rows in the piece, u1 cols, u2 tokens, u3 row0, u4 output row length, u5 has bias,
// u6 first token in the rounded activations, u7 word where their scales start

// Weight blocks as vulkan_weights.cpp stores them: QK, BW and q4_K's scales from dequant.glsl.
#include "dequant.glsl"

ivec4 i8x4(uint w) { return ivec4(int(w << 24) >> 24, int(w << 16) >> 24, int(w << 8) >> 24, int(w) >> 24); }
int dot4(ivec4 a, ivec4 b) { return a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w; }
int sum4(ivec4 a) { return a.x + a.y + a.z + a.w; }

// The value of weight block wb (word offset) against the activation block
// whose quants start at word ab, with scale da (and, for q8_1 activations,
// sa: da times the sum of the block's quants, rounded to f16).
float block_value(uint wb, uint ab, float da, float sa) {
#if defined(TYPE_Q8_0)
  int i = 0;
  [[unroll]] for (uint k = 0; k < 8; ++k) i += dot4(i8x4(W[wb + 1 + k]), i8x4(A[ab + k]));
  precise float v = (unpackHalf2x16(W[wb]).x * da) * float(i);
  return v;
#elif defined(TYPE_Q4_0)
  int i = 0;  // byte k of the 16: element k in its low nibble, k + 16 in its high one
  [[unroll]] for (uint k = 0; k < 4; ++k) {
    const uint w = W[wb + 1 + k];
    i += dot4(iu8x4(w & 0x0F0F0F0Fu) - 8, i8x4(A[ab + k])) + dot4(iu8x4((w >> 4) & 0x0F0F0F0Fu) - 8, i8x4(A[ab + 4 + k]));
  }
  precise float v = (unpackHalf2x16(W[wb]).x * da) * float(i);
  return v;
#elif defined(TYPE_Q4_K)
  int isc = 0, imin = 0;
  [[unroll]] for (uint j = 0; j < 8; ++j) {
    uint sc, m;
    q4k_scale_min(wb, j, sc, m);
    int s = 0, sa = 0;
    const uint sh = (j & 1u) * 4u;
    [[unroll]] for (uint k = 0; k < 8; ++k) {
      const ivec4 a = i8x4(A[ab + 8 * j + k]);
      s += dot4(iu8x4((W[wb + 4 + 8 * (j >> 1) + k] >> sh) & 0x0F0F0F0Fu), a);
      sa += sum4(a);
    }
    isc += int(sc) * s;
    imin += int(m) * sa;
  }
  const vec2 dm = unpackHalf2x16(W[wb]);
  precise float v = (dm.x * da) * float(isc) - (dm.y * da) * float(imin);
  return v;
#elif defined(TYPE_Q6_K)
  // 6-bit values q + 32: low 4 bits in ql (words 0..31), high 2 in qh (32..47);
  // element 128 h + 32 k + l from ql byte 64 h + l (+ 32 for k odd; high
  // nibble for k >= 2) and bits 2k.. of qh byte 32 h + l.
  int isum = 0;
  [[unroll]] for (uint h = 0; h < 2; ++h)
    for (uint u = 0; u < 8; ++u) {
      const uint qa = W[wb + 16 * h + u], qb = W[wb + 16 * h + 8 + u], qh = W[wb + 32 + 8 * h + u];
      const uint qv[4] = uint[4]((qa & 0x0F0F0F0Fu) | ((qh & 0x03030303u) << 4),
                                (qb & 0x0F0F0F0Fu) | (((qh >> 2) & 0x03030303u) << 4),
                                ((qa >> 4) & 0x0F0F0F0Fu) | (((qh >> 4) & 0x03030303u) << 4),
                                ((qb >> 4) & 0x0F0F0F0Fu) | (((qh >> 6) & 0x03030303u) << 4));
      [[unroll]] for (uint k = 0; k < 4; ++k) {
        const uint e = 128 * h + 32 * k + 4 * u, g = e / 16;
        const int sc = int(W[wb + 48 + (g >> 2)] << (24 - 8 * (g & 3u))) >> 24;
        isum += sc * dot4(iu8x4(qv[k]) - 32, i8x4(A[ab + e / 4]));
      }
    }
  precise float v = (unpackHalf2x16(W[wb + 52]).x * da) * float(isum);
  return v;
#elif defined(TYPE_Q4_1)
  int i = 0;  // as q4_0's, without the offset: the min meets the activations' sum
  [[unroll]] for (uint k = 0; k < 4; ++k) {
    const uint w = W[wb + 1 + k];
    i += dot4(iu8x4(w & 0x0F0F0F0Fu), i8x4(A[ab + k])) + dot4(iu8x4((w >> 4) & 0x0F0F0F0Fu), i8x4(A[ab + 4 + k]));
  }
  const vec2 dm = unpackHalf2x16(W[wb]);
  precise float v = (dm.x * da) * float(i) + dm.y * sa;
  return v;
#elif defined(TYPE_Q5_1)
  int i = 0;
  const uint qh = W[wb + 1];
  [[unroll]] for (uint k = 0; k < 4; ++k) {
    const uint w = W[wb + 2 + k];
    const uint lo = (w & 0x0F0F0F0Fu) | spread4(qh >> (4u * k)), hi = ((w >> 4) & 0x0F0F0F0Fu) | spread4(qh >> (16u + 4u * k));
    i += dot4(iu8x4(lo), i8x4(A[ab + k])) + dot4(iu8x4(hi), i8x4(A[ab + 4 + k]));
  }
  const vec2 dm = unpackHalf2x16(W[wb]);
  precise float v = (dm.x * da) * float(i) + dm.y * sa;
  return v;
#elif defined(TYPE_Q5_0)
  int i = 0;  // as q4_0, the fifth bit of element e in bit e of word 1
  const uint qh = W[wb + 1];
  [[unroll]] for (uint k = 0; k < 4; ++k) {
    const uint w = W[wb + 2 + k];
    const uint lo = (w & 0x0F0F0F0Fu) | spread4(qh >> (4u * k)), hi = ((w >> 4) & 0x0F0F0F0Fu) | spread4(qh >> (16u + 4u * k));
    i += dot4(iu8x4(lo) - 16, i8x4(A[ab + k])) + dot4(iu8x4(hi) - 16, i8x4(A[ab + 4 + k]));
  }
  precise float v = (unpackHalf2x16(W[wb]).x * da) * float(i);
  return v;
#elif defined(TYPE_IQ4_NL)
  int i = 0;
  [[unroll]] for (uint k = 0; k < 4; ++k) {
    const uint w = W[wb + 1 + k];
    i += dot4(iq4x4(w), i8x4(A[ab + k])) + dot4(iq4x4(w >> 4), i8x4(A[ab + 4 + k]));
  }
  precise float v = (unpackHalf2x16(W[wb]).x * da) * float(i);
  return v;
#elif defined(TYPE_IQ4_XS)
  int isum = 0;  // sub-block sums times their scales, in integers
  [[unroll]] for (uint ib = 0; ib < 8; ++ib) {
    int s = 0;
    [[unroll]] for (uint k = 0; k < 4; ++k) {
      const uint w = W[wb + 2 + 4 * ib + k];
      s += dot4(iq4x4(w), i8x4(A[ab + 8 * ib + k])) + dot4(iq4x4(w >> 4), i8x4(A[ab + 8 * ib + 4 + k]));
    }
    isum += iq4xs_scale(wb, ib) * s;
  }
  precise float v = (unpackHalf2x16(W[wb]).x * da) * float(isum);
  return v;
#elif defined(TYPE_Q2_K)
  // Element 128 h + 32 s + l: bits 2s.. of byte 32 h + l; scale and min of group e / 16.
  int isum = 0, imin = 0;
  [[unroll]] for (uint h = 0; h < 2; ++h)
    for (uint sh = 0; sh < 4; ++sh)
      for (uint u = 0; u < 8; ++u) {
        const uint e = 128 * h + 32 * sh + 4 * u, g = e >> 4;
        const uint sc = byte_at(wb, g);
        const ivec4 a = i8x4(A[ab + e / 4]);
        isum += int(sc & 15u) * dot4(iu8x4((W[wb + 4 + 8 * h + u] >> (2u * sh)) & 0x03030303u), a);
        imin += int(sc >> 4) * sum4(a);
      }
  const vec2 dm = unpackHalf2x16(W[wb + 20]);
  precise float v = (dm.x * da) * float(isum) - (dm.y * da) * float(imin);
  return v;
#elif defined(TYPE_Q3_K)
  int isum = 0;
  [[unroll]] for (uint h = 0; h < 2; ++h)
    for (uint sh = 0; sh < 4; ++sh)
      for (uint u = 0; u < 8; ++u) {
        const uint e = 128 * h + 32 * sh + 4 * u;
        isum += q3k_scale(wb, e >> 4) * dot4(q3k_values(wb, h, sh, 4 * u), i8x4(A[ab + e / 4]));
      }
  precise float v = (unpackHalf2x16(W[wb + 27]).x * da) * float(isum);
  return v;
#elif defined(TYPE_Q5_K)
  int isc = 0, imin = 0;
  [[unroll]] for (uint j = 0; j < 8; ++j) {
    uint sc, m;
    q4k_scale_min(wb, j, sc, m);
    int s = 0, sa = 0;
    const uint sh = (j & 1u) * 4u;
    [[unroll]] for (uint k = 0; k < 8; ++k) {
      const ivec4 a = i8x4(A[ab + 8 * j + k]);
      const uint q = ((W[wb + 12 + 8 * (j >> 1) + k] >> sh) & 0x0F0F0F0Fu) | (((W[wb + 4 + k] >> j) & 0x01010101u) << 4);
      s += dot4(iu8x4(q), a);
      sa += sum4(a);
    }
    isc += int(sc) * s;
    imin += int(m) * sa;
  }
  const vec2 dm = unpackHalf2x16(W[wb]);
  precise float v = (dm.x * da) * float(isc) - (dm.y * da) * float(imin);
  return v;
#endif
}

shared float vals_[8 * 8 * 8];  // [row][block][token]

void main() {
  const uint lid = gl_LocalInvocationID.x, r = lid / 8, s = lid % 8;
  const uint row = group_row() * 8 + r, cols = pc.u1, nb = cols / QK;
  const uint t0 = gl_WorkGroupID.y * 8, tn = min(8u, pc.u2 - t0);
  const bool live = row < pc.u0;
  precise float acc = 0.0;
  for (uint b0 = 0; b0 < nb; b0 += 8) {
    const uint b = b0 + s;
    if (live && b < nb)
      for (uint t = 0; t < tn; ++t) {
        const uint tok = pc.u6 + t0 + t, scale = pc.o1 + pc.u7 + tok * nb + b;
#ifdef ACT_Q8_1
        const float sa = uintBitsToFloat(A[scale + pc.u7 / 8]);  // after all the blocks' scales
#else
        const float sa = 0.0;
#endif
        vals_[(r * 8 + s) * 8 + t] = block_value(row * nb * BW + b * BW, pc.o1 + tok * (cols / 4) + b * (QK / 4),
                                                 uintBitsToFloat(A[scale]), sa);
      }
    barrier();
    if (live && s < tn)
      for (uint k = 0; k < min(8u, nb - b0); ++k) acc = acc + vals_[(r * 8 + k) * 8 + s];
    barrier();
  }
  if (live && s < tn) {
    precise float y = acc;
    if (pc.u5 != 0) y = acc + B[pc.o3 + pc.u3 + row];
    Y[pc.o2 + (t0 + s) * pc.u4 + pc.u3 + row] = y;
  }
}
