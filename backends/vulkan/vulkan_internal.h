// The Vulkan backend's pieces, shared by its source files: resident weights,
// executor buffers, the KV cache on the device, and the executor that records
// every op of a forward pass into one command buffer, submitted at read().
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backend.h"
#include "vk_context.h"

namespace edgerun::vk {

// A band of a weight's rows: a binding is at most maxStorageBufferRange long,
// so large matrices (a 150k-token embedding) are kept in several pieces.
struct Piece {
  Span span;
  int64_t row0 = 0, rows = 0;
};

struct VkWeight : Weight {
  DType storage = DType::F32;  // what the shaders read (vulkan_weights.h)
  std::vector<Piece> pieces;
  // Its shaders, named once at upload: matvec (subgroup variant where used), tiled matmul, lookup.
  std::string matvec, matmul, get_rows;
};

// Device-local memory for weights: a few large blocks, sub-allocated. On
// devices whose device memory is host-visible (integrated GPUs) weights are
// written in place; otherwise they go through a staging buffer in batches.
class WeightStore {
 public:
  explicit WeightStore(Context& cx) : cx_(cx) {}
  ~WeightStore();
  // Reserves `bytes` and has fill() write them (into mapped or staging memory).
  template <typename Fill>
  Span place(size_t bytes, Fill&& fill) {
    Span s = reserve(bytes);
    void* dst = s.mapped ? s.mapped : stage(s);
    fill(dst);
    return s;
  }
  void finish();  // copies whatever is still staged
  size_t bytes() const { return used_; }

 private:
  Span reserve(size_t bytes);
  void* stage(const Span& s);
  Context& cx_;
  std::vector<Allocation> blocks_;
  VkDeviceSize block_used_ = 0;
  size_t used_ = 0;
  Allocation staging_;
  VkDeviceSize staged_ = 0;
  std::vector<std::pair<VkBuffer, VkBufferCopy>> copies_;
};

class VkExecutor;

struct VkBuf : Buffer {
  VkExecutor* owner = nullptr;
  Allocation a;
  ~VkBuf() override;
};

struct VkKV : KVCache {
  VkExecutor* owner = nullptr;
  std::vector<Allocation> k, v;  // per layer: n_ctx rows of kv_dim values
  ~VkKV() override;
};

// The push constants every shader declares (shaders/common.glsl).
struct Push {
  uint32_t o[6] = {};  // element offset of each binding's data
  uint32_t u[10] = {};
  float f[4] = {};
};

// One binding: a span and the part of it an op reads or writes (in floats).
struct Arg {
  Span span;
  uint64_t elem_off = 0;
  uint64_t elems = UINT64_MAX;  // to the end of the span
};

class VkExecutor : public Executor {
 public:
  VkExecutor(Context& cx, WeightStore& store);
  ~VkExecutor() override;

  std::unique_ptr<Buffer> alloc(int64_t n_floats) override;
  std::unique_ptr<KVCache> alloc_kv(int n_layer, int n_ctx, int n_head_kv, int head_dim, KVType k, KVType v) override;
  // Not on the device: the session evaluates the kept tokens again instead (ErrorKind::Unsupported).
  void kv_shift(KVCache& kv, int from, int to, int n, const RopeParams& rope, int n_head_kv, int head_dim) override;
  void get_rows(const Weight& table, const int32_t* ids, int n, Buffer& out) override;
  void rms_norm(const Buffer& x, const Weight& w, int n_rows, int dim, float eps, Buffer& out) override;
  void matmul(const Weight& w, const Weight* bias, const Buffer& x, int n, Buffer& out) override;
  void rope(Buffer& x, int n, int n_heads, int head_dim, const RopeParams& p, const int32_t* pos) override;
  using Executor::attention;
  void attention(const Buffer& q, const Buffer& k, const Buffer& v, const AttentionSeq* seqs, int n_seqs, int layer,
                 const AttentionShape& s, Buffer& out) override;
  void swiglu(const Buffer& gate, const Buffer& up, int64_t n, Buffer& out) override;
  void add(Buffer& x, const Buffer& y, int64_t n) override;
  void copy(const Buffer& src, int64_t src_off, Buffer& dst, int64_t dst_off, int64_t n) override;
  void read(const Buffer& b, float* dst, int64_t n) override;
  void write(Buffer& b, const float* src, int64_t n) override;

  // Frees an allocation once no recorded work can still use it.
  void retire(Allocation a);
  // Submits what is recorded and waits for it.
  void flush();

 private:
  void dispatch(const char* shader, std::initializer_list<Arg> args, Push pc, uint32_t gx, uint32_t gy, uint32_t gz);
  void dispatch_rows(const char* shader, std::initializer_list<Arg> args, const Push& pc, uint64_t groups, uint32_t gy = 1);
  VkDescriptorSet descriptor_set(const std::array<VkDescriptorBufferInfo, Context::kBindings>& b);
  void reset_descriptors();
  Span upload(const void* data, size_t bytes);  // into host-visible memory for this submission
  void begin();
  void barrier();
  const char* variant(const std::string& base);  // adds "_sg" where subgroups are used

  Context& cx_;
  WeightStore& store_;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  VkCommandBuffer cb_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  bool recording_ = false;
  std::vector<Allocation> retired_;
  Allocation dummy_, readback_;
  std::vector<Allocation> arena_;  // host-visible chunks for ids, RoPE tables and writes
  VkDeviceSize arena_used_ = 0;    // in the last chunk
  std::vector<VkDescriptorPool> pools_;
  std::map<std::array<uint64_t, 3 * Context::kBindings>, VkDescriptorSet> sets_;
  std::map<std::string, std::string> variants_;
  // The RoPE table uploaded for this submission, reused by every layer.
  std::vector<int32_t> rope_pos_;
  const RopeParams* rope_params_ = nullptr;
  Span rope_table_;
  std::unique_ptr<Buffer> rounded_;  // activations rounded as the cpu rounds them (round_act.comp)
  // What rounded_ holds: q, k and v (gate and up) share one input, rounded once.
  // Any op other than a matrix product may change buffers, and forgets it.
  struct { const Buffer* from = nullptr; int64_t n = 0; DType type = DType::F32; bool packed = false; } rounded_of_;
  bool in_matmul_ = false;
  const bool tiles_;  // the tiled prompt shader (EDGERUN_VULKAN_NO_TILES=1 turns it off, to compare)
};

}  // namespace edgerun::vk
