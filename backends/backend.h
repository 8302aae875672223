// The one interface every backend implements (cpu, blas, onednn, vulkan).
//
// A Backend owns what belongs to a model on a device: its resident weights
// (uploaded once, possibly repacked or copied to GPU memory). An Executor is
// what a session computes with: activation buffers, the KV cache and the ops.
// Activations stay inside the executor's buffers between ops, so a GPU backend
// can record a whole layer (or the whole graph) and submit it at sync(); only
// token ids go in and logits come out through read().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "types.h"

namespace edgerun {

// A tensor as the loader hands it over: data stays in the caller's memory
// (usually the mapped model file) for as long as the Backend lives.
struct TensorDesc {
  std::string name;
  DType type = DType::F32;
  int64_t rows = 1;  // output features (1 for vectors)
  int64_t cols = 0;  // input features: elements in one row
  const void* data = nullptr;
  int layout = 0;    // kLayoutRows, or kLayoutX16 (quant/layouts.h) where the backend takes it
  // Read where it lies, never copied into memory of the backend's own (the
  // experts of a MoE model larger than memory: pages come and go with the
  // experts chosen). A GPU backend uploads it anyway.
  bool keep_mapped = false;
};

// A weight resident on a backend. Matrices are [rows, cols] and multiply
// activations as y = W x, one row of W per output feature.
class Weight {
 public:
  virtual ~Weight() = default;
  DType type = DType::F32;
  int64_t rows = 0, cols = 0;
  std::string name;
};

// An activation buffer of floats, living wherever the executor computes.
class Buffer {
 public:
  virtual ~Buffer() = default;
  int64_t size = 0;  // in floats
};

enum class RopeStyle {
  Interleaved,  // rotates adjacent pairs (x[2i], x[2i+1]) (llama GGUF, llama2.c)
  Neox,         // rotates (x[i], x[i + n_rot/2]) (qwen2, qwen3, HF "rotate_half")
};

struct RopeParams {
  RopeStyle style = RopeStyle::Interleaved;
  int n_rot = 0;              // leading dimensions of each head that rotate
  float theta_scale = 1.0f;   // base^(-2/n_rot): pair i turns by pos * theta_scale^i
  std::vector<float> freq_factors;  // n_rot/2 divisors (Llama 3 scaling), all 1 when absent
  float freq_scale = 1.0f;    // linear RoPE scaling: positions are multiplied by this

  // The angles of the n_rot/2 pairs at `pos`. The power is built by repeated
  // float multiplication, as llama.cpp does, so the angles match its bits.
  void angles(int pos, float* out) const {
    float theta = static_cast<float>(pos);
    for (int i = 0; i < n_rot / 2; ++i) {
      out[i] = freq_scale * (theta / freq_factors[i]);
      theta *= theta_scale;
    }
  }
};

// How keys and values are kept. Quantized caches hold blocks of 32 values
// (quant/): q8_0 about half of f16's bytes, q4_0 about a quarter.
enum class KVType { F32, F16, Q8_0, Q4_0 };

const char* kv_type_name(KVType t);
// "f32", "f16", "q8_0", "q4_0"; false for anything else.
bool parse_kv_type(const std::string& s, KVType* out);
// Bytes of one cache row of `width` values (a multiple of 32 for the quantized types).
size_t kv_row_bytes(KVType t, int64_t width);
inline bool kv_quantized(KVType t) { return t == KVType::Q8_0 || t == KVType::Q4_0; }

struct AttentionShape {
  int n_head = 0, n_head_kv = 0, head_dim = 0;
  float scale = 1.0f;  // applied to q.k
};

class KVCache {
 public:
  virtual ~KVCache() = default;
  int n_layer = 0, n_ctx = 0, n_head_kv = 0, head_dim = 0, kv_dim = 0;  // kv_dim = n_head_kv * head_dim
  KVType type_k = KVType::F32, type_v = KVType::F32;
};

// The rows of one sequence in a batch of several (Executor::attention).
struct AttentionSeq {
  KVCache* kv = nullptr;  // the sequence's own cache
  int pos0 = 0;           // position of its first row
  int n = 0;              // its rows, consecutive in the batch
};

// One expert of a mixture-of-experts MLP: a SwiGLU of its own.
struct ExpertMlp {
  const Weight* gate = nullptr;
  const Weight* up = nullptr;
  const Weight* down = nullptr;
};

// What a router chose for n tokens: for token t, experts expert[t*k + r]
// with weights weight[t*k + r], r = 0..k-1 in rank order (host memory).
struct MoeRoute {
  int n = 0, k = 0;
  const int32_t* expert = nullptr;
  const float* weight = nullptr;
};

class Executor {
 public:
  virtual ~Executor() = default;

  virtual std::unique_ptr<Buffer> alloc(int64_t n_floats) = 0;
  // Keys of type k, values of type v (Backend::supports_kv for both).
  virtual std::unique_ptr<KVCache> alloc_kv(int n_layer, int n_ctx, int n_head_kv, int head_dim, KVType k, KVType v) = 0;
  // Context shift: for every layer, moves the cache rows of positions
  // [from, from + n) to [to, to + n) (to < from) and rotates their keys by
  // RoPE to the new positions (a rotation by the difference of the angles),
  // instead of evaluating the tokens again.
  virtual void kv_shift(KVCache& kv, int from, int to, int n, const RopeParams& rope, int n_head_kv, int head_dim) = 0;

  // out[t] = row ids[t] of the embedding table, as floats.
  virtual void get_rows(const Weight& table, const int32_t* ids, int n, Buffer& out) = 0;
  // Per row of `dim` floats: out = x / rms(x) * w. Works in place.
  virtual void rms_norm(const Buffer& x, const Weight& w, int n_rows, int dim, float eps, Buffer& out) = 0;
  // out[t, :] = W x[t, :] (+ bias), for n tokens; x rows are w.cols long.
  virtual void matmul(const Weight& w, const Weight* bias, const Buffer& x, int n, Buffer& out) = 0;
  // Rotates every head of n rows of n_heads*head_dim floats, row t at position pos[t].
  virtual void rope(Buffer& x, int n, int n_heads, int head_dim, const RopeParams& p, const int32_t* pos) = 0;
  // A batch may hold the rows of several sequences, one after another: for each,
  // stores its rows of k, v at positions pos0.. of its own cache, then causal
  // attention of its q rows over its positions 0..pos0+t. One call, so that a
  // backend can spread the work of all sequences over its threads at once.
  virtual void attention(const Buffer& q, const Buffer& k, const Buffer& v, const AttentionSeq* seqs, int n_seqs,
                         int layer, const AttentionShape& s, Buffer& out) = 0;
  // The one-sequence case.
  void attention(const Buffer& q, const Buffer& k, const Buffer& v, KVCache& kv, int layer, int pos0, int n,
                 const AttentionShape& s, Buffer& out) {
    const AttentionSeq one{&kv, pos0, n};
    attention(q, k, v, &one, 1, layer, s, out);
  }
  // out = silu(gate) * up, elementwise over n floats.
  virtual void swiglu(const Buffer& gate, const Buffer& up, int64_t n, Buffer& out) = 0;
  // x += y over n floats.
  virtual void add(Buffer& x, const Buffer& y, int64_t n) = 0;
  // The MoE MLP: out[t, :] = sum over r in rank order of weight[t,r] *
  // down_e(silu(gate_e h[t]) * up_e h[t]), e = expert[t,r], for the route's
  // n tokens of dim floats. Each chosen expert's weights are read once for
  // all the tokens that chose it. This version is built from the ops above
  // (and read/write for the sums), so every backend has it; a backend may do
  // better, to the same bits.
  virtual void moe_mlp(const Buffer& h, int64_t dim, const ExpertMlp* experts, const MoeRoute& route, Buffer& out);
  // Copies `n` floats from src[src_off] to dst[dst_off] (used to keep one row).
  virtual void copy(const Buffer& src, int64_t src_off, Buffer& dst, int64_t dst_off, int64_t n) = 0;
  // Waits for queued work and copies n floats out to host memory.
  virtual void read(const Buffer& b, float* dst, int64_t n) = 0;
  // Copies n floats from host memory into b (hands activations between backends).
  virtual void write(Buffer& b, const float* src, int64_t n) = 0;
};

struct ExecutorOptions {
  int n_threads = 1;        // for single-token work (generation: bound by memory bandwidth)
  int n_threads_batch = 0;  // for batches (prompts: bound by arithmetic); 0 = n_threads
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // The device it computes on, for messages ("" for the host CPU).
  virtual std::string device_name() const { return ""; }
  // A GPU backend: layers can be split between it and a cpu backend (LoadOptions::gpu_layers).
  virtual bool is_gpu() const { return false; }
  // GPU backends: bytes of device memory a model may fill (0: unknown, or host memory).
  virtual uint64_t memory_budget() const { return 0; }
  virtual bool supports(DType t) const = 0;
  // Whether its executors keep a KV cache of type t.
  virtual bool supports_kv(KVType t) const { return t == KVType::F32 || t == KVType::F16; }
  // Whether upload() takes weights of type t in `layout` (quant/layouts.h) as
  // they are; the model converts other layouts to rows first.
  virtual bool takes_layout(DType t, int layout) const { (void)t; return layout == 0; }
  // Makes a weight resident. May keep a pointer to desc.data (zero-copy).
  virtual std::unique_ptr<Weight> upload(const TensorDesc& desc) = 0;
  virtual std::unique_ptr<Executor> make_executor(const ExecutorOptions& opts) = 0;
};

}  // namespace edgerun
