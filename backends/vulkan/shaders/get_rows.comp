#version 450
// out[t, :] = row ids[t] of the table, dequantized. One invocation per group of GS values.
#include "common.glsl"
layout(binding = 0) readonly buffer Weights { uint W[]; };
layout(binding = 1) readonly buffer Ids { int ids[]; };
layout(binding = 2) writeonly buffer Out { float Y[]; };
#include "dequant.glsl"
// u0 cols, u1 tokens, u2 first row of this piece, u3 rows in the piece

void main() {
  const uint cols = pc.u0, groups = cols / GS;
  const uint i = gl_GlobalInvocationID.x;
  const uint t = gl_GlobalInvocationID.y;
  if (i >= groups || t >= pc.u1) return;
  const int id = ids[pc.o1 + t] - int(pc.u2);
  if (id < 0 || id >= int(pc.u3)) return;  // another piece holds this row
  const uint per_block = QK / GS;
  vec4 a, b;
  dequant8(uint(id) * (cols / QK) * BW + (i / per_block) * BW, i % per_block, a, b);
  const uint o = pc.o2 + t * cols + i * GS;
  Y[o] = a.x; Y[o + 1] = a.y; Y[o + 2] = a.z; Y[o + 3] = a.w;
#if GS == 8
  Y[o + 4] = b.x; Y[o + 5] = b.y; Y[o + 6] = b.z; Y[o + 7] = b.w;
#endif
}
