// Shared by every edgerun compute shader: the push constants (one layout for
// all pipelines) and workgroup reductions, on subgroup operations where the
// device has them (USE_SUBGROUPS) and on shared memory where it does not.
#extension GL_EXT_control_flow_attributes : enable
#ifdef USE_SUBGROUPS
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif

#define WG 64
layout(local_size_x = WG) in;

// o0..o5: where each binding's data starts, in 4-byte elements (bindings are
// made at aligned offsets, so the rest of an offset travels here).
layout(push_constant) uniform PushConstants {
  uint o0, o1, o2, o3, o4, o5;
  uint u0, u1, u2, u3, u4, u5, u6, u7, u8, u9;
  float f0, f1, f2, f3;
} pc;

shared float red_[WG];

// The sum (or max) over the workgroup; every invocation must call it.
float wg_sum(float v) {
#ifdef USE_SUBGROUPS
  float s = subgroupAdd(v);
  if (subgroupElect()) red_[gl_SubgroupID] = s;
  barrier();
  float t = 0.0;
  for (uint i = 0; i < gl_NumSubgroups; ++i) t += red_[i];
  barrier();
  return t;
#else
  uint lid = gl_LocalInvocationID.x;
  red_[lid] = v;
  barrier();
  [[unroll]] for (uint s = WG / 2; s > 0; s >>= 1) {
    if (lid < s) red_[lid] += red_[lid + s];
    barrier();
  }
  float t = red_[0];
  barrier();
  return t;
#endif
}

float wg_max(float v) {
#ifdef USE_SUBGROUPS
  float s = subgroupMax(v);
  if (subgroupElect()) red_[gl_SubgroupID] = s;
  barrier();
  float t = red_[0];
  for (uint i = 1; i < gl_NumSubgroups; ++i) t = max(t, red_[i]);
  barrier();
  return t;
#else
  uint lid = gl_LocalInvocationID.x;
  red_[lid] = v;
  barrier();
  [[unroll]] for (uint s = WG / 2; s > 0; s >>= 1) {
    if (lid < s) red_[lid] = max(red_[lid], red_[lid + s]);
    barrier();
  }
  float t = red_[0];
  barrier();
  return t;
#endif
}

// The flat index of this workgroup in a dispatch that spreads rows over x and z
// (x is limited to 65535 groups on many devices).
uint group_row() { return gl_WorkGroupID.x + gl_WorkGroupID.z * gl_NumWorkGroups.x; }

// The flat invocation index of a 1-D dispatch spread over x and z the same way.
uint flat_id() { return gl_GlobalInvocationID.x + gl_WorkGroupID.z * gl_NumWorkGroups.x * WG; }
