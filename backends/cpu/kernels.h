// SIMD kernels of the cpu backend, compiled once per instruction set with
// Highway's foreach_target and chosen at run time for the CPU at hand. Where
// Highway 1.0.3 has no op (int8 dot products), a target uses the instruction
// its CPUs have: AVX-512 VNNI vpdpbusd, AVX2/AVX-512 maddubs, SSSE3/SSE4
// maddubs on 128-bit halves, NEON sdot or widening multiplies; the portable
// non-SIMD targets run plain loops.
#pragma once

#include <cstdint>
#include <vector>

#include "types.h"

namespace edgerun::cpu {

// Dot product of n weights (a row of the weight type) with n activations in
// the type quant_ops(weight).vec_dot_type (or f32 for float weights).
using DotFn = float (*)(const void* w, const void* act, int64_t n);
// The same for nt (1..kMaxTokens) tokens at once: out[t] = dot(w, act[t]). The
// weight row is read and unpacked once for all of them (prompt processing).
constexpr int kMaxTokens = 8;
using DotNFn = void (*)(const void* w, const void* const* act, int nt, float* out, int64_t n);
using GroupDotFn = void (*)(const void* group, const void* const* act, int nt, float* out, int64_t n);

// q4_0 and q8_0 kernels take their 8-bit activations split: all n quants
// contiguous (so wide loads span blocks), then each block's scale d as a float,
// then each block's -128 x (sum of its quants) as an int32: the offset's share
// for q8_0 weights stored as q + 128 (q4_0: a 16th of it), ready to seed a
// dot-product chain from memory. Built once per token by split_q8_0().
size_t split_q8_0_bytes(int64_t n);
void split_q8_0(const void* q8_0_blocks, void* out, int64_t n);

struct KernelSet {
  const char* target = "none";
  DotFn dot_q4_0 = nullptr;  // with split q8_0 activations
  DotFn dot_q8_0 = nullptr;  // with split q8_0
  DotFn dot_q4_K = nullptr;  // with q8_K
  DotFn dot_q6_K = nullptr;  // with q8_K
  DotFn dot_f16 = nullptr;   // with f32
  DotFn dot_bf16 = nullptr;  // with f32
  DotFn dot_f32 = nullptr;   // with f32
  DotNFn dotn_q4_0 = nullptr, dotn_q8_0 = nullptr, dotn_q4_K = nullptr, dotn_q6_K = nullptr;
  DotFn dot_iq4_nl = nullptr;  // with q8_0 blocks
  DotFn dot_iq4_xs = nullptr;  // with q8_K
  DotNFn dotn_iq4_nl = nullptr, dotn_iq4_xs = nullptr;
  DotFn dot_q5_0 = nullptr;                      // with q8_0 blocks
  DotFn dot_q4_1 = nullptr, dot_q5_1 = nullptr;  // with q8_1
  DotFn dot_q2_K = nullptr, dot_q3_K = nullptr, dot_q5_K = nullptr;  // with q8_K
  DotNFn dotn_q5_0 = nullptr, dotn_q4_1 = nullptr, dotn_q5_1 = nullptr, dotn_q2_K = nullptr, dotn_q3_K = nullptr,
         dotn_q5_K = nullptr;
  // 16-row groups (quant/layouts.h) against nt (1..kMaxTokens) activation rows
  // (split q8_0 for q4_0/q8_0, q8_K for q4_K/q6_K, f32 for f16): out[t * 16 + r].
  // On x86 from AVX2 up (512-bit with AVX-512 VNNI, else 256-bit) and on every
  // ARMv8 CPU (NEON, with sdot where it has it); else null.
  GroupDotFn group_q4_0x16 = nullptr, group_q8_0x16 = nullptr, group_q4_Kx16 = nullptr, group_q6_Kx16 = nullptr,
             group_f16x16 = nullptr;
  GroupDotFn group_q5_0x16 = nullptr;  // split q8_0
  GroupDotFn group_q2_Kx16 = nullptr, group_q3_Kx16 = nullptr, group_q5_Kx16 = nullptr,
             group_iq4_xsx16 = nullptr;  // q8_K
  GroupDotFn group_iq4_nlx16 = nullptr;                          // split q8_0
  GroupDotFn group_q4_1x16 = nullptr, group_q5_1x16 = nullptr;  // q8_1
  GroupDotFn group_bf16x16 = nullptr;                            // f32
  const char* groups = nullptr;  // the group kernels' instructions, e.g. "NEON dotprod" (null: none)
  // out = exact_silu(g) * u over n elements (SwiGLU), to the scalar code's bits.
  void (*silu_mul)(const float* g, const float* u, float* out, int64_t n) = nullptr;
  // Attention's scores out[p] = (q . k_p) * scale, k_p = k + p * stride (floats; an f16
  // cache's keys are widened first), each q . k over n elements in exact_math.h's lane order.
  void (*scores16)(const float* q, const float* k, int64_t stride, int n_pos, int64_t n, float scale, float* out) = nullptr;
  // In place, attention's weights: exact_exp(w[p] - max w) * (1 / their sum in exact_math.h's lanes).
  void (*softmax)(float* w, int64_t n) = nullptr;
  // acc[i] = acc[i] + w[p] * v[p * stride + i], positions p in order (attention's values).
  void (*acc_rows)(const float* w, const float* v, int64_t stride, int n_pos, int64_t n, float* acc) = nullptr;
  // n KV cache values (f16, or q8_0/q4_0 blocks: n a multiple of 32) to floats, exactly.
  using ToF32Fn = void (*)(const void* src, float* dst, int64_t n);
  ToF32Fn to_f32_f16 = nullptr, to_f32_q8_0 = nullptr, to_f32_q4_0 = nullptr;
  DotFn dot(DType t) const;  // nullptr: use the quant/ reference
  DotNFn dotn(DType t) const;  // nullptr: call dot() per token
  // Whether dot(t) takes split q8_0 activations rather than quant_ops' blocks.
  static bool takes_split_q8_0(DType t) { return t == DType::Q4_0 || t == DType::Q8_0; }
  // The same for the group kernels.
  static bool group_takes_split_q8_0(DType t) {
    return t == DType::Q4_0 || t == DType::Q5_0 || t == DType::Q8_0 || t == DType::IQ4_NL;
  }
};

// Set the entries of the current Highway target kept in the other kernel files:
// float_kernels.cpp (f16/f32 rows, attention, SwiGLU), iq4_kernels.cpp, and
// group_kernels.cpp (the group_* entries).
void fill_float_kernels(KernelSet* ks);
void fill_iq4_kernels(KernelSet* ks);
void fill_row_kernels(KernelSet* ks);  // row_kernels.cpp
void fill_group_kernels(KernelSet* ks);
// Whether this CPU (and its OS) runs AVX-VNNI, the VEX vpdpbusd on 256-bit
// registers (cpuid leaf 7 sub-leaf 1), and the group entries that use it
// (group_kernels_avxvnni.cpp, x86-64 builds only). The AVX2 target's set
// takes them where the CPU has them, as the pseudo-target "AVX_VNNI".
bool cpu_has_avx_vnni();
void fill_avx_vnni_group_kernels(KernelSet* ks);
// Whether this CPU runs AVX-512 VNNI on 256-bit registers; the AVX-VNNI
// entries built with its encodings (group_kernels_avxvnni_evex.cpp), offered
// as "AVX_VNNI_EVEX" where the CPU has no AVX-VNNI, to test and measure them.
bool cpu_has_avx512_vnni();
void fill_avx_vnni_evex_group_kernels(KernelSet* ks);
// Whether this CPU runs ARM's dot-product instructions (the kernel's
// HWCAP_ASIMDDP) and int8 matrix multiplies (HWCAP2_I8MM), and the NEON
// kernels (the group entries and the row entries of the types that have no
// groups) without them, with sdot, and with sdot and smmla
// (neon_kernels.cpp, neon_dotprod_kernels.cpp, neon_i8mm_kernels.cpp; aarch64 builds only).
// Every Highway target of an ARM build takes the best of them; the NEON
// target with them is the pseudo-target "NEON_DOTPROD" or "NEON_I8MM".
bool cpu_has_neon_dotprod();
bool cpu_has_neon_i8mm();
void fill_neon_kernels(KernelSet* ks);
void fill_neon_dotprod_kernels(KernelSet* ks);
void fill_neon_i8mm_kernels(KernelSet* ks);

// The best set for this CPU.
const KernelSet& best_kernels();
// How the cpu backend multiplies by a matrix of type t on this CPU: "16-row
// groups", "SIMD rows" or "scalar reference" (nullptr: not a weight type).
const char* kernel_form(DType t);
// One set per target this CPU supports and this build compiled, best first
// (for tests: every target is checked against the reference).
std::vector<KernelSet> kernels_for_each_target();

}  // namespace edgerun::cpu
