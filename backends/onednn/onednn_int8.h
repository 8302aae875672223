// oneDNN's int8 matrix product for the onednn backend (EDGERUN_ONEDNN_TYPE=int8):
// u8 activations times s8 weights on VNNI, s32 sums scaled to f32.
//
// oneDNN 2.6 scales a product per output column only, so a quantized weight's
// per-block scales (q4_0/q8_0: one per 32 weights) cannot be kept: each weight
// row is requantized to s8 with one scale, and each token's activations to u8
// with one scale and zero point 128. That is coarser than the cpu's 8-bit
// blocks — a different, lossier product, which is why int8 is a choice, never
// the default (docs/BACKENDS.md has its measured error and speed).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <utility>
#include <vector>

#include "cpu/cpu_backend.h"

namespace edgerun::onednn {

// A weight matrix requantized once, in the layout oneDNN's int8 matmul
// prefers for its shape (reordered at the first product that uses it).
struct Int8Matrix {
  dnnl::memory weights;           // s8 [K, N]
  std::vector<float> row_scales;  // weight row n ~= row_scales[n] * q[n, :]
};

// What the onednn backend keeps per weight beyond the cpu backend's.
struct OnednnWeight : cpu::CpuWeight {
  mutable std::once_flag int8_once;
  mutable std::unique_ptr<Int8Matrix> int8;
};

// The engine and the int8 primitives, one per matrix shape, shared by a
// backend's sessions (the weights' layout is the primitive's choice).
class Int8Products {
 public:
  Int8Products() : engine_(dnnl::engine::kind::cpu, 0) {}
  const dnnl::engine& engine() const { return engine_; }

  // out[t, :] = W x[t, :] for n tokens (no bias). `act` and `scales` are the
  // caller's scratch; `pool` quantizes the weight at first use and scales outputs.
  void matmul(const OnednnWeight& w, const float* x, int n, float* out, dnnl::stream& stream, ThreadPool& pool,
              std::vector<uint8_t>& act, std::vector<float>& scales);

 private:
  struct Shape {
    dnnl::matmul::primitive_desc pd;
    dnnl::matmul prim;
  };
  const Shape& shape(int64_t K, int64_t N);
  const Int8Matrix& matrix(const OnednnWeight& w, ThreadPool& pool);

  dnnl::engine engine_;
  std::mutex mutex_;
  std::map<std::pair<int64_t, int64_t>, Shape> shapes_;
};

// Quantizes n floats to u8 around 128 with one scale (returned): x ~= scale * (q - 128).
float quantize_u8(const float* x, int64_t n, uint8_t* q);
// Quantizes n floats to s8 with one scale (returned): x ~= scale * q.
float quantize_s8(const float* x, int64_t n, int8_t* q);

}  // namespace edgerun::onednn
