#version 450
// Appends n tokens' k and v rows to one layer's cache at positions pos0.., as
// f32 or (KV_F16) as f16 pairs packed in words.
#include "common.glsl"
#include "exact_math.glsl"
layout(binding = 0) readonly buffer K { float k[]; };
layout(binding = 1) readonly buffer V { float v[]; };
#ifdef KV_F16
layout(binding = 2) writeonly buffer KC { uint kc[]; };
layout(binding = 3) writeonly buffer VC { uint vc[]; };
#else
layout(binding = 2) writeonly buffer KC { float kc[]; };
layout(binding = 3) writeonly buffer VC { float vc[]; };
#endif
// u0 tokens, u1 kv_dim, u2 pos0

void main() {
  const uint idx = flat_id(), pairs = pc.u1 / 2;
  if (idx >= pc.u0 * pairs) return;
  const uint t = idx / pairs, p = idx % pairs;
  const uint src = t * pc.u1 + 2 * p, dst = ((pc.u2 + t) * pc.u1) / 2 + p;
  const vec2 kk = vec2(k[pc.o0 + src], k[pc.o0 + src + 1]), vv = vec2(v[pc.o1 + src], v[pc.o1 + src + 1]);
#ifdef KV_F16
  kc[pc.o2 + dst] = pack_f16x2(kk.x, kk.y);
  vc[pc.o3 + dst] = pack_f16x2(vv.x, vv.y);
#else
  kc[pc.o2 + 2 * dst] = kk.x;
  kc[pc.o2 + 2 * dst + 1] = kk.y;
  vc[pc.o3 + 2 * dst] = vv.x;
  vc[pc.o3 + 2 * dst + 1] = vv.y;
#endif
}
