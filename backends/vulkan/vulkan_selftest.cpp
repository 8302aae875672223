// The numeric self-test a device passes before it is used, and the speed
// check `auto` adds. Small problems of every op and weight type run on the
// device and on the cpu backend. The shaders compute the cpu's bits
// (docs/NUMERICS.md); a device that misses them by float rounding is still
// used (its note says where: e.g. an fma that is not fused), one that misses
// by more is not (peers' GPU paths print gibberish on several integrated and
// mobile drivers).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "cpu/cpu_backend.h"
#include "fp16.h"
#include "quant.h"
#include "vulkan_backend_impl.h"

namespace edgerun::vk {

namespace {

struct Rng {
  uint64_t s = 0x9E3779B97F4A7C15ull;
  float next() {  // uniform in [-1, 1)
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<float>(static_cast<int32_t>(s >> 32)) / 2147483648.0f;
  }
  std::vector<float> vec(size_t n, float scale = 1.0f) {
    std::vector<float> v(n);
    for (auto& x : v) x = next() * scale;
    return v;
  }
};

// Weight data of `type` made from floats, in GGUF layout.
std::vector<uint8_t> encode(DType type, const std::vector<float>& f, int64_t rows, int64_t cols) {
  std::vector<uint8_t> out(dtype_row_bytes(type, cols) * rows);
  if (type == DType::F32) {
    std::memcpy(out.data(), f.data(), out.size());
  } else if (type == DType::F16) {
    for (size_t i = 0; i < f.size(); ++i) reinterpret_cast<uint16_t*>(out.data())[i] = float_to_fp16(f[i]);
  } else {
    quant_ops(type).quantize(f.data(), out.data(), rows * cols);
  }
  return out;
}

// Fails beyond `rel`; notes the first op that is not exact in *inexact (when given).
void compare(const std::string& what, const std::vector<float>& got, const std::vector<float>& want, double rel,
             std::string* inexact) {
  double max_ref = 0, max_diff = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    max_ref = std::max(max_ref, static_cast<double>(std::fabs(want[i])));
    const double d = std::fabs(static_cast<double>(got[i]) - want[i]);
    max_diff = std::isnan(d) ? INFINITY : std::max(max_diff, d);
  }
  if (!(max_diff <= rel * (max_ref + 1e-3))) {
    char msg[256];
    std::snprintf(msg, sizeof msg, "failed its numeric self-test: %s differs from the cpu by %.3g (largest value %.3g)",
                  what.c_str(), max_diff, max_ref);
    fail("vulkan", msg);
  }
  if (max_diff > 0 && inexact && inexact->empty()) {
    char msg[256];
    std::snprintf(msg, sizeof msg, "%s differs from the cpu's by %.3g (largest value %.3g)", what.c_str(), max_diff, max_ref);
    *inexact = msg;
  }
}

struct Pair {  // the same buffers on the device and on the cpu
  Executor& gpu;
  Executor& cpu;
  std::string* inexact;
  std::vector<std::unique_ptr<Buffer>> g, c;
  int make(const std::vector<float>& init) {
    g.push_back(gpu.alloc(static_cast<int64_t>(init.size())));
    c.push_back(cpu.alloc(static_cast<int64_t>(init.size())));
    gpu.write(*g.back(), init.data(), static_cast<int64_t>(init.size()));
    cpu.write(*c.back(), init.data(), static_cast<int64_t>(init.size()));
    return static_cast<int>(g.size()) - 1;
  }
  void check(const std::string& what, int i, double rel, bool must_be_exact = true) {
    const int64_t n = c[i]->size;
    std::vector<float> a(n), b(n);
    gpu.read(*g[i], a.data(), n);
    cpu.read(*c[i], b.data(), n);
    compare(what, a, b, rel, must_be_exact ? inexact : nullptr);
  }
};

}  // namespace

std::string self_test(VkBackend& be) {
  auto cpu_be = make_cpu_backend();
  ExecutorOptions eo;
  auto gpu = be.make_executor(eo);
  auto cpu = cpu_be->make_executor(eo);
  Rng rng;
  std::string inexact;
  Pair p{*gpu, *cpu, &inexact, {}, {}};

  // Matrix-vector and matrix products of every shader type, against the cpu
  // backend's of the same weights. 70 rows (more than one 64-row tile), 40
  // tokens (the tiled prompt shader), 3 and 1 (matvec).
  const int64_t rows = 70, cols = 512;
  const int NT = 40;
  const std::vector<float> x = rng.vec(NT * cols);
  for (DType t : {DType::F32, DType::F16, DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::IQ4_NL,
                  DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_XS}) {
    const auto data = encode(t, rng.vec(rows * cols), rows, cols);
    const auto bias = rng.vec(rows);
    auto w = be.upload({"self-test", t, rows, cols, data.data()});
    auto b = be.upload({"self-test bias", DType::F32, 1, rows, bias.data()});
    auto wc = cpu_be->upload({"self-test", t, rows, cols, data.data()});
    auto bc = cpu_be->upload({"self-test bias", DType::F32, 1, rows, bias.data()});
    const int in = p.make(x), out = p.make(std::vector<float>(NT * rows));
    // Quantized: one 8-bit activation rounding a step off (a device that is not exact) moves a product that much.
    const double tol = is_quantized(t) ? 5e-4 : 1e-4;
    for (const int n : {NT, 3, 1}) {  // the single-token product without the bias
      gpu->matmul(*w, n > 1 ? b.get() : nullptr, *p.g[in], n, *p.g[out]);
      cpu->matmul(*wc, n > 1 ? bc.get() : nullptr, *p.c[in], n, *p.c[out]);
      // Float weights are multiplied in the device's own order (their products round nothing afterwards).
      p.check(std::string("a ") + dtype_name(t) + " product of " + std::to_string(n) + " tokens", out, tol,
              is_quantized(t));
    }
    {  // the embedding lookup
      const int32_t ids[2] = {7, 31};
      std::vector<float> want(2 * cols);
      for (int i = 0; i < 2; ++i)
        dequantize_row(t, data.data() + ids[i] * dtype_row_bytes(t, cols), want.data() + i * cols, cols);
      auto e = gpu->alloc(2 * cols);
      std::vector<float> rows_got(2 * cols);
      gpu->get_rows(*w, ids, 2, *e);
      gpu->read(*e, rows_got.data(), 2 * cols);
      compare(std::string("a ") + dtype_name(t) + " embedding lookup", rows_got, want, 1e-6, &inexact);
    }
  }

  // The other ops, against the cpu executor: a 2-token step after a 5-token
  // prompt, 4 query heads sharing 2 KV heads of 64 dims.
  const int n_head = 4, n_kv = 2, hd = 64, n_ctx = 16;
  const std::vector<float> gain = rng.vec(n_head * hd);
  auto gw = be.upload({"self-test norm", DType::F32, 1, n_head * hd, gain.data()});
  auto gc = cpu_be->upload({"self-test norm", DType::F32, 1, n_head * hd, gain.data()});
  RopeParams rope;
  rope.n_rot = hd;
  rope.theta_scale = std::pow(10000.0f, -2.0f / hd);
  rope.freq_factors.assign(hd / 2, 1.0f);
  for (KVType kvt : {KVType::F32, KVType::F16}) {
    auto kg = gpu->alloc_kv(1, n_ctx, n_kv, hd, kvt, kvt);
    auto kc = cpu->alloc_kv(1, n_ctx, n_kv, hd, kvt, kvt);
    int pos0 = 0;
    for (int n : {5, 2}) {
      const int q = p.make(rng.vec(n * n_head * hd, 3.0f)), k = p.make(rng.vec(n * n_kv * hd, 3.0f)),
                v = p.make(rng.vec(n * n_kv * hd)), o = p.make(std::vector<float>(n * n_head * hd));
      std::vector<int32_t> pos(n);
      for (int t = 0; t < n; ++t) pos[t] = pos0 + t;
      rope.style = n == 5 ? RopeStyle::Neox : RopeStyle::Interleaved;
      const AttentionShape shape{n_head, n_kv, hd, 0.125f};
      for (int side = 0; side < 2; ++side) {
        Executor& ex = side ? *cpu : *gpu;
        auto& b = side ? p.c : p.g;
        ex.rms_norm(*b[q], side ? *gc : *gw, n, n_head * hd, 1e-5f, *b[q]);
        ex.rope(*b[q], n, n_head, hd, rope, pos.data());
        ex.rope(*b[k], n, n_kv, hd, rope, pos.data());
        ex.attention(*b[q], *b[k], *b[v], side ? *kc : *kg, 0, pos0, n, shape, *b[o]);
        ex.swiglu(*b[q], *b[o], n * n_head * hd, *b[q]);
        ex.add(*b[o], *b[q], n * n_head * hd);
        ex.copy(*b[o], (n - 1) * n_head * hd, *b[o], 0, n_head * hd);
      }
      p.check(std::string("attention with RoPE and norms (") + (kvt == KVType::F16 ? "f16" : "f32") + " cache)", o,
              1e-4);
      pos0 += n;
    }
  }
  return inexact;
}

void check_faster_than_cpu(VkBackend& be) {
  // A bandwidth-bound product like one token's, 8 in one submission as in a
  // forward pass; the cpu with every hardware thread.
  const int64_t rows = 4096, cols = 4096;
  Rng rng;
  const auto data = encode(DType::Q4_0, rng.vec(rows * cols), rows, cols);
  const auto x = rng.vec(cols);
  auto cpu_be = make_cpu_backend();
  ExecutorOptions eo;
  eo.n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto time = [&](Backend& b) {
    auto w = b.upload({"speed check", DType::Q4_0, rows, cols, data.data()});
    auto ex = b.make_executor(eo);
    auto in = ex->alloc(cols), out = ex->alloc(rows);
    ex->write(*in, x.data(), cols);
    float sink = 0;
    double best = 1e30;
    for (int rep = 0; rep < 4; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < 8; ++i) ex->matmul(*w, nullptr, *in, 1, *out);
      ex->read(*out, &sink, 1);
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return best / 8;
  };
  const double g = time(be), c = time(*cpu_be);
  if (g >= c) {
    char msg[200];
    std::snprintf(msg, sizeof msg, "%s is slower than the cpu here (%.2f ms vs %.2f ms per 4096x4096 q4_0 product)",
                  be.device_name().c_str(), g * 1e3, c * 1e3);
    fail("vulkan", msg);
  }
}

}  // namespace edgerun::vk
