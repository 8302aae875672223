// The onednn backend: large matrix products through oneDNN's matmul
// primitive on weights converted a tile at a time; everything else, and
// single-token products, as the cpu backend does them. f32 by default (the
// same products as the cpu backend, to float rounding); EDGERUN_ONEDNN_TYPE=bf16
// trades exactness for speed where the CPU has AVX512_BF16.
#include "onednn/onednn_backend.h"

#include <omp.h>

#include <cstdlib>
#include <map>
#include <oneapi/dnnl/dnnl.hpp>
#include <tuple>

#include "cpu/cpu_backend.h"

namespace edgerun {

namespace {

constexpr int64_t kTileRows = 256;

bool cpu_has_bf16() {
#if defined(__x86_64__)
  return __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

class OnednnExecutor : public cpu::CpuExecutor {
 public:
  OnednnExecutor(const ExecutorOptions& o, bool bf16)
      : CpuExecutor(o), engine_(dnnl::engine::kind::cpu, 0), stream_(engine_), bf16_(bf16) {
    omp_set_num_threads(threads_batch_);  // oneDNN runs prompt batches only: -tb threads, never beside ours
  }

  void matmul(const Weight& wt, const Weight* bias, const Buffer& x, int n, Buffer& out) override {
    const cpu::CpuWeight& w = cpu::cw(wt);
    if (!cpu::library_gemm_pays(w, n)) return CpuExecutor::matmul(wt, bias, x, n, out);
    using dt = dnnl::memory::data_type;
    const int64_t K = w.cols, rows = w.rows;
    const float* in = cpu::f(x);
    float* o = cpu::f(out);
    const QuantOps& ops = quant_ops(w.type);
    // Quantized weights see activations rounded to their 8-bit type, as on the cpu backend.
    if (ops.vec_dot_type != DType::F32) {
      const QuantOps& aops = quant_ops(ops.vec_dot_type);
      act8_.resize(dtype_row_bytes(ops.vec_dot_type, K));
      actf_.resize(static_cast<size_t>(n) * K);
      for (int t = 0; t < n; ++t) {
        aops.quantize_activation(in + t * K, act8_.data(), K);
        aops.dequantize(act8_.data(), actf_.data() + t * K, K);
      }
      in = actf_.data();
    }
    const dt wdt = bf16_ ? dt::bf16 : dt::f32;
    const void* src = in;
    if (bf16_) {
      src16_.resize(static_cast<size_t>(n) * K);
      for (size_t i = 0; i < src16_.size(); ++i) src16_[i] = float_to_bf16(in[i]);
      src = src16_.data();
    }
    tile_.resize(static_cast<size_t>(kTileRows) * K);
    tile16_.resize(bf16_ ? static_cast<size_t>(kTileRows) * K : 0);
    for (int64_t r0 = 0; r0 < rows; r0 += kTileRows) {
      const int64_t tr = std::min(kTileRows, rows - r0);
      pool_.parallel_for(tr, [&](int64_t a, int64_t b, int) {
        for (int64_t r = a; r < b; ++r) {
          float* row = tile_.data() + r * K;
          ops.dequantize(w.row(r0 + r), row, K);
          if (bf16_)
            for (int64_t k = 0; k < K; ++k) tile16_[r * K + k] = float_to_bf16(row[k]);
        }
      });
      const dnnl::matmul& mm = primitive(n, tr, K, rows, wdt);
      dnnl::memory::desc sd({n, K}, wdt, dnnl::memory::format_tag::ab);
      dnnl::memory::desc wd({K, tr}, wdt, dnnl::memory::format_tag::ba);  // our rows are B's columns
      dnnl::memory::desc dd({n, tr}, dt::f32, dnnl::memory::dims{rows, 1});
      dnnl::memory sm(sd, engine_, const_cast<void*>(src));
      dnnl::memory wm(wd, engine_, bf16_ ? static_cast<void*>(tile16_.data()) : static_cast<void*>(tile_.data()));
      dnnl::memory dm(dd, engine_, o + r0);
      mm.execute(stream_, {{DNNL_ARG_SRC, sm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, dm}});
      stream_.wait();
    }
    if (bias) {
      const float* bv = reinterpret_cast<const float*>(cpu::cw(*bias).data);
      for (int t = 0; t < n; ++t)
        for (int64_t r = 0; r < rows; ++r) o[t * rows + r] += bv[r];
    }
  }

 private:
  // Primitives by shape, made once: creating one costs far more than running it.
  const dnnl::matmul& primitive(int64_t n, int64_t tr, int64_t K, int64_t ldc, dnnl::memory::data_type wdt) {
    const auto key = std::make_tuple(n, tr, K, ldc, static_cast<int>(wdt));
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    dnnl::memory::desc sd({n, K}, wdt, dnnl::memory::format_tag::ab);
    dnnl::memory::desc wd({K, tr}, wdt, dnnl::memory::format_tag::ba);
    dnnl::memory::desc dd({n, tr}, dnnl::memory::data_type::f32, dnnl::memory::dims{ldc, 1});
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(sd, wd, dd), engine_);
    return cache_.emplace(key, dnnl::matmul(pd)).first->second;
  }

  dnnl::engine engine_;
  dnnl::stream stream_;
  bool bf16_;
  std::map<std::tuple<int64_t, int64_t, int64_t, int64_t, int>, dnnl::matmul> cache_;
  std::vector<float> tile_, actf_;
  std::vector<uint16_t> tile16_, src16_;
  std::vector<uint8_t> act8_;
};

bool want_bf16() {
  const char* t = std::getenv("EDGERUN_ONEDNN_TYPE");
  const std::string type = t ? t : "f32";
  if (type == "f32") return false;
  if (type != "bf16") fail("EDGERUN_ONEDNN_TYPE", "unknown type '" + type + "' (f32 or bf16)");
  if (!cpu_has_bf16()) fail("EDGERUN_ONEDNN_TYPE", "bf16 needs a CPU with AVX512_BF16");
  return true;
}

class OnednnBackend : public cpu::CpuBackend {
 public:
  OnednnBackend() : bf16_(want_bf16()) {
    try {
      dnnl::engine probe(dnnl::engine::kind::cpu, 0);
      (void)probe;
    } catch (const dnnl::error& e) {
      fail("onednn", std::string("oneDNN cannot start here: ") + e.what());
    }
  }
  std::string name() const override { return bf16_ ? "onednn-bf16" : "onednn"; }
  std::unique_ptr<Executor> make_executor(const ExecutorOptions& o) override {
    return std::make_unique<OnednnExecutor>(o, bf16_);
  }

 private:
  bool bf16_;
};

}  // namespace

std::unique_ptr<Backend> make_onednn_backend() { return std::make_unique<OnednnBackend>(); }

}  // namespace edgerun
