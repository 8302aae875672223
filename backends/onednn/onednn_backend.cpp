// The onednn backend: large matrix products through oneDNN's matmul
// primitive on weights converted a tile at a time; everything else, and
// single-token products, as the cpu backend does them. f32 by default (the
// same products as the cpu backend, to float rounding); EDGERUN_ONEDNN_TYPE=bf16
// (where the CPU has AVX512_BF16) or =int8 (onednn_int8.h) trade exactness
// for speed.
#include "settings.h"
#include "onednn/onednn_backend.h"

#include <omp.h>

#include <cstdlib>
#include <map>
#include <oneapi/dnnl/dnnl.hpp>
#include <tuple>

#include "cpu/cpu_backend.h"
#include "onednn/onednn_int8.h"

namespace edgerun {

namespace {

constexpr int64_t kTileRows = 256;
constexpr int kInt8MinTokens = 32;

enum class Precision { F32, BF16, INT8 };

// Whether the int8 product takes n tokens of a quantized weight (measured,
// docs/BACKENDS.md; BackendSettings::gemm_min_tokens overrides it as for the float GEMM).
bool int8_pays(int n) {
  if (const int from = backend_settings().gemm_min_tokens; from > 0) return n >= from;
  return n >= kInt8MinTokens;
}

bool cpu_has_bf16() {
#if defined(__x86_64__)
  return __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

void openmp_team(int n, const std::function<void(int)>& body) {
#pragma omp parallel num_threads(n)
  body(omp_get_thread_num());
}

class OnednnExecutor : public cpu::CpuExecutor {
 public:
  OnednnExecutor(const ExecutorOptions& o, Precision p, std::shared_ptr<onednn::Int8Products> int8)
      // Our batches run on oneDNN's OpenMP threads: one set of threads, kept warm between the two.
      : CpuExecutor(o, openmp_team), int8_(std::move(int8)), engine_(int8_->engine()), stream_(engine_),
        bf16_(p == Precision::BF16), use_int8_(p == Precision::INT8) {
  }

  void matmul(const Weight& wt, const Weight* bias, const Buffer& x, int n, Buffer& out) override {
    const cpu::CpuWeight& w = cpu::cw(wt);
    const QuantOps& ops = quant_ops(w.type);
    const bool int8 = use_int8_ && ops.vec_dot_type != DType::F32 && int8_pays(n);
    if (!int8 && !cpu::library_gemm_pays(w, n)) return CpuExecutor::matmul(wt, bias, x, n, out);
    // oneDNN runs prompt batches only: -tb threads. Set here, not once: the
    // setting belongs to the calling thread, and a session may move between threads.
    omp_set_num_threads(threads_batch_);
    if (int8) {
      // Readies the cpu kernels' copy too, so that the first generated token
      // does not wait for it after an int8 prompt.
      (void)cpu::has_groups(w);
      int8_->matmul(static_cast<const onednn::OnednnWeight&>(w), cpu::f(x), n, cpu::f(out), stream_, batch_pool(), act8_,
                    act_scales_);
      return add_bias(bias, n, w.rows, cpu::f(out));
    }
    using dt = dnnl::memory::data_type;
    const int64_t K = w.cols, rows = w.rows;
    const float* in = gemm_input(w.type, cpu::f(x), n, K);
    float* o = cpu::f(out);
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
      batch_pool().parallel_for(tr, [&](int64_t a, int64_t b, int) {
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
    add_bias(bias, n, rows, o);
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

  std::shared_ptr<onednn::Int8Products> int8_;
  dnnl::engine engine_;
  dnnl::stream stream_;
  bool bf16_, use_int8_;
  std::vector<float> act_scales_;
  std::map<std::tuple<int64_t, int64_t, int64_t, int64_t, int>, dnnl::matmul> cache_;
  std::vector<float> tile_;
  std::vector<uint16_t> tile16_, src16_;
  std::vector<uint8_t> act8_;  // the int8 product's u8 activations
};

Precision wanted_precision() {
  const std::string& type = backend_settings().onednn_type;
  if (type == "f32") return Precision::F32;
  if (type == "int8") return Precision::INT8;
  if (type != "bf16") fail("onednn type", "unknown type '" + type + "' (f32, bf16 or int8)");
  if (!cpu_has_bf16()) fail("onednn type", "bf16 needs a CPU with AVX512_BF16");
  return Precision::BF16;
}

class OnednnBackend : public cpu::CpuBackend {
 public:
  OnednnBackend() : precision_(wanted_precision()) {
    try {
      int8_ = std::make_shared<onednn::Int8Products>();
    } catch (const dnnl::error& e) {
      fail("onednn", std::string("oneDNN cannot start here: ") + e.what());
    }
  }
  std::string name() const override {
    return precision_ == Precision::BF16 ? "onednn-bf16" : precision_ == Precision::INT8 ? "onednn-int8" : "onednn";
  }
  std::unique_ptr<Executor> make_executor(const ExecutorOptions& o) override {
    return std::make_unique<OnednnExecutor>(o, precision_, int8_);
  }

 protected:
  std::unique_ptr<cpu::CpuWeight> new_weight() const override { return std::make_unique<onednn::OnednnWeight>(); }

 private:
  Precision precision_;
  std::shared_ptr<onednn::Int8Products> int8_;  // the engine, and int8 primitives by shape
};

}  // namespace

std::unique_ptr<Backend> make_onednn_backend() { return std::make_unique<OnednnBackend>(); }

}  // namespace edgerun
