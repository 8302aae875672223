#version 450
// out[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * w, in the cpu's order
// (exact_math.glsl): invocations 0..15 sum the squares of lanes i % 16, then
// the lanes pairwise. One workgroup per row; works in place.
#include "common.glsl"
#include "exact_math.glsl"
layout(binding = 0) readonly buffer In { float X[]; };
layout(binding = 1) readonly buffer Gain { float G[]; };
layout(binding = 2) writeonly buffer Out { float Y[]; };
// u0 dim, u1 rows, f0 eps

void main() {
  const uint row = group_row();
  if (row >= pc.u1) return;
  const uint dim = pc.u0, xo = pc.o0 + row * dim, yo = pc.o2 + row * dim, lid = gl_LocalInvocationID.x;
  precise float s = 0.0;
  if (lid < 16)
    for (uint i = lid; i < dim; i += 16) s = s + X[xo + i] * X[xo + i];
  precise float mean = div_rn(wg_sum_lanes16(s), float(dim)) + pc.f0;
  const float scale = div_rn(1.0, sqrt_rn(mean));
  for (uint i = lid; i < dim; i += WG) {
    precise float y = (X[xo + i] * scale) * G[pc.o1 + i];
    Y[yo + i] = y;
  }
}
