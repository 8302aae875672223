#version 450
// Y[t, row0 + r] = W[r, :] . X[t, :] (+ bias) for prompt batches: a workgroup
// computes a tile of 64 rows x 32 tokens, 32 columns at a time; weights are
// dequantized once per tile into shared memory, and each invocation keeps a
// 4 x 8 block of results. (matvec.comp serves batches of up to 8 tokens.)
// Built for float weights (f32, f16) only: quantized ones go through
// qmatmul.comp, in the cpu's order of operations.
#include "common.glsl"
layout(binding = 0) readonly buffer Weights { uint W[]; };
layout(binding = 1) readonly buffer In { float X[]; };
layout(binding = 2) writeonly buffer Out { float Y[]; };
layout(binding = 3) readonly buffer Bias { float B[]; };
#include "dequant.glsl"
// u0 rows in the piece, u1 cols (a multiple of 32), u2 tokens, u3 row0, u4 output row length, u5 has bias
#define TM 64
#define TT 32
#define TK 32

shared float w_s[TK * TM];  // [k][row]
shared float x_s[TK * TT];  // [k][token]

void main() {
  const uint lid = gl_LocalInvocationID.x, rows = pc.u0, cols = pc.u1, n = pc.u2;
  const uint r0 = gl_WorkGroupID.x * TM, t0 = gl_WorkGroupID.y * TT;
  const uint my_r = (lid % 16) * 4, my_t = (lid / 16) * 8;
  const uint row_words = (cols / QK) * BW;
  float acc[4][8];
  [[unroll]] for (uint i = 0; i < 4; ++i)
    [[unroll]] for (uint j = 0; j < 8; ++j) acc[i][j] = 0.0;

  for (uint k0 = 0; k0 < cols; k0 += TK) {
    // Weights: TM rows x TK columns in groups of GS.
    [[unroll]] for (uint m = 0; m < TM * (TK / GS) / WG; ++m) {
      const uint q = lid + m * WG, r = q / (TK / GS), c = (q % (TK / GS)) * GS;
      vec4 a = vec4(0.0), b = vec4(0.0);
      if (r0 + r < rows) {
        const uint col = k0 + c;
        dequant8((r0 + r) * row_words + (col / QK) * BW, (col % QK) / GS, a, b);
      }
      w_s[(c + 0) * TM + r] = a.x;
      w_s[(c + 1) * TM + r] = a.y;
      w_s[(c + 2) * TM + r] = a.z;
      w_s[(c + 3) * TM + r] = a.w;
#if GS == 8
      w_s[(c + 4) * TM + r] = b.x;
      w_s[(c + 5) * TM + r] = b.y;
      w_s[(c + 6) * TM + r] = b.z;
      w_s[(c + 7) * TM + r] = b.w;
#endif
    }
    // Activations: TT tokens x TK columns, read along the columns.
    [[unroll]] for (uint m = 0; m < TT * TK / WG; ++m) {
      const uint q = lid + m * WG, t = q / TK, c = q % TK;
      x_s[c * TT + t] = t0 + t < n ? X[pc.o1 + (t0 + t) * cols + k0 + c] : 0.0;
    }
    barrier();
    [[unroll]] for (uint k = 0; k < TK; ++k) {
      vec4 wv = vec4(w_s[k * TM + my_r], w_s[k * TM + my_r + 1], w_s[k * TM + my_r + 2], w_s[k * TM + my_r + 3]);
      vec4 xa = vec4(x_s[k * TT + my_t], x_s[k * TT + my_t + 1], x_s[k * TT + my_t + 2], x_s[k * TT + my_t + 3]);
      vec4 xb = vec4(x_s[k * TT + my_t + 4], x_s[k * TT + my_t + 5], x_s[k * TT + my_t + 6], x_s[k * TT + my_t + 7]);
      [[unroll]] for (uint i = 0; i < 4; ++i) {
        acc[i][0] += wv[i] * xa.x; acc[i][1] += wv[i] * xa.y; acc[i][2] += wv[i] * xa.z; acc[i][3] += wv[i] * xa.w;
        acc[i][4] += wv[i] * xb.x; acc[i][5] += wv[i] * xb.y; acc[i][6] += wv[i] * xb.z; acc[i][7] += wv[i] * xb.w;
      }
    }
    barrier();
  }
  [[unroll]] for (uint i = 0; i < 4; ++i) {
    const uint r = r0 + my_r + i;
    if (r >= rows) continue;
    const float bias = pc.u5 != 0 ? B[pc.o3 + pc.u3 + r] : 0.0;
    [[unroll]] for (uint j = 0; j < 8; ++j) {
      const uint t = t0 + my_t + j;
      if (t < n) Y[pc.o2 + t * pc.u4 + pc.u3 + r] = acc[i][j] + bias;
    }
  }
}
