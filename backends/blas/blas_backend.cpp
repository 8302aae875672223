// The blas backend: large matrix products (prompt processing) through
// OpenBLAS's sgemm on weights dequantized a tile of rows at a time; everything else,
// and single-token products, as the cpu backend does them.
#include "blas/blas_backend.h"

#include <cblas.h>

#include <algorithm>

#include "cpu/cpu_backend.h"

extern "C" void openblas_set_num_threads(int);  // OpenBLAS's own control of its threads

namespace edgerun {

namespace {

constexpr int64_t kTileRows = 256;

class BlasExecutor : public cpu::CpuExecutor {
 public:
  explicit BlasExecutor(const ExecutorOptions& o) : CpuExecutor(o) {
    // OpenBLAS runs on the calling thread; our threads split the rows among
    // themselves. One set of threads: none of OpenBLAS's spinning beside ours.
    openblas_set_num_threads(1);
  }

  void matmul(const Weight& wt, const Weight* bias, const Buffer& x, int n, Buffer& out) override {
    const cpu::CpuWeight& w = cpu::cw(wt);
    if (!cpu::library_gemm_pays(w, n)) return CpuExecutor::matmul(wt, bias, x, n, out);
    const int64_t cols = w.cols, rows = w.rows;
    const float* in = gemm_input(w.type, cpu::f(x), n, cols);
    float* o = cpu::f(out);
    const QuantOps& ops = quant_ops(w.type);
    // Tiles of rows, a few per thread, each dequantized by the thread that multiplies it.
    const int64_t per_thread = (rows + threads_batch_ - 1) / threads_batch_;
    const int64_t tile_rows = std::clamp<int64_t>((per_thread / 4 + 15) / 16 * 16, 16, kTileRows);
    tiles_.resize(static_cast<size_t>(pool_.size()));
    pool_.parallel_for((rows + tile_rows - 1) / tile_rows, [&](int64_t i0, int64_t i1, int tid) {
      std::vector<float>& tile = tiles_[tid];
      tile.resize(static_cast<size_t>(tile_rows) * cols);
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t r0 = i * tile_rows, tr = std::min(tile_rows, rows - r0);
        for (int64_t r = 0; r < tr; ++r) ops.dequantize(w.row(r0 + r), tile.data() + r * cols, cols);
        // out[t, r0 + j] = sum_k in[t, k] * tile[j, k]
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, static_cast<int>(tr), static_cast<int>(cols), 1.0f, in,
                    static_cast<int>(cols), tile.data(), static_cast<int>(cols), 0.0f, o + r0, static_cast<int>(rows));
      }
    }, threads_batch_);
    add_bias(bias, n, rows, o);
  }

 private:
  std::vector<std::vector<float>> tiles_;  // one per thread
};

class BlasBackend : public cpu::CpuBackend {
 public:
  std::string name() const override { return "blas"; }
  std::unique_ptr<Executor> make_executor(const ExecutorOptions& o) override { return std::make_unique<BlasExecutor>(o); }
};

}  // namespace

std::unique_ptr<Backend> make_blas_backend() { return std::make_unique<BlasBackend>(); }

}  // namespace edgerun
