#version 450
// Elementwise ops over n floats: OP_ADD x += y; OP_SWIGLU out = silu(gate) * up; OP_COPY dst = src.
#include "common.glsl"
#include "exact_math.glsl"
layout(binding = 0) buffer A { float a[]; };
layout(binding = 1) buffer B { float b[]; };
layout(binding = 2) buffer C { float c[]; };
// u0 n

void main() {
  const uint i = flat_id();
  if (i >= pc.u0) return;
#if defined(OP_ADD)
  precise float y = a[pc.o0 + i] + b[pc.o1 + i];
  a[pc.o0 + i] = y;
#elif defined(OP_SWIGLU)
  const float g = a[pc.o0 + i];
  precise float y = exact_silu(g) * b[pc.o1 + i];
  c[pc.o2 + i] = y;
#elif defined(OP_COPY)
  b[pc.o1 + i] = a[pc.o0 + i];
#endif
}
