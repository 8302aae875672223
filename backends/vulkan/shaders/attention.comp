#version 450
// Causal attention of one query head of one token over the cache, one
// workgroup each: scores for WG positions at a time, an online softmax
// (running max and sum), and each invocation accumulating a few output dims.
#include "common.glsl"
layout(binding = 0) readonly buffer Q { float q[]; };
#ifdef KV_F16
layout(binding = 1) readonly buffer KC { uint kc[]; };
layout(binding = 2) readonly buffer VC { uint vc[]; };
vec2 k_pair(uint e) { return unpackHalf2x16(kc[pc.o1 + e / 2]); }
float v_at(uint e) { return unpackHalf2x16(vc[pc.o2 + e / 2])[e & 1u]; }
#else
layout(binding = 1) readonly buffer KC { float kc[]; };
layout(binding = 2) readonly buffer VC { float vc[]; };
vec2 k_pair(uint e) { return vec2(kc[pc.o1 + e], kc[pc.o1 + e + 1]); }
float v_at(uint e) { return vc[pc.o2 + e]; }
#endif
layout(binding = 3) writeonly buffer O { float o[]; };
// u0 n_head, u1 n_head_kv, u2 head_dim (even, <= 256), u3 kv_dim, u4 pos0; f0 scale
#define MAX_DIMS 4  // head_dim <= MAX_DIMS * WG

shared float q_s[MAX_DIMS * WG];
shared float p_s[WG];

void main() {
  const uint h = gl_WorkGroupID.x, t = gl_WorkGroupID.y, lid = gl_LocalInvocationID.x;
  const uint hd = pc.u2, kv_off = (h / (pc.u0 / pc.u1)) * hd;
  const uint q_off = pc.o0 + (t * pc.u0 + h) * hd;
  for (uint d = lid; d < hd; d += WG) q_s[d] = q[q_off + d];
  barrier();
  const uint n_kv = pc.u4 + t + 1;
  float m = -1e30, l = 0.0;
  float acc[MAX_DIMS];
  [[unroll]] for (uint k = 0; k < MAX_DIMS; ++k) acc[k] = 0.0;
  for (uint base = 0; base < n_kv; base += WG) {
    const uint j = base + lid;
    float s = -1e30;
    if (j < n_kv) {
      float dotv = 0.0;
      const uint row = j * pc.u3 + kv_off;
      for (uint d = 0; d < hd; d += 2) dotv += dot(vec2(q_s[d], q_s[d + 1]), k_pair(row + d));
      s = dotv * pc.f0;
    }
    const float m_new = max(m, wg_max(s));
    const float p = j < n_kv ? exp(s - m_new) : 0.0;
    p_s[lid] = p;
    const float block_sum = wg_sum(p);  // its barriers also publish p_s
    const float corr = exp(m - m_new);
    l = l * corr + block_sum;
    const uint cnt = min(uint(WG), n_kv - base);
    [[unroll]] for (uint k = 0; k < MAX_DIMS; ++k) {
      const uint d = lid + k * WG;
      if (d < hd) {
        float a = acc[k] * corr;
        for (uint jj = 0; jj < cnt; ++jj) a += p_s[jj] * v_at((base + jj) * pc.u3 + kv_off + d);
        acc[k] = a;
      }
    }
    m = m_new;
    barrier();  // p_s is rewritten by the next block
  }
  const uint out_off = pc.o3 + (t * pc.u0 + h) * hd;
  [[unroll]] for (uint k = 0; k < MAX_DIMS; ++k) {
    const uint d = lid + k * WG;
    if (d < hd) o[out_off + d] = acc[k] / l;
  }
}
