#include "onednn/onednn_int8.h"

#include <algorithm>
#include <cmath>

#include "layouts.h"
#include "quant.h"

namespace edgerun::onednn {

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

float abs_max(const float* x, int64_t n) {
  float m = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(x[i]));
  return m;
}

// Rows r0..r0+count-1 of w as floats: from the cpu kernels' 16-row groups
// when it has them (already in memory), else from the rows, else from the
// groups a converted file stores in their place.
void float_rows(const cpu::CpuWeight& w, int64_t r0, int64_t count, std::vector<uint8_t>& tmp, float* out) {
  const QuantOps& ops = quant_ops(w.type);
  const uint8_t* rows = nullptr;
  const uint8_t* groups = w.groups ? w.groups : w.data ? nullptr : w.file_groups;
  if (groups && r0 % kGroupRows == 0 && count == kGroupRows) {
    const size_t group = x16_tensor_bytes(w.type, kGroupRows, w.cols);
    tmp.resize(group);
    x16_to_rows(w.type, groups + (r0 / kGroupRows) * group, kGroupRows, w.cols, tmp.data());
    rows = tmp.data();
  } else {
    rows = w.row(r0);
  }
  for (int64_t r = 0; r < count; ++r) ops.dequantize(rows + r * w.row_bytes, out + r * w.cols, w.cols);
}

// Round to nearest, ties to even, in a form the compiler vectorizes (|v| < 2^22).
inline float round_even(float v) {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23: adding it leaves no fraction bits
  return (v + kMagic) - kMagic;
}

}  // namespace

float quantize_u8(const float* x, int64_t n, uint8_t* q) {
  const float amax = abs_max(x, n);
  const float scale = amax / 127.0f, inv = amax > 0 ? 127.0f / amax : 0.0f;
  for (int64_t i = 0; i < n; ++i) q[i] = static_cast<uint8_t>(static_cast<int>(round_even(x[i] * inv)) + 128);
  return scale;
}

float quantize_s8(const float* x, int64_t n, int8_t* q) {
  const float amax = abs_max(x, n);
  const float scale = amax / 127.0f, inv = amax > 0 ? 127.0f / amax : 0.0f;
  for (int64_t i = 0; i < n; ++i) q[i] = static_cast<int8_t>(round_even(x[i] * inv));
  return scale;
}

const Int8Products::Shape& Int8Products::shape(int64_t K, int64_t N) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = shapes_.find({K, N});
  if (it != shapes_.end()) return it->second;
  // Any number of tokens with one primitive: the weights' layout must not
  // depend on the batch, since they are reordered only once.
  dnnl::memory::desc sd({DNNL_RUNTIME_DIM_VAL, K}, dt::u8, tag::ab);
  dnnl::memory::desc wd({K, N}, dt::s8, tag::any);
  dnnl::memory::desc dd({DNNL_RUNTIME_DIM_VAL, N}, dt::f32, tag::ab);
  dnnl::primitive_attr attr;
  attr.set_output_scales(1 << 1, {DNNL_RUNTIME_F32_VAL});  // per output column: the weight rows' scales
  attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(sd, wd, dd), attr, engine_);
  Shape s{pd, dnnl::matmul(pd)};
  return shapes_.emplace(std::make_pair(K, N), std::move(s)).first->second;
}

const Int8Matrix& Int8Products::matrix(const OnednnWeight& w, ThreadPool& pool) {
  std::call_once(w.int8_once, [&] {
    const int64_t K = w.cols, N = w.rows;
    auto m = std::make_unique<Int8Matrix>();
    m->row_scales.resize(static_cast<size_t>(N));
    // Our rows are the columns of oneDNN's [K, N] weights: plain layout "ba".
    // Quantized straight into the primitive's memory when that is its layout
    // (gemm:jit's, as it happens), else into a plain copy that is reordered.
    const Shape& s = shape(K, N);
    const dnnl::memory::desc plain_desc({K, N}, dt::s8, tag::ba);
    m->weights = dnnl::memory(s.pd.weights_desc(), engine_);
    const bool direct = s.pd.weights_desc() == plain_desc;
    std::unique_ptr<int8_t[]> plain(direct ? nullptr : new int8_t[static_cast<size_t>(K) * N]);
    int8_t* q = direct ? static_cast<int8_t*>(m->weights.get_data_handle()) : plain.get();
    std::vector<std::vector<float>> rows(static_cast<size_t>(pool.size()));
    std::vector<std::vector<uint8_t>> tmp(static_cast<size_t>(pool.size()));
    const int64_t n_groups = (N + kGroupRows - 1) / kGroupRows;
    pool.parallel_for(n_groups, [&](int64_t g0, int64_t g1, int tid) {
      rows[tid].resize(static_cast<size_t>(kGroupRows) * K);
      for (int64_t g = g0; g < g1; ++g) {
        const int64_t r0 = g * kGroupRows, count = std::min<int64_t>(kGroupRows, N - r0);
        float_rows(w, r0, count, tmp[tid], rows[tid].data());
        for (int64_t r = 0; r < count; ++r)
          m->row_scales[r0 + r] = quantize_s8(rows[tid].data() + r * K, K, q + (r0 + r) * K);
      }
    });
    if (!direct) {
      dnnl::stream stream(engine_);
      dnnl::memory src(plain_desc, engine_, plain.get());
      dnnl::reorder(src, m->weights).execute(stream, src, m->weights);
      stream.wait();
    }
    w.int8 = std::move(m);
  });
  return *w.int8;
}

void Int8Products::matmul(const OnednnWeight& w, const float* x, int n, float* out, dnnl::stream& stream,
                          ThreadPool& pool, std::vector<uint8_t>& act, std::vector<float>& scales) {
  const Int8Matrix& m = matrix(w, pool);
  const int64_t K = w.cols, N = w.rows;
  act.resize(static_cast<size_t>(n) * K);
  scales.resize(static_cast<size_t>(n));
  pool.parallel_for(n, [&](int64_t t0, int64_t t1, int) {
    for (int64_t t = t0; t < t1; ++t) scales[t] = quantize_u8(x + t * K, K, act.data() + t * K);
  });
  const Shape& s = shape(K, N);
  int32_t zero_point = 128;
  dnnl::memory src({{n, K}, dt::u8, tag::ab}, engine_, act.data());
  dnnl::memory dst({{n, N}, dt::f32, tag::ab}, engine_, out);
  dnnl::memory col_scales({{N}, dt::f32, tag::a}, engine_, const_cast<float*>(m.row_scales.data()));
  dnnl::memory zp({{1}, dt::s32, tag::a}, engine_, &zero_point);
  s.prim.execute(stream, {{DNNL_ARG_SRC, src},
                          {DNNL_ARG_WEIGHTS, m.weights},
                          {DNNL_ARG_DST, dst},
                          {DNNL_ARG_ATTR_OUTPUT_SCALES, col_scales},
                          {DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, zp}});
  stream.wait();
  // Each token's own activation scale, which oneDNN 2.6 cannot apply per row.
  pool.parallel_for(n, [&](int64_t t0, int64_t t1, int) {
    for (int64_t t = t0; t < t1; ++t)
      for (int64_t r = 0; r < N; ++r) out[t * N + r] *= scales[t];
  });
}

}  // namespace edgerun::onednn
