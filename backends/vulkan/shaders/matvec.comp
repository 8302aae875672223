#version 450
// y[t, row0 + r] = W[r, :] . x[t, :] (+ bias), for a piece of W's rows and up
// to TN tokens per workgroup: each weight block is dequantized once and used
// for all of them. One workgroup per row; gl_WorkGroupID.y picks the tokens.
// Built for float weights (f32, f16) only: quantized ones go through
// qmatmul.comp, in the cpu's order of operations.
#include "common.glsl"
layout(binding = 0) readonly buffer Weights { uint W[]; };
layout(binding = 1) readonly buffer In { float X[]; };
layout(binding = 2) writeonly buffer Out { float Y[]; };
layout(binding = 3) readonly buffer Bias { float B[]; };
#include "dequant.glsl"
// u0 rows in the piece, u1 cols, u2 tokens, u3 row0, u4 output row length, u5 has bias
#define TN 8

void main() {
  const uint row = group_row();
  if (row >= pc.u0) return;  // uniform over the workgroup
  const uint cols = pc.u1, t0 = gl_WorkGroupID.y * TN, tn = min(TN, pc.u2 - t0);
  const uint per_block = QK / GS, base = row * (cols / QK) * BW;
  float acc[TN];
  [[unroll]] for (uint t = 0; t < TN; ++t) acc[t] = 0.0;
  for (uint g = gl_LocalInvocationID.x; g < cols / GS; g += WG) {
    vec4 a, b;
    dequant8(base + (g / per_block) * BW, g % per_block, a, b);
    uint xo = pc.o1 + t0 * cols + g * GS;
    [[unroll]] for (uint t = 0; t < TN; ++t) {
      if (t < tn) {
        float s = dot(a, vec4(X[xo], X[xo + 1], X[xo + 2], X[xo + 3]));
#if GS == 8
        s += dot(b, vec4(X[xo + 4], X[xo + 5], X[xo + 6], X[xo + 7]));
#endif
        acc[t] += s;
      }
      xo += cols;
    }
  }
  for (uint t = 0; t < tn; ++t) {
    float s = wg_sum(acc[t]);
    if (gl_LocalInvocationID.x == 0) {
      if (pc.u5 != 0) s += B[pc.o3 + pc.u3 + row];
      Y[pc.o2 + (t0 + t) * pc.u4 + pc.u3 + row] = s;
    }
  }
}
