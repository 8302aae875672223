// Every SIMD kernel, on every Highway target this CPU supports, against the
// quant/ scalar reference: quantized dot products to the bit (every kernel sums
// in the one order of docs/NUMERICS.md), float ones within rounding.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "exact_math.h"
#include "cpu/kernels.h"
#include "layouts.h"
#include "fp16.h"
#include "quant.h"
#include "helpers.h"

using namespace edgerun;

TEST_CASE("attention's sum over values and KV rows to floats on every target, to the bit", "[kernels]") {
  for (const auto& ks : cpu::kernels_for_each_target()) {
    for (int64_t n : {7, 32, 64, 129}) {
      const int n_pos = 37;
      const int64_t stride = n + 5;
      const auto w = test::random_normal(n_pos, 9), v = test::random_normal(n_pos * stride, 10), acc0 = test::random_normal(n, 11);
      std::vector<float> got = acc0, want = acc0;
      ks.acc_rows(w.data(), v.data(), stride, n_pos, n, got.data());
      for (int64_t i = 0; i < n; ++i)
        for (int p = 0; p < n_pos; ++p) want[i] = want[i] + w[p] * v[p * stride + i];  // multiplied, then added: not fused
      INFO(ks.target << " n=" << n);
      CHECK(std::memcmp(got.data(), want.data(), n * 4) == 0);
    }
    const int64_t n = 256;
    const auto x = test::random_normal(n, 12);
    std::vector<uint16_t> h(n);
    for (int64_t i = 0; i < n; ++i) h[i] = float_to_fp16(x[i]);
    for (DType t : {DType::F16, DType::Q8_0, DType::Q4_0}) {
      std::vector<uint8_t> row(dtype_row_bytes(t, n));
      if (t == DType::F16) std::memcpy(row.data(), h.data(), row.size());
      else quant_ops(t).quantize(x.data(), row.data(), n);
      std::vector<float> got(n), want(n);
      (t == DType::F16 ? ks.to_f32_f16 : t == DType::Q8_0 ? ks.to_f32_q8_0 : ks.to_f32_q4_0)(row.data(), got.data(), n);
      quant_ops(t).dequantize(row.data(), want.data(), n);
      INFO(ks.target << " " << dtype_name(t));
      CHECK(std::memcmp(got.data(), want.data(), n * 4) == 0);
    }
  }
}

TEST_CASE("SwiGLU on every target equals exact_math.h's exact_silu to the bit", "[kernels]") {
  const int64_t n = 100003;
  auto g = test::random_normal(n, 13);
  const auto u = test::random_normal(n, 14);
  for (int64_t i = 0; i < n; ++i) g[i] *= (i % 3 == 0 ? 40.0f : i % 3 == 1 ? 5.0f : 1.0f);  // past +-87 too
  for (int64_t i = 0; i < 16; ++i) g[i] = std::vector<float>{-88.5f, -87.0f, -86.99f, 87.0f, 88.0f, 89.0f, 0.0f, -0.0f}[i % 8];
  for (const auto& ks : cpu::kernels_for_each_target()) {
    std::vector<float> out(n);
    ks.silu_mul(g.data(), u.data(), out.data(), n);
    int64_t differ = 0;
    for (int64_t i = 0; i < n; ++i) {
      const float want = exact_silu(g[i]) * u[i];
      differ += std::memcmp(&out[i], &want, 4) != 0;
    }
    INFO(ks.target);
    CHECK(differ == 0);
  }
}

TEST_CASE("attention's scores and softmax on every target equal exact_math.h's to the bit", "[kernels]") {
  for (const auto& ks : cpu::kernels_for_each_target()) {
    for (int64_t n : {8, 64, 100, 128, 256}) {
      const int n_pos = 7;
      const int64_t stride = n + 3;
      const auto q = test::random_normal(n, 11), k = test::random_normal(n_pos * stride, 12);
      float got[n_pos];
      ks.scores16(q.data(), k.data(), stride, n_pos, n, 0.125f, got);
      for (int p = 0; p < n_pos; ++p) {
        INFO(ks.target << " n=" << n << " key " << p);
        CHECK(got[p] == exact_dot(q.data(), k.data() + p * stride, n) * 0.125f);
      }
    }
    // Softmax: exact_exp of the differences from the max (many below -87), their sum in 16 lanes.
    for (int64_t n : {1, 7, 16, 100, 1003, 16384}) {
      auto x = test::random_normal(n, 15);
      for (auto& v : x) v *= 30.0f;
      std::vector<float> got = x, want(n);
      ks.softmax(got.data(), n);
      const float mx = *std::max_element(x.begin(), x.end());
      for (int64_t i = 0; i < n; ++i) want[i] = exact_exp(x[i] - mx);
      const float inv = 1.0f / exact_sum(n, [&](int64_t i) { return want[i]; });
      for (auto& v : want) v = v * inv;
      INFO(ks.target << " n=" << n);
      CHECK(std::memcmp(got.data(), want.data(), n * 4) == 0);
    }
  }
}

TEST_CASE("every kernel on every supported target equals the scalar reference", "[kernels]") {
  const auto sets = cpu::kernels_for_each_target();
  REQUIRE(!sets.empty());
  std::string names;
  for (const auto& ks : sets) names += std::string(ks.target) + " ";
  WARN("kernel targets tested: " << names << "(in use: " << cpu::best_kernels().target << ")");
  for (int64_t n : {256, 1536, 4864}) {
    for (DType t : {DType::Q4_0, DType::Q8_0, DType::Q4_K, DType::Q6_K, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q2_K,
                    DType::Q3_K, DType::Q5_K, DType::IQ4_NL, DType::IQ4_XS, DType::F16, DType::BF16, DType::F32}) {
      if (n % dtype_traits(t).block_size != 0) continue;
      const QuantOps& ops = quant_ops(t);
      const auto wf = test::random_normal(n, 3 + static_cast<uint32_t>(n));
      std::vector<uint8_t> w(dtype_row_bytes(t, n));
      ops.quantize(wf.data(), w.data(), n);
      // kMaxTokens different activation rows; the dot kernels take token 0.
      const QuantOps& aops = quant_ops(ops.vec_dot_type);
      const bool split = cpu::KernelSet::takes_split_q8_0(t);
      std::vector<std::vector<uint8_t>> acts(cpu::kMaxTokens);
      float ref[cpu::kMaxTokens];
      const void* act_ptrs[cpu::kMaxTokens];
      for (int k = 0; k < cpu::kMaxTokens; ++k) {
        const auto af = test::random_normal(n, 5 + k);
        std::vector<uint8_t> act(dtype_row_bytes(ops.vec_dot_type, n));
        aops.quantize_activation(af.data(), act.data(), n);
        ref[k] = ops.vec_dot(w.data(), act.data(), n);
        if (split) {
          acts[k].resize(cpu::split_q8_0_bytes(n));
          cpu::split_q8_0(act.data(), acts[k].data(), n);
        } else {
          acts[k] = act;
        }
        act_ptrs[k] = acts[k].data();
      }
      const bool exact = t != DType::F16 && t != DType::BF16 && t != DType::F32;
      const auto close = [&](float v, float want) {
        return exact ? v == want : std::fabs(v - want) <= 2e-5f * (std::fabs(want) + std::sqrt(static_cast<float>(n)));
      };
      for (const auto& ks : sets) {
        const cpu::DotFn dot = ks.dot(t);
        // Every SIMD target has kernels for every type: each ARM one, and x86 from
        // SSSE3 (SSSE3 and SSE4 in two 128-bit halves). Only the portable
        // non-SIMD targets run the reference.
        const std::string target = ks.target;
#ifdef __aarch64__
        const bool int8_kernels = true;
#else
        const bool int8_kernels = target != "SCALAR" && target != "EMU128";
#endif
        const bool int8_only = t != DType::Q4_0 && t != DType::Q8_0 && t != DType::Q4_K && t != DType::Q6_K && t != DType::F16 &&
                               t != DType::BF16 && t != DType::F32;
        if (!dot && int8_only && !int8_kernels) continue;
        REQUIRE(dot);
        const float got = dot(w.data(), act_ptrs[0], n);
        INFO(ks.target << " " << dtype_name(t) << " n=" << n << ": " << got << " vs reference " << ref[0]);
        CHECK(close(got, ref[0]));
        if (const cpu::DotNFn dotn = ks.dotn(t)) {
          // Several tokens at once: the same weights against 1..kMaxTokens activation rows.
          for (int nt = 1; nt <= cpu::kMaxTokens; ++nt) {
            float out[cpu::kMaxTokens];
            dotn(w.data(), act_ptrs, nt, out, n);
            for (int k = 0; k < nt; ++k) {
              INFO("dotn, " << nt << " tokens, token " << k);
              CHECK(close(out[k], ref[k]));
            }
          }
        }
      }
    }
  }
}

namespace {

// One 16-row group of random weights in each grouped type, eight tokens of
// activations, and each row's dot product by the row reference: what the
// layout references and the group kernels must both give.
struct GroupCase {
  DType type;
  int64_t cols;
  std::vector<uint8_t> group;
  std::vector<std::vector<uint8_t>> acts;  // q8_0 split / q8_K / f32 bytes, as the kernel takes them
  float want[8][kGroupRows];
  float ref[8][kGroupRows];                // the layout's scalar reference
};

GroupCase make_group_case(DType type) {
  GroupCase g;
  g.type = type;
  const int64_t rows = kGroupRows;
  if (type == DType::Q4_0 || type == DType::Q5_0 || type == DType::Q8_0 || type == DType::IQ4_NL) {
    g.cols = 256;
    const QuantOps& qw = quant_ops(type);
    const QuantOps& q8 = quant_ops(DType::Q8_0);
    std::vector<uint8_t> w(dtype_row_bytes(type, g.cols) * rows);
    qw.quantize(test::random_normal(rows * g.cols, 21).data(), w.data(), rows * g.cols);
    g.group.resize(x16_tensor_bytes(type, rows, g.cols));
    rows_to_x16(type, w.data(), rows, g.cols, g.group.data());
    const auto ref = type == DType::Q4_0   ? dot_q4_0x16_ref
                     : type == DType::Q5_0 ? dot_q5_0x16_ref
                     : type == DType::Q8_0 ? dot_q8_0x16_ref
                                           : dot_iq4_nlx16_ref;
    for (int t = 0; t < 8; ++t) {
      std::vector<uint8_t> blocks(dtype_row_bytes(DType::Q8_0, g.cols));
      q8.quantize_activation(test::random_normal(g.cols, 30 + t).data(), blocks.data(), g.cols);
      g.acts.emplace_back(cpu::split_q8_0_bytes(g.cols));
      cpu::split_q8_0(blocks.data(), g.acts.back().data(), g.cols);
      ref(g.group.data(), g.acts.back().data(), g.cols, g.ref[t]);
      for (int r = 0; r < rows; ++r) g.want[t][r] = qw.vec_dot(w.data() + r * dtype_row_bytes(type, g.cols), blocks.data(), g.cols);
    }
  } else if (type == DType::Q4_1 || type == DType::Q5_1) {  // against q8_1 blocks
    g.cols = 256;
    const QuantOps& qw = quant_ops(type);
    const QuantOps& q81 = quant_ops(qw.vec_dot_type);
    const size_t row_bytes = dtype_row_bytes(type, g.cols);
    std::vector<uint8_t> w(row_bytes * rows);
    qw.quantize(test::random_normal(rows * g.cols, 23).data(), w.data(), rows * g.cols);
    g.group.resize(x16_tensor_bytes(type, rows, g.cols));
    rows_to_x16(type, w.data(), rows, g.cols, g.group.data());
    for (int t = 0; t < 8; ++t) {
      g.acts.emplace_back(dtype_row_bytes(qw.vec_dot_type, g.cols));
      q81.quantize_activation(test::random_normal(g.cols, 35 + t).data(), g.acts.back().data(), g.cols);
      (type == DType::Q4_1 ? dot_q4_1x16_ref : dot_q5_1x16_ref)(g.group.data(), g.acts.back().data(), g.cols, g.ref[t]);
      for (int r = 0; r < rows; ++r) g.want[t][r] = qw.vec_dot(w.data() + r * row_bytes, g.acts.back().data(), g.cols);
    }
  } else if (type == DType::Q2_K || type == DType::Q3_K || type == DType::Q4_K || type == DType::Q5_K ||
             type == DType::Q6_K || type == DType::IQ4_XS) {
    g.cols = 512;
    const QuantOps& qw = quant_ops(type);
    const QuantOps& q8k = quant_ops(DType::Q8_K);
    const size_t row_bytes = dtype_row_bytes(type, g.cols);
    std::vector<uint8_t> w(row_bytes * rows);
    qw.quantize(test::random_normal(rows * g.cols, 41).data(), w.data(), rows * g.cols);
    g.group.resize(x16_tensor_bytes(type, rows, g.cols));
    rows_to_x16(type, w.data(), rows, g.cols, g.group.data());
    const auto ref = type == DType::Q4_K   ? dot_q4_Kx16_ref
                     : type == DType::Q5_K ? dot_q5_Kx16_ref
                     : type == DType::Q6_K ? dot_q6_Kx16_ref
                     : type == DType::Q3_K ? dot_q3_Kx16_ref
                     : type == DType::Q2_K ? dot_q2_Kx16_ref
                                           : dot_iq4_xsx16_ref;
    for (int t = 0; t < 8; ++t) {
      g.acts.emplace_back(dtype_row_bytes(DType::Q8_K, g.cols));
      q8k.quantize_activation(test::random_normal(g.cols, 50 + t).data(), g.acts.back().data(), g.cols);
      ref(g.group.data(), g.acts.back().data(), g.cols, g.ref[t]);
      for (int r = 0; r < rows; ++r) g.want[t][r] = qw.vec_dot(w.data() + r * row_bytes, g.acts.back().data(), g.cols);
    }
  } else {  // F16, BF16: the reference sums in double, the kernels in float
    const bool bf16 = type == DType::BF16;
    g.cols = 203;  // not a multiple of the kernels' column chains: their tails run too
    const auto wf = test::random_normal(rows * g.cols, 61);
    std::vector<uint16_t> w(rows * g.cols);
    for (size_t i = 0; i < w.size(); ++i) w[i] = bf16 ? float_to_bf16(wf[i]) : float_to_fp16(wf[i]);
    g.group.resize(f16x16_group_bytes(g.cols));
    repack_f16x16(w.data(), g.cols, g.group.data());
    for (int t = 0; t < 8; ++t) {
      const auto a = test::random_normal(g.cols, 70 + t);
      g.acts.emplace_back(reinterpret_cast<const uint8_t*>(a.data()), reinterpret_cast<const uint8_t*>(a.data() + a.size()));
      (bf16 ? dot_bf16x16_ref : dot_f16x16_ref)(g.group.data(), a.data(), g.cols, g.ref[t]);
      for (int r = 0; r < rows; ++r) {
        double sum = 0;
        for (int64_t c = 0; c < g.cols; ++c) {
          const uint16_t v = w[r * g.cols + c];
          sum += static_cast<double>(bf16 ? bf16_to_float(v) : fp16_to_float(v)) * a[c];
        }
        g.want[t][r] = static_cast<float>(sum);
      }
    }
  }
  return g;
}

cpu::GroupDotFn group_kernel(const cpu::KernelSet& ks, DType type) {
  switch (type) {
    case DType::Q4_0: return ks.group_q4_0x16;
    case DType::Q8_0: return ks.group_q8_0x16;
    case DType::Q5_0: return ks.group_q5_0x16;
    case DType::Q4_K: return ks.group_q4_Kx16;
    case DType::Q5_K: return ks.group_q5_Kx16;
    case DType::Q6_K: return ks.group_q6_Kx16;
    case DType::IQ4_XS: return ks.group_iq4_xsx16;
    case DType::Q3_K: return ks.group_q3_Kx16;
    case DType::Q2_K: return ks.group_q2_Kx16;
    case DType::Q4_1: return ks.group_q4_1x16;
    case DType::Q5_1: return ks.group_q5_1x16;
    case DType::IQ4_NL: return ks.group_iq4_nlx16;
    case DType::BF16: return ks.group_bf16x16;
    default: return ks.group_f16x16;
  }
}

const DType kGroupTypes[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0,   DType::Q5_1,   DType::Q8_0, DType::Q2_K, DType::Q3_K,
                             DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_NL, DType::IQ4_XS, DType::F16, DType::BF16};

}  // namespace

TEST_CASE("16-row group layouts: the scalar reference of each equals the row reference", "[kernels]") {
  for (const DType type : kGroupTypes) {
    const GroupCase g = make_group_case(type);
    for (int t = 0; t < 8; ++t)
      for (int r = 0; r < kGroupRows; ++r) {
        INFO(dtype_name(type) << " token " << t << " row " << r);
        if (type == DType::F16 || type == DType::BF16) CHECK(g.ref[t][r] == Approx(g.want[t][r]).epsilon(1e-6).margin(1e-5));
        else CHECK(g.ref[t][r] == g.want[t][r]);
      }
  }
}

// Run only where some target has the group kernels (cpu::has_group_kernels();
// the CTest entry is skipped elsewhere).
TEST_CASE("16-row group kernels on every target that has them equal the row reference", "[group_kernels]") {
  for (const DType type : kGroupTypes) {
    const GroupCase g = make_group_case(type);
    int tested = 0;
    for (const auto& ks : cpu::kernels_for_each_target()) {
      const cpu::GroupDotFn kernel = group_kernel(ks, type);
      if (!kernel) continue;
      ++tested;
      for (int nt = 1; nt <= 8; ++nt) {
        const void* a[8];
        for (int t = 0; t < nt; ++t) a[t] = g.acts[t].data();
        float out[8 * kGroupRows];
        kernel(g.group.data(), a, nt, out, g.cols);
        for (int t = 0; t < nt; ++t)
          for (int r = 0; r < kGroupRows; ++r) {
            INFO(dtype_name(type) << " " << ks.target << " nt=" << nt << " token " << t << " row " << r);
            if (type == DType::F16 || type == DType::BF16)
              CHECK(out[t * kGroupRows + r] == Approx(g.want[t][r]).epsilon(1e-5).margin(1e-4));
            else CHECK(out[t * kGroupRows + r] == g.want[t][r]);
          }
      }
    }
    INFO(dtype_name(type));
    CHECK(tested > 0);  // this entry runs only where some target has them: every type must have one
  }
}

TEST_CASE("the group kernels' instruction sets are chosen from what this CPU reports", "[kernels]") {
  std::vector<std::string> targets;
  for (const auto& ks : cpu::kernels_for_each_target()) targets.emplace_back(ks.target);
  const auto has = [&](const char* t) { return std::find(targets.begin(), targets.end(), t) != targets.end(); };
  const cpu::KernelSet& best = cpu::best_kernels();
#if defined(__aarch64__)
  // Every ARMv8 CPU runs the plain NEON ones; sdot only where the kernel says the CPU has it.
  CHECK(has("NEON"));
  CHECK(has("NEON_DOTPROD") == cpu::cpu_has_neon_dotprod());
  CHECK(has("NEON_I8MM") == cpu::cpu_has_neon_i8mm());
  REQUIRE(best.groups != nullptr);
  CHECK(std::string(best.groups) ==
        (cpu::cpu_has_neon_i8mm() ? "NEON i8mm" : cpu::cpu_has_neon_dotprod() ? "NEON dotprod" : "NEON"));
#elif defined(__x86_64__)
  CHECK(has("AVX_VNNI") == (cpu::cpu_has_avx_vnni() && has("AVX2")));
  // The AVX-VNNI code runs, in the EVEX encoding, wherever AVX-512 VNNI does and AVX-VNNI does not.
  CHECK(has("AVX_VNNI_EVEX") == (!cpu::cpu_has_avx_vnni() && cpu::cpu_has_avx512_vnni() && has("AVX2")));
  if (has("AVX3_DL") && !cpu::cpu_has_avx_vnni()) CHECK(has("AVX_VNNI_EVEX"));
  if (has("AVX3_DL")) CHECK(std::string(best.groups ? best.groups : "") == "AVX-512 VNNI");
  CHECK((!has("NEON_DOTPROD") && !has("NEON_I8MM")));
#else
  CHECK((!has("NEON_DOTPROD") && !has("NEON_I8MM")));
#endif
}
