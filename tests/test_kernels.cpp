// Every SIMD kernel, on every Highway target this CPU supports, against the
// quant/ scalar reference.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "cpu/kernels.h"
#include "fp16.h"
#include "quant.h"

using namespace edgerun;

namespace {
std::vector<float> random_row(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}
}  // namespace

TEST_CASE("axpy kernels on every target", "[kernels]") {
  for (const auto& ks : cpu::kernels_for_each_target()) {
    for (int64_t n : {7, 64, 129}) {
      const auto x = random_row(n, 9), y0 = random_row(n, 10);
      std::vector<uint16_t> xh(n);
      for (int64_t i = 0; i < n; ++i) xh[i] = float_to_fp16(x[i]);
      std::vector<float> y32 = y0, y16 = y0;
      ks.axpy_f32(0.75f, x.data(), y32.data(), n);
      ks.axpy_f16(0.75f, xh.data(), y16.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        INFO(ks.target << " n=" << n << " i=" << i);
        CHECK(y32[i] == Approx(y0[i] + 0.75f * x[i]).epsilon(1e-6).margin(1e-6));
        CHECK(y16[i] == Approx(y0[i] + 0.75f * fp16_to_float(xh[i])).epsilon(1e-6).margin(1e-6));
      }
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
    for (DType t : {DType::Q4_0, DType::Q8_0, DType::Q4_K, DType::Q6_K, DType::F16, DType::F32}) {
      if (n % dtype_traits(t).block_size != 0) continue;
      const QuantOps& ops = quant_ops(t);
      const auto wf = random_row(n, 3 + static_cast<uint32_t>(n));
      std::vector<uint8_t> w(dtype_row_bytes(t, n));
      ops.quantize(wf.data(), w.data(), n);
      const auto af = random_row(n, 5);
      std::vector<uint8_t> act(dtype_row_bytes(ops.vec_dot_type, n));
      const QuantOps& aops = quant_ops(ops.vec_dot_type);
      aops.quantize_activation(af.data(), act.data(), n);
      std::vector<uint8_t> split(cpu::split_q8_0_bytes(n));
      if (cpu::KernelSet::takes_split_q8_0(t)) cpu::split_q8_0(act.data(), split.data(), n);
      const float ref = ops.vec_dot(w.data(), act.data(), n);
      for (const auto& ks : sets) {
        const cpu::DotFn dot = ks.dot(t);
        REQUIRE(dot);
        const float got = dot(w.data(), cpu::KernelSet::takes_split_q8_0(t) ? split.data() : act.data(), n);
        INFO(ks.target << " " << dtype_name(t) << " n=" << n << ": " << got << " vs reference " << ref);
        CHECK(std::fabs(got - ref) <= 2e-5f * (std::fabs(ref) + std::sqrt(static_cast<float>(n))));
        if (const cpu::DotNFn dotn = ks.dotn(t)) {
          // Several tokens at once: the same weights against 1..4 activation rows.
          const void* a = cpu::KernelSet::takes_split_q8_0(t) ? static_cast<const void*>(split.data()) : act.data();
          const void* acts[cpu::kMaxTokens];
          for (auto& p : acts) p = a;
          for (int nt = 1; nt <= cpu::kMaxTokens; ++nt) {
            float out[cpu::kMaxTokens];
            dotn(w.data(), acts, nt, out, n);
            for (int k = 0; k < nt; ++k) CHECK(std::fabs(out[k] - ref) <= 2e-5f * (std::fabs(ref) + std::sqrt(static_cast<float>(n))));
          }
        }
      }
    }
  }
}
