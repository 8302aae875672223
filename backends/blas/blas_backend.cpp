// The blas backend: large matrix products (prompt processing) through
// OpenBLAS's sgemm on weights dequantized a tile at a time; everything else,
// and single-token products, as the cpu backend does them.
#include "blas/blas_backend.h"

#include <cblas.h>

#include "cpu/cpu_backend.h"

extern "C" void openblas_set_num_threads(int);  // OpenBLAS's own control of its threads

namespace edgerun {

namespace {

constexpr int64_t kTileRows = 256;

class BlasExecutor : public cpu::CpuExecutor {
 public:
  explicit BlasExecutor(const ExecutorOptions& o) : CpuExecutor(o) {
    // One pool of threads at a time: ours for dequantizing, OpenBLAS's for
    // sgemm, never both at once and never more than asked for.
    openblas_set_num_threads(threads_batch_);  // the library only ever runs prompt batches
  }

  void matmul(const Weight& wt, const Weight* bias, const Buffer& x, int n, Buffer& out) override {
    const cpu::CpuWeight& w = cpu::cw(wt);
    if (!cpu::library_gemm_pays(w, n)) return CpuExecutor::matmul(wt, bias, x, n, out);
    const int64_t cols = w.cols, rows = w.rows;
    const float* in = cpu::f(x);
    float* o = cpu::f(out);
    const QuantOps& ops = quant_ops(w.type);
    // Quantized weights see activations rounded to their 8-bit type, as on
    // the cpu backend, so both backends compute the same products.
    if (ops.vec_dot_type != DType::F32) {
      const QuantOps& aops = quant_ops(ops.vec_dot_type);
      const size_t arow = dtype_row_bytes(ops.vec_dot_type, cols);
      act8_.resize(arow);
      actf_.resize(static_cast<size_t>(n) * cols);
      for (int t = 0; t < n; ++t) {
        aops.quantize_activation(in + t * cols, act8_.data(), cols);
        aops.dequantize(act8_.data(), actf_.data() + t * cols, cols);
      }
      in = actf_.data();
    }
    tile_.resize(static_cast<size_t>(kTileRows) * cols);
    for (int64_t r0 = 0; r0 < rows; r0 += kTileRows) {
      const int64_t tr = std::min(kTileRows, rows - r0);
      pool_.parallel_for(tr, [&](int64_t a, int64_t b, int) {
        for (int64_t r = a; r < b; ++r) ops.dequantize(w.row(r0 + r), tile_.data() + r * cols, cols);
      });
      // out[t, r0 + j] = sum_k in[t, k] * tile[j, k]
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, static_cast<int>(tr), static_cast<int>(cols), 1.0f, in,
                  static_cast<int>(cols), tile_.data(), static_cast<int>(cols), 0.0f, o + r0, static_cast<int>(rows));
    }
    if (bias) {
      const float* bv = reinterpret_cast<const float*>(cpu::cw(*bias).data);
      for (int t = 0; t < n; ++t)
        for (int64_t r = 0; r < rows; ++r) o[t * rows + r] += bv[r];
    }
  }

 private:
  std::vector<float> tile_, actf_;
  std::vector<uint8_t> act8_;
};

class BlasBackend : public cpu::CpuBackend {
 public:
  std::string name() const override { return "blas"; }
  std::unique_ptr<Executor> make_executor(const ExecutorOptions& o) override { return std::make_unique<BlasExecutor>(o); }
};

}  // namespace

std::unique_ptr<Backend> make_blas_backend() { return std::make_unique<BlasBackend>(); }

}  // namespace edgerun
