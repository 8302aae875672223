#version 450
// Causal attention of one query head of one token over the cache, one
// workgroup each, in the cpu's order (exact_math.glsl): scores q.k in 16
// lanes, times the scale; their max; e = exp(score - max) summed in 16 lanes
// over positions; then out = sum over positions, in order, of (e / sum) v.
// Three passes over the positions (the scores are recomputed rather than
// kept: a context's worth does not fit shared memory), WG at a time.
#include "common.glsl"
#include "exact_math.glsl"
layout(binding = 0) readonly buffer Q { float q[]; };
#ifdef KV_F16
layout(binding = 1) readonly buffer KC { uint kc[]; };
layout(binding = 2) readonly buffer VC { uint vc[]; };
float k_at(uint e) { return unpackHalf2x16(kc[pc.o1 + e / 2])[e & 1u]; }
float v_at(uint e) { return unpackHalf2x16(vc[pc.o2 + e / 2])[e & 1u]; }
#else
layout(binding = 1) readonly buffer KC { float kc[]; };
layout(binding = 2) readonly buffer VC { float vc[]; };
float k_at(uint e) { return kc[pc.o1 + e]; }
float v_at(uint e) { return vc[pc.o2 + e]; }
#endif
layout(binding = 3) writeonly buffer O { float o[]; };
// u0 n_head, u1 n_head_kv, u2 head_dim (even, <= 256), u3 kv_dim, u4 pos0; f0 scale
#define MAX_DIMS 4  // head_dim <= MAX_DIMS * WG

shared float q_s[MAX_DIMS * WG];
shared float e_s[WG];

float score(uint j, uint hd, uint kv_off) {
  const uint row = j * pc.u3 + kv_off;
  float l[16];
  [[unroll]] for (uint i = 0; i < 16; ++i) l[i] = 0.0;
  for (uint d = 0; d < hd; d += 16)
    [[unroll]] for (uint i = 0; i < 16; ++i)
      if (d + i < hd) {
        precise float v = l[i] + q_s[d + i] * k_at(row + d + i);
        l[i] = v;
      }
  precise float s = sum_lanes16(l) * pc.f0;
  return s;
}

void main() {
  const uint h = gl_WorkGroupID.x, t = gl_WorkGroupID.y, lid = gl_LocalInvocationID.x;
  const uint hd = pc.u2, kv_off = (h / (pc.u0 / pc.u1)) * hd;
  const uint q_off = pc.o0 + (t * pc.u0 + h) * hd;
  for (uint d = lid; d < hd; d += WG) q_s[d] = q[q_off + d];
  barrier();
  const uint n_kv = pc.u4 + t + 1;
  // 1: the largest score (a max is exact in any order).
  float m = -1e30;
  for (uint j = lid; j < n_kv; j += WG) m = max(m, score(j, hd, kv_off));
  m = wg_max(m);
  // 2: the sum of exps, lane j % 16 of position j, in order.
  precise float lane = 0.0;
  for (uint base = 0; base < n_kv; base += WG) {
    const uint j = base + lid;
    e_s[lid] = j < n_kv ? exact_exp(score(j, hd, kv_off) - m) : 0.0;
    barrier();
    if (lid < 16)
      for (uint k = lid; k < WG && base + k < n_kv; k += 16) lane = lane + e_s[k];
    barrier();
  }
  const float inv = div_rn(1.0, wg_sum_lanes16(lane));
  // 3: out = sum of (e * inv) v over positions, in order, one dim per invocation.
  float acc[MAX_DIMS];
  [[unroll]] for (uint k = 0; k < MAX_DIMS; ++k) acc[k] = 0.0;
  for (uint base = 0; base < n_kv; base += WG) {
    const uint j = base + lid;
    if (j < n_kv) {
      precise float p = exact_exp(score(j, hd, kv_off) - m) * inv;
      e_s[lid] = p;
    }
    barrier();
    const uint cnt = min(uint(WG), n_kv - base);
    [[unroll]] for (uint k = 0; k < MAX_DIMS; ++k) {
      const uint d = lid + k * WG;
      if (d < hd) {
        precise float a = acc[k];
        for (uint jj = 0; jj < cnt; ++jj) a = a + e_s[jj] * v_at((base + jj) * pc.u3 + kv_off + d);
        acc[k] = a;
      }
    }
    barrier();  // e_s is rewritten by the next block
  }
  const uint out_off = pc.o3 + (t * pc.u0 + h) * hd;
  [[unroll]] for (uint k = 0; k < MAX_DIMS; ++k) {
    const uint d = lid + k * WG;
    if (d < hd) o[out_off + d] = acc[k];
  }
}
