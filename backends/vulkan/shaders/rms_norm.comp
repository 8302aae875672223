#version 450
// out[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * w. One workgroup per row; works in place.
#include "common.glsl"
layout(binding = 0) readonly buffer In { float X[]; };
layout(binding = 1) readonly buffer Gain { float G[]; };
layout(binding = 2) writeonly buffer Out { float Y[]; };
// u0 dim, u1 rows, f0 eps

void main() {
  const uint row = group_row();
  if (row >= pc.u1) return;
  const uint dim = pc.u0, xo = pc.o0 + row * dim, yo = pc.o2 + row * dim;
  float sum = 0.0;
  for (uint i = gl_LocalInvocationID.x; i < dim; i += WG) sum += X[xo + i] * X[xo + i];
  const float scale = 1.0 / sqrt(wg_sum(sum) / float(dim) + pc.f0);
  for (uint i = gl_LocalInvocationID.x; i < dim; i += WG) Y[yo + i] = X[xo + i] * scale * G[pc.o1 + i];
}
