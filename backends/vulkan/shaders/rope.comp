#version 450
// Rotates pairs of every head in place by angles whose cosines and sines the
// host computed (bit for bit the cpu backend's angles).
#include "common.glsl"
layout(binding = 0) buffer Data { float X[]; };
layout(binding = 1) readonly buffer Table { float CS[]; };
// u0 tokens, u1 heads, u2 head dim, u3 pairs (n_rot / 2), u4 1 = neox layout, 0 = interleaved

void main() {
  const uint idx = flat_id(), half_ = pc.u3;
  if (idx >= pc.u0 * pc.u1 * half_) return;
  const uint i = idx % half_, h = (idx / half_) % pc.u1, t = idx / (half_ * pc.u1);
  const float c = CS[pc.o1 + (t * half_ + i) * 2], s = CS[pc.o1 + (t * half_ + i) * 2 + 1];
  const uint base = pc.o0 + (t * pc.u1 + h) * pc.u2;
  const uint a = base + (pc.u4 != 0 ? i : 2 * i), b = base + (pc.u4 != 0 ? i + half_ : 2 * i + 1);
  const float x0 = X[a], x1 = X[b];
  precise float y0 = x0 * c - x1 * s, y1 = x0 * s + x1 * c;  // two roundings each, as on the cpu
  X[a] = y0;
  X[b] = y1;
}
