// The cpu backend's pieces, shared with the backends that build on it (blas,
// onednn take over some matrix products and leave the rest to these).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "settings.h"
#include "backend.h"
#include "common/error.h"
#include "exact_math.h"
#include "cpu/kernels.h"
#include "layouts.h"
#include "cpu/thread_pool.h"
#include "fp16.h"
#include "quant.h"

namespace edgerun::cpu {

struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};

struct CpuWeight : Weight {
  std::vector<float> owned;  // vectors (norms, biases) are kept as f32
  const uint8_t* data = nullptr;
  size_t row_bytes = 0;
  const uint8_t* row(int64_t r) const { return data + r * row_bytes; }
  // q4_0/q8_0/q4_K/q6_K/f16 rows regrouped for the group kernels (quant/layouts.h),
  // when they pay, into `owned_groups`: from the rows, or copied from a file
  // that stores them so (`file_groups`; then `data` is null: there are no rows).
  const uint8_t* file_groups = nullptr;
  const uint8_t* groups = nullptr;
  std::unique_ptr<uint8_t, FreeDeleter> owned_groups;
  size_t group_bytes = 0;
  GroupDotFn group_dot = nullptr;  // the kernel for this layout
  bool keep_mapped = false;        // TensorDesc::keep_mapped: rows read where they lie, never regrouped
  const uint8_t* group(int64_t g) const { return groups + g * group_bytes; }
  // Regrouped at the first matrix product, not at load: an embedding table
  // that is only looked up must not be copied.
  mutable std::once_flag regrouped;
};

// Regroups q4_0/q8_0/q4_K/q6_K/f16 weights (quant/layouts.h) when this CPU has the group kernel;
// then asks the kernel to drop the mapped rows from memory (they stay in the
// page cache, and come back if a row is read, e.g. for an embedding lookup).
void regroup_if_it_pays(CpuWeight& w);
// Whether w is regrouped (doing it now, once, when it pays).
inline bool has_groups(const CpuWeight& w) {
  std::call_once(w.regrouped, [&] { regroup_if_it_pays(const_cast<CpuWeight&>(w)); });
  return w.groups != nullptr;
}
// The group kernel for weights of type t on this CPU (null: none).
GroupDotFn group_kernel(DType t);

struct CpuBuffer : Buffer {
  std::vector<float> v;
};

// Per layer and KV head, n_ctx rows of head_dim keys (values) in type_k
// (type_v): floats, or q8_0/q4_0 blocks of 32 (quant/). A head's positions
// are contiguous, so attention streams each head's cache front to back.
struct CpuKV : KVCache {
  std::vector<uint8_t> k, v;
  size_t k_row = 0, v_row = 0;  // bytes of one head's row
  size_t slot(int layer, int head, int pos) const { return (static_cast<size_t>(layer) * n_head_kv + head) * n_ctx + pos; }
  uint8_t* k_at(int layer, int head, int pos) { return k.data() + slot(layer, head, pos) * k_row; }
  uint8_t* v_at(int layer, int head, int pos) { return v.data() + slot(layer, head, pos) * v_row; }
  const uint8_t* k_at(int layer, int head, int pos) const { return k.data() + slot(layer, head, pos) * k_row; }
  const uint8_t* v_at(int layer, int head, int pos) const { return v.data() + slot(layer, head, pos) * v_row; }
};

// Whether a library GEMM on weights dequantized to floats (blas, onednn)
// beats this backend's kernels for n tokens of weight type t. Measured on
// AVX-512 (docs/BACKENDS.md): the multi-token int8 kernels of q4_K/q6_K always
// win; for q4_0/q8_0 the library wins from about 384 tokens (dequantizing
// costs per call, not per token); float weights and the types with only a
// scalar kernel go to the library from a few dozen tokens.
// BackendSettings::gemm_min_tokens = N overrides the rule: the library from N
// tokens for every type (tests use it to exercise the library paths).
inline bool library_gemm_pays(const CpuWeight& w, int n) {
  if (!w.data) return false;  // groups from the file: no rows to dequantize
  if (const int from = backend_settings().gemm_min_tokens; from > 0) return n >= from;
  if (has_groups(w)) return false;  // the group kernels beat a float GEMM at every size
  switch (w.type) {
    case DType::Q4_K: case DType::Q6_K: return false;
    case DType::Q4_0: case DType::Q8_0: return n >= 384;
    default: return n >= 32;
  }
}

inline float* f(Buffer& b) { return static_cast<CpuBuffer&>(b).v.data(); }
inline const float* f(const Buffer& b) { return static_cast<const CpuBuffer&>(b).v.data(); }
inline const CpuWeight& cw(const Weight& w) { return static_cast<const CpuWeight&>(w); }

inline float dot(const float* a, const float* b, int64_t n) {
  float s = 0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

class CpuExecutor : public Executor {
 public:
  // `team`: another runtime's threads (a library backend's) to run batches on.
  explicit CpuExecutor(const ExecutorOptions& o, ThreadPool::Team team = nullptr)
      : pool_(std::max(o.n_threads, o.n_threads_batch)),
        threads_(std::max(1, o.n_threads)),
        threads_batch_(o.n_threads_batch > 0 ? o.n_threads_batch : std::max(1, o.n_threads)),
        kernels_(best_kernels()) {
    if (team) batch_pool_ = std::make_unique<ThreadPool>(threads_batch_, team);
  }

  // Threads for a job over n tokens: -t for one token, -tb for a batch.
  int threads_for(int n) const { return n > 1 ? threads_batch_ : threads_; }
  // Where a batch runs: on the library's threads when a backend brings them,
  // so that its threads and ours never wait actively side by side (a prompt
  // ran 15-25 % slower so); one token's work stays on ours, which start
  // faster (4 % in generation, measured against OpenMP's).
  ThreadPool& batch_pool() { return batch_pool_ ? *batch_pool_ : pool_; }
  ThreadPool& pool_for(int n) { return n > 1 ? batch_pool() : pool_; }

  // For a library GEMM (blas, onednn) on weights of type `weight`: the n rows
  // of activations as this backend's kernels see them — rounded to 8 bits
  // and back for quantized weights, so both compute the same products — or
  // `in` itself for float weights.
  const float* gemm_input(DType weight, const float* in, int n, int64_t cols) {
    const DType act_type = quant_ops(weight).vec_dot_type;
    if (act_type == DType::F32) return in;
    const QuantOps& aops = quant_ops(act_type);
    const size_t arow = dtype_row_bytes(act_type, cols);
    gemm_act8_.resize(arow * n);
    gemm_actf_.resize(static_cast<size_t>(n) * cols);
    batch_pool().parallel_for(n, [&](int64_t t0, int64_t t1, int) {
      for (int64_t t = t0; t < t1; ++t) {
        aops.quantize_activation(in + t * cols, gemm_act8_.data() + t * arow, cols);
        aops.dequantize(gemm_act8_.data() + t * arow, gemm_actf_.data() + t * cols, cols);
      }
    }, threads_batch_);
    return gemm_actf_.data();
  }
  // out[t, :] += bias for n rows of `rows` floats (a library GEMM leaves it out).
  static void add_bias(const Weight* bias, int n, int64_t rows, float* out) {
    if (!bias) return;
    const float* b = reinterpret_cast<const float*>(cw(*bias).data);
    for (int t = 0; t < n; ++t)
      for (int64_t r = 0; r < rows; ++r) out[t * rows + r] += b[r];
  }

  std::unique_ptr<Buffer> alloc(int64_t n) override {
    auto b = std::make_unique<CpuBuffer>();
    b->v.assign(static_cast<size_t>(n), 0.0f);
    b->size = n;
    return b;
  }

  std::unique_ptr<KVCache> alloc_kv(int n_layer, int n_ctx, int n_head_kv, int head_dim, KVType k, KVType v) override;
  void kv_shift(KVCache& kv, int from, int to, int n, const RopeParams& rope, int n_head_kv, int head_dim) override;

  void get_rows(const Weight& table, const int32_t* ids, int n, Buffer& out) override {
    const CpuWeight& w = cw(table);
    for (int t = 0; t < n; ++t) {
      if (ids[t] < 0 || ids[t] >= w.rows) fail("", "token id " + std::to_string(ids[t]) + " is outside the vocabulary");
      dequantize_row(w.type, w.row(ids[t]), f(out) + static_cast<int64_t>(t) * w.cols, w.cols);
    }
  }

  void rms_norm(const Buffer& x, const Weight& w, int n_rows, int dim, float eps, Buffer& out) override {
    const float* g = reinterpret_cast<const float*>(cw(w).data);
    const float* in = f(x);
    float* o = f(out);
    for (int r = 0; r < n_rows; ++r) {
      const float* xr = in + static_cast<int64_t>(r) * dim;
      float* orow = o + static_cast<int64_t>(r) * dim;
      // In exact_math.h's order, so that every backend gets these bits.
      const float scale = 1.0f / std::sqrt(exact_dot(xr, xr, dim) / static_cast<float>(dim) + eps);
      for (int i = 0; i < dim; ++i) orow[i] = xr[i] * scale * g[i];
    }
  }

  void matmul(const Weight& wt, const Weight* bias, const Buffer& x, int n, Buffer& out) override {
    const CpuWeight& w = cw(wt);
    const float* in = f(x);
    float* o = f(out);
    const int64_t cols = w.cols, rows = w.rows;
    const float* b = bias ? reinterpret_cast<const float*>(cw(*bias).data) : nullptr;
    const QuantOps& ops = quant_ops(w.type);
    DotFn dot = kernels_.dot(w.type);
    const DotNFn dotn = dot ? kernels_.dotn(w.type) : nullptr;
    if (!dot) dot = ops.vec_dot;  // the scalar reference
    // Quantized weights take activations quantized once per row to the 8-bit
    // type of their dot product; float weights take them as they are.
    const uint8_t* act = reinterpret_cast<const uint8_t*>(in);
    size_t act_row = cols * sizeof(float);
    if (ops.vec_dot_type != DType::F32) {
      const QuantOps& act_ops = quant_ops(ops.vec_dot_type);
      const size_t block_row = dtype_row_bytes(ops.vec_dot_type, cols);
      const bool split = has_groups(w) ? KernelSet::group_takes_split_q8_0(w.type)
                                       : dot != ops.vec_dot && KernelSet::takes_split_q8_0(w.type);
      act_row = split ? split_q8_0_bytes(cols) : block_row;
      act_.resize(act_row * n);
      blocks_.resize(split ? block_row * n : 0);
      // One token per thread at a time: for a prompt this is not negligible.
      pool_for(n).parallel_for(n, [&](int64_t t0, int64_t t1, int) {
        for (int64_t t = t0; t < t1; ++t) {
          uint8_t* dst = act_.data() + t * act_row;
          uint8_t* blocks = split ? blocks_.data() + t * block_row : dst;
          act_ops.quantize_activation(in + t * cols, blocks, cols);
          if (split) split_q8_0(blocks, dst, cols);
        }
      }, threads_for(n));
      act = act_.data();
    }
    // Tokens in tiles, so a tile's activations stay in cache while every
    // weight row passes over them.
    constexpr int kTile = 16;
    if (has_groups(w)) {  // 16 rows at a time; a group is small, so more tokens per pass over the weights
      constexpr int kGroupTile = 64;
      for (int t0 = 0; t0 < n; t0 += kGroupTile) {
        const int t1 = std::min(n, t0 + kGroupTile);
        pool_for(n).parallel_for(rows / kGroupRows, [&](int64_t g0, int64_t g1, int) {
          const void* acts[kMaxTokens];
          float res[kMaxTokens * kGroupRows];
          for (int64_t g = g0; g < g1; ++g)
            for (int t = t0; t < t1; t += kMaxTokens) {
              const int nt = std::min(kMaxTokens, t1 - t);
              for (int k = 0; k < nt; ++k) acts[k] = act + (t + k) * act_row;
              w.group_dot(w.group(g), acts, nt, res, cols);
              for (int k = 0; k < nt; ++k)
                for (int r = 0; r < kGroupRows; ++r)
                  o[(t + k) * rows + g * kGroupRows + r] = res[k * kGroupRows + r] + (b ? b[g * kGroupRows + r] : 0.0f);
            }
        }, threads_for(n));
      }
      return;
    }
    for (int t0 = 0; t0 < n; t0 += kTile) {
      const int t1 = std::min(n, t0 + kTile);
      pool_for(n).parallel_for(rows, [&](int64_t r0, int64_t r1, int) {
        const void* acts[kMaxTokens];
        float res[kMaxTokens];
        for (int64_t r = r0; r < r1; ++r) {
          const uint8_t* wr = w.row(r);
          const float br = b ? b[r] : 0.0f;
          int t = t0;
          if (dotn) {
            for (; t + 1 < t1; t += kMaxTokens) {
              const int nt = std::min(kMaxTokens, t1 - t);
              for (int k = 0; k < nt; ++k) acts[k] = act + (t + k) * act_row;
              dotn(wr, acts, nt, res, cols);
              for (int k = 0; k < nt; ++k) o[(t + k) * rows + r] = res[k] + br;
            }
          }
          for (; t < t1; ++t) o[t * rows + r] = dot(wr, act + t * act_row, cols) + br;
        }
      }, threads_for(n));
    }
  }

  void rope(Buffer& x, int n, int n_heads, int head_dim, const RopeParams& p, const int32_t* pos) override {
    float* d = f(x);
    const int half = p.n_rot / 2;
    std::vector<float> theta(half);
    for (int t = 0; t < n; ++t) {
      p.angles(pos[t], theta.data());
      for (int i = 0; i < half; ++i) {
        const float c = std::cos(theta[i]), s = std::sin(theta[i]);
        for (int h = 0; h < n_heads; ++h) {
          float* v = d + (static_cast<int64_t>(t) * n_heads + h) * head_dim;
          const int a = p.style == RopeStyle::Interleaved ? 2 * i : i;
          const int b = p.style == RopeStyle::Interleaved ? 2 * i + 1 : i + half;
          const float x0 = v[a], x1 = v[b];
          v[a] = x0 * c - x1 * s;
          v[b] = x0 * s + x1 * c;
        }
      }
    }
  }

  // cpu_attention.cpp: tiles of keys shared by every query head of a KV head,
  // spread over the threads by keys, then by value dimensions.
  using Executor::attention;
  void attention(const Buffer& q, const Buffer& k, const Buffer& v, const AttentionSeq* seqs, int n_seqs, int layer,
                 const AttentionShape& s, Buffer& out) override;
  // The kernel that makes a KV cache type's values floats (f16, q8_0, q4_0).
  KernelSet::ToF32Fn to_f32(KVType t) const;

  void swiglu(const Buffer& gate, const Buffer& up, int64_t n, Buffer& out) override {
    const float* g = f(gate);
    const float* u = f(up);
    float* o = f(out);
    // A prompt's worth is worth splitting; one token's is not.
    const bool batch = n >= (1 << 15);
    (batch ? batch_pool() : pool_).parallel_for(n, [&](int64_t i0, int64_t i1, int) {
      kernels_.silu_mul(g + i0, u + i0, o + i0, i1 - i0);
    }, batch ? threads_batch_ : 1);
  }

  // cpu_moe.cpp: Executor::moe_mlp's arithmetic, on scratch kept between calls.
  void moe_mlp(const Buffer& h, int64_t dim, const ExpertMlp* experts, const MoeRoute& route, Buffer& out) override;

  void add(Buffer& x, const Buffer& y, int64_t n) override {
    float* a = f(x);
    const float* b = f(y);
    for (int64_t i = 0; i < n; ++i) a[i] += b[i];
  }

  void copy(const Buffer& src, int64_t src_off, Buffer& dst, int64_t dst_off, int64_t n) override {
    std::memmove(f(dst) + dst_off, f(src) + src_off, static_cast<size_t>(n) * sizeof(float));
  }

  void read(const Buffer& b, float* dst, int64_t n) override { std::copy_n(f(b), n, dst); }
  void write(Buffer& b, const float* src, int64_t n) override { std::copy_n(src, n, f(b)); }

 protected:
  ThreadPool pool_;
  std::unique_ptr<ThreadPool> batch_pool_;  // on a library's threads (ThreadPool::Team), when given
  int threads_, threads_batch_;
  const KernelSet& kernels_;
  std::vector<std::vector<float>> scratch_;      // per thread: keys or values of a tile as floats
  std::vector<float> att_weights_;               // scores, then softmax weights, of the rows in a pass
  std::vector<uint8_t> act_;     // quantized activations of the current matmul
  std::vector<uint8_t> blocks_;  // one token's activation blocks before splitting
  std::vector<uint8_t> gemm_act8_;  // gemm_input()'s 8-bit rows
  std::vector<float> gemm_actf_;    // ... and the floats they stand for
  // moe_mlp's: the rows of one expert's tokens, its SwiGLU, its outputs, and
  // every (token, rank) slot's output; grown, never shrunk.
  CpuBuffer moe_in_, moe_gate_, moe_up_, moe_y_;
  std::vector<float> moe_slots_;
  std::vector<int> moe_order_, moe_start_, moe_next_;
};

class CpuBackend : public Backend {
 public:
  std::string name() const override { return "cpu"; }
  bool supports(DType t) const override { return quant_ops(t).vec_dot != nullptr; }
  bool supports_kv(KVType) const override { return true; }
  bool takes_layout(DType t, int layout) const override {
    return layout == kLayoutRows || (layout == kLayoutX16 && group_kernel(t) != nullptr);
  }

  std::unique_ptr<Weight> upload(const TensorDesc& d) override {
    if (!supports(d.type)) fail(d.name, std::string("tensor type ") + dtype_name(d.type) + " is not supported by the cpu backend");
    std::unique_ptr<CpuWeight> w = new_weight();
    w->type = d.type;
    w->rows = d.rows;
    w->cols = d.cols;
    w->name = d.name;
    w->data = static_cast<const uint8_t*>(d.data);
    w->row_bytes = dtype_row_bytes(d.type, d.cols);
    w->keep_mapped = d.keep_mapped;
    if (d.layout == kLayoutX16) {  // the group kernels read the mapped file as it is
      if (!takes_layout(d.type, d.layout) || !x16_stored(d.type, d.rows, d.cols))
        fail(d.name, "internal: the cpu backend was given a 16-row layout it cannot read");
      w->file_groups = w->data;
      w->data = nullptr;
      return w;
    }
    if (d.rows == 1 && d.type != DType::F32) {
      // Norm weights and biases are read as plain floats by the ops.
      w->owned.resize(static_cast<size_t>(d.cols));
      dequantize_row(d.type, d.data, w->owned.data(), d.cols);
      w->data = reinterpret_cast<const uint8_t*>(w->owned.data());
      w->type = DType::F32;
      w->row_bytes = d.cols * sizeof(float);
    }
    return w;
  }

  std::unique_ptr<Executor> make_executor(const ExecutorOptions& o) override {
    return std::make_unique<CpuExecutor>(o);
  }

 protected:
  // A backend built on this one may keep more per weight (onednn: an int8 copy).
  virtual std::unique_ptr<CpuWeight> new_weight() const { return std::make_unique<CpuWeight>(); }
};

}  // namespace edgerun::cpu

namespace edgerun {
std::unique_ptr<Backend> make_cpu_backend();
}  // namespace edgerun
