#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "settings.h"
#include "common/error.h"
#include "quant.h"
#include "vulkan_internal.h"
#include "vulkan_weights.h"

namespace edgerun::vk {

namespace {
Span span_of(const Buffer& b) {
  const Allocation& a = static_cast<const VkBuf&>(b).a;
  return {a.buffer, 0, a.size, a.mapped};
}
Arg arg(const Buffer& b, uint64_t off = 0, uint64_t n = UINT64_MAX) { return {span_of(b), off, n}; }
const VkWeight& vw(const Weight& w) { return static_cast<const VkWeight&>(w); }
uint32_t u32(int64_t v) { return static_cast<uint32_t>(v); }
uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }
constexpr uint32_t kWG = 64;  // shaders/common.glsl
}  // namespace

VkBuf::~VkBuf() { owner->retire(a); }
VkKV::~VkKV() {
  for (auto& x : k) owner->retire(x);
  for (auto& x : v) owner->retire(x);
}

VkExecutor::VkExecutor(Context& cx, WeightStore& store)
    : cx_(cx), store_(store), tiles_(backend_settings().vulkan_tiles) {
  auto& vk = cx_.vk;
  VkCommandPoolCreateInfo cp{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  cp.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  cp.queueFamilyIndex = cx_.queue_family;
  check(vk.vkCreateCommandPool(cx_.device, &cp, nullptr, &pool_), "vkCreateCommandPool");
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = pool_;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  check(vk.vkAllocateCommandBuffers(cx_.device, &ai, &cb_), "vkAllocateCommandBuffers");
  VkFenceCreateInfo fc{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  check(vk.vkCreateFence(cx_.device, &fc, nullptr, &fence_), "vkCreateFence");
  dummy_ = cx_.allocate(256, Memory::DeviceLocal);
}

VkExecutor::~VkExecutor() {
  rounded_.reset();
  try {
    flush();
  } catch (...) {
    cx_.vk.vkDeviceWaitIdle(cx_.device);  // a lost device: nothing more can be done than to stop using it
  }
  auto& vk = cx_.vk;
  for (auto& a : retired_) cx_.release(a);
  for (auto& a : arena_) cx_.release(a);
  cx_.release(dummy_);
  cx_.release(readback_);
  for (VkDescriptorPool p : pools_) vk.vkDestroyDescriptorPool(cx_.device, p, nullptr);
  vk.vkDestroyFence(cx_.device, fence_, nullptr);
  vk.vkDestroyCommandPool(cx_.device, pool_, nullptr);
}

void VkExecutor::retire(Allocation a) {
  if (recording_) retired_.push_back(a);
  else cx_.release(a);
}

void VkExecutor::begin() {
  if (recording_) return;
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  check(cx_.vk.vkBeginCommandBuffer(cb_, &bi), "vkBeginCommandBuffer");
  recording_ = true;
}

void VkExecutor::flush() {
  if (!recording_) return;
  auto& vk = cx_.vk;
  recording_ = false;
  store_.finish();  // weights uploaded since the last submission
  check(vk.vkEndCommandBuffer(cb_), "vkEndCommandBuffer");
  check(vk.vkResetFences(cx_.device, 1, &fence_), "vkResetFences");
  cx_.submit(cb_, fence_);
  check(vk.vkWaitForFences(cx_.device, 1, &fence_, VK_TRUE, UINT64_MAX), "vkWaitForFences (the GPU did not finish)");
  check(vk.vkResetCommandBuffer(cb_, 0), "vkResetCommandBuffer");
  for (auto& a : retired_) cx_.release(a);
  retired_.clear();
  // Host-visible scratch is free again; keep only the largest chunk.
  if (arena_.size() > 1) {
    auto biggest = std::max_element(arena_.begin(), arena_.end(), [](auto& a, auto& b) { return a.size < b.size; });
    std::swap(*biggest, arena_.back());
    for (size_t i = 0; i + 1 < arena_.size(); ++i) cx_.release(arena_[i]);
    arena_.erase(arena_.begin(), arena_.end() - 1);
  }
  arena_used_ = 0;
  rope_params_ = nullptr;
}

void VkExecutor::barrier() {
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                     VK_ACCESS_TRANSFER_WRITE_BIT;
  const VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
  cx_.vk.vkCmdPipelineBarrier(cb_, stages, stages, 0, 1, &mb, 0, nullptr, 0, nullptr);
}

const char* VkExecutor::variant(const std::string& base) {
  auto it = variants_.find(base);
  if (it == variants_.end()) it = variants_.emplace(base, cx_.use_subgroups ? base + "_sg" : base).first;
  return it->second.c_str();
}

void VkExecutor::reset_descriptors() {
  // Only between submissions: recorded commands may still use the sets.
  flush();
  for (VkDescriptorPool p : pools_) cx_.vk.vkDestroyDescriptorPool(cx_.device, p, nullptr);
  pools_.clear();
  sets_.clear();
}

VkDescriptorSet VkExecutor::descriptor_set(const std::array<VkDescriptorBufferInfo, Context::kBindings>& b) {
  // Buffers stay the same from token to token, so each set is built once.
  std::array<uint64_t, 3 * Context::kBindings> key{};
  for (int i = 0; i < Context::kBindings; ++i) {
    key[3 * i] = reinterpret_cast<uint64_t>(b[i].buffer);
    key[3 * i + 1] = b[i].offset;
    key[3 * i + 2] = b[i].range;
  }
  auto it = sets_.find(key);
  if (it != sets_.end()) return it->second;
  auto& vk = cx_.vk;
  VkDescriptorSet set = VK_NULL_HANDLE;
  VkResult r = VK_ERROR_OUT_OF_POOL_MEMORY;
  if (!pools_.empty()) {
    VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    ai.descriptorPool = pools_.back();
    ai.descriptorSetCount = 1;
    ai.pSetLayouts = &cx_.set_layout;
    r = vk.vkAllocateDescriptorSets(cx_.device, &ai, &set);
  }
  if (r != VK_SUCCESS) {
    const uint32_t sets = 512;
    VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, sets * Context::kBindings};
    VkDescriptorPoolCreateInfo pc{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    pc.maxSets = sets;
    pc.poolSizeCount = 1;
    pc.pPoolSizes = &size;
    VkDescriptorPool pool = VK_NULL_HANDLE;
    check(vk.vkCreateDescriptorPool(cx_.device, &pc, nullptr, &pool), "vkCreateDescriptorPool");
    pools_.push_back(pool);
    VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    ai.descriptorPool = pool;
    ai.descriptorSetCount = 1;
    ai.pSetLayouts = &cx_.set_layout;
    check(vk.vkAllocateDescriptorSets(cx_.device, &ai, &set), "vkAllocateDescriptorSets");
  }
  VkWriteDescriptorSet w[Context::kBindings];
  for (int i = 0; i < Context::kBindings; ++i) {
    w[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    w[i].dstSet = set;
    w[i].dstBinding = static_cast<uint32_t>(i);
    w[i].descriptorCount = 1;
    w[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    w[i].pBufferInfo = &b[i];
  }
  vk.vkUpdateDescriptorSets(cx_.device, Context::kBindings, w, 0, nullptr);
  sets_.emplace(key, set);
  return set;
}

void VkExecutor::dispatch(const char* shader, std::initializer_list<Arg> args, Push pc, uint32_t gx, uint32_t gy,
                          uint32_t gz) {
  const VkDeviceSize align = cx_.binding_alignment, max_range = cx_.info.max_storage_range & ~VkDeviceSize(3);
  std::array<VkDescriptorBufferInfo, Context::kBindings> b{};
  int i = 0;
  for (const Arg& a : args) {
    // Bind from the aligned offset at or below the data; the rest goes in o[i].
    const VkDeviceSize start = a.span.offset + a.elem_off * 4;
    const VkDeviceSize base = a.span.offset + (start - a.span.offset) / align * align;
    const VkDeviceSize end = a.elems == UINT64_MAX ? a.span.offset + a.span.size : start + a.elems * 4;
    const VkDeviceSize range = std::min(a.span.offset + a.span.size, base + max_range) - base;
    if (end > base + range)
      fail("vulkan", std::string("an operand of '") + shader + "' is larger than the device's largest binding (" +
                         std::to_string(max_range >> 20) + " MiB)");
    b[i] = {a.span.buffer, base, range};
    pc.o[i] = static_cast<uint32_t>((start - base) / 4);
    ++i;
  }
  for (; i < Context::kBindings; ++i) b[i] = {dummy_.buffer, 0, dummy_.size};
  if (!in_matmul_) rounded_of_.from = nullptr;  // the op may write the buffer that was rounded
  const VkPipeline p = cx_.pipeline(shader);
  const VkDescriptorSet set = descriptor_set(b);
  begin();
  auto& vk = cx_.vk;
  vk.vkCmdBindPipeline(cb_, VK_PIPELINE_BIND_POINT_COMPUTE, p);
  vk.vkCmdBindDescriptorSets(cb_, VK_PIPELINE_BIND_POINT_COMPUTE, cx_.pipeline_layout, 0, 1, &set, 0, nullptr);
  vk.vkCmdPushConstants(cb_, cx_.pipeline_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(Push), &pc);
  vk.vkCmdDispatch(cb_, gx, gy, gz);
  barrier();
}

void VkExecutor::dispatch_rows(const char* shader, std::initializer_list<Arg> args, const Push& pc, uint64_t groups,
                               uint32_t gy) {
  if (groups == 0) return;
  const uint64_t max_x = cx_.limits.maxComputeWorkGroupCount[0];
  const uint64_t gx = std::min(groups, max_x), gz = ceil_div(groups, gx);
  if (gz > cx_.limits.maxComputeWorkGroupCount[2] || gy > cx_.limits.maxComputeWorkGroupCount[1])
    fail("vulkan", std::string("'") + shader + "' needs more workgroups than the device allows");
  dispatch(shader, args, pc, static_cast<uint32_t>(gx), gy, static_cast<uint32_t>(gz));
}

Span VkExecutor::upload(const void* data, size_t bytes) {
  const VkDeviceSize align = cx_.binding_alignment;
  const VkDeviceSize need = (bytes + align - 1) / align * align;
  if (arena_.empty() || arena_used_ + need > arena_.back().size) {
    arena_.push_back(cx_.allocate(std::max<VkDeviceSize>(need, 1 << 20), Memory::HostUpload));
    arena_used_ = 0;
  }
  Allocation& a = arena_.back();
  Span s{a.buffer, arena_used_, bytes, static_cast<char*>(a.mapped) + arena_used_};
  std::memcpy(s.mapped, data, bytes);
  arena_used_ += need;
  return s;
}

std::unique_ptr<Buffer> VkExecutor::alloc(int64_t n_floats) {
  reset_descriptors();  // a new buffer may reuse a freed one's handle
  rounded_of_.from = nullptr;  // ... or a freed Buffer's address
  auto b = std::make_unique<VkBuf>();
  b->owner = this;
  b->size = n_floats;
  b->a = cx_.allocate(static_cast<VkDeviceSize>(n_floats) * 4, Memory::DeviceLocal);
  return b;
}

std::unique_ptr<KVCache> VkExecutor::alloc_kv(int n_layer, int n_ctx, int n_head_kv, int head_dim, KVType type, KVType type_v) {
  const int kv_dim = n_head_kv * head_dim;
  if (type != type_v || (type != KVType::F32 && type != KVType::F16))
    fail("KV cache type", std::string("the vulkan backend keeps keys and values in f32 or f16, both the same (asked: keys ") +
                              kv_type_name(type) + ", values " + kv_type_name(type_v) + ")", ErrorKind::Unsupported);
  reset_descriptors();
  auto kv = std::make_unique<VkKV>();
  kv->owner = this;
  kv->n_layer = n_layer;
  kv->n_ctx = n_ctx;
  kv->n_head_kv = n_head_kv;
  kv->head_dim = head_dim;
  kv->kv_dim = kv_dim;
  kv->type_k = kv->type_v = type;
  if (kv_dim % 2 != 0) fail("vulkan", "the KV width must be even");
  const VkDeviceSize bytes = static_cast<VkDeviceSize>(n_ctx) * kv_dim * (type == KVType::F32 ? 4 : 2);
  if (bytes > cx_.info.max_storage_range)
    fail("context size", "a context of " + std::to_string(n_ctx) + " needs " + std::to_string(bytes >> 20) +
                   " MiB per layer of KV cache, more than one binding on '" + cx_.info.name + "' holds (" +
                   std::to_string(cx_.info.max_storage_range >> 20) + " MiB); use a smaller context or an f16 KV cache");
  for (int l = 0; l < n_layer; ++l) {
    kv->k.push_back(cx_.allocate(bytes, Memory::DeviceLocal));
    kv->v.push_back(cx_.allocate(bytes, Memory::DeviceLocal));
  }
  return kv;
}

void VkExecutor::kv_shift(KVCache&, int, int, int, const RopeParams&, int, int) {
  fail("vulkan", "the KV cache cannot be shifted on the device", ErrorKind::Unsupported);
}

void VkExecutor::get_rows(const Weight& table, const int32_t* ids, int n, Buffer& out) {
  const VkWeight& w = vw(table);
  for (int t = 0; t < n; ++t)
    if (ids[t] < 0 || ids[t] >= w.rows) fail("", "token id " + std::to_string(ids[t]) + " is outside the vocabulary");
  const Span id_span = upload(ids, static_cast<size_t>(n) * 4);
  for (const Piece& p : w.pieces) {
    Push pc;
    pc.u[0] = u32(w.cols);
    pc.u[1] = u32(n);
    pc.u[2] = u32(p.row0);
    pc.u[3] = u32(p.rows);
    dispatch(w.get_rows.c_str(), {{p.span}, {id_span}, arg(out)}, pc, u32(ceil_div(w.cols / 4, kWG)), u32(n), 1);
  }
}

void VkExecutor::rms_norm(const Buffer& x, const Weight& w, int n_rows, int dim, float eps, Buffer& out) {
  Push pc;
  pc.u[0] = u32(dim);
  pc.u[1] = u32(n_rows);
  pc.f[0] = eps;
  dispatch_rows(variant("rms_norm"), {arg(x), {vw(w).pieces[0].span}, arg(out)}, pc, n_rows);
}

void VkExecutor::matmul(const Weight& wt, const Weight* bias, const Buffer& x, int n, Buffer& out) {
  const VkWeight& w = vw(wt);
  const bool quantized = w.storage != DType::F32 && w.storage != DType::F16;
  const bool tiled = tiles_ && n > 8 && w.cols % 32 == 0;
  // Tokens in chunks whose activations fit one binding (only huge logit batches need more than one).
  const uint64_t widest = static_cast<uint64_t>(std::max(w.rows, w.cols)) * 4;
  const uint64_t room = (cx_.info.max_storage_range & ~uint64_t(3)) - cx_.binding_alignment;
  const int chunk = static_cast<int>(std::max<uint64_t>(1, std::min<uint64_t>(n, room / widest)));
  const Span bias_span = bias ? vw(*bias).pieces[0].span : Span{dummy_.buffer, 0, dummy_.size, nullptr};
  // Quantized weights meet activations rounded to 8 bits, as on the cpu: as
  // 8-bit quants and scales for the quantized shaders, as floats for weights
  // the GPU holds as floats (types it has no shader for).
  const Buffer* in = &x;
  const DType act = quant_ops(w.type).vec_dot_type;
  int64_t scales_at = 0;
  if (act == DType::Q8_0 || act == DType::Q8_1 || act == DType::Q8_K) {
    const int64_t block = act == DType::Q8_K ? 256 : 32, total = static_cast<int64_t>(n) * w.cols;
    if (w.cols % block != 0) fail(w.name, "rows do not fit the activation blocks");
    if (rounded_of_.from != &x || rounded_of_.n != total || rounded_of_.type != act || rounded_of_.packed != quantized) {
      if (!rounded_ || rounded_->size < total) rounded_ = alloc(total);
      Push rp;
      rp.u[0] = u32(total / block);
      const char* base = act == DType::Q8_K ? "round_act_q8_k" : act == DType::Q8_1 ? "round_act_q8_1" : "round_act_q8_0";
      const std::string shader = std::string(base) + (quantized ? "_packed" : "");
      dispatch_rows(shader.c_str(), {arg(x, 0, total), arg(*rounded_, 0, total)}, rp, total / block);
      rounded_of_ = {&x, total, act, quantized};
    }
    in = rounded_.get();
    scales_at = total / 4;
  }
  in_matmul_ = true;  // the products below write `out` only
  struct Reset {
    bool& flag;
    ~Reset() { flag = false; }
  } reset{in_matmul_};
  for (int t0 = 0; t0 < n; t0 += chunk) {
    const int c = std::min(chunk, n - t0);
    for (const Piece& p : w.pieces) {
      Push pc;
      pc.u[0] = u32(p.rows);
      pc.u[1] = u32(w.cols);
      pc.u[2] = u32(c);
      pc.u[3] = u32(p.row0);
      pc.u[4] = u32(w.rows);
      pc.u[5] = bias ? 1 : 0;
      const Arg out_arg = arg(out, uint64_t(t0) * w.rows, uint64_t(c) * w.rows);
      if (quantized) {  // the rounded activations of all tokens: quants, then scales
        pc.u[6] = u32(t0);
        pc.u[7] = u32(scales_at);
        dispatch_rows(w.matvec.c_str(), {{p.span}, arg(*in), out_arg, {bias_span}}, pc, ceil_div(p.rows, 8), u32(ceil_div(c, 8)));
        continue;
      }
      const std::initializer_list<Arg> args = {{p.span}, arg(*in, uint64_t(t0) * w.cols, uint64_t(c) * w.cols), out_arg,
                                               {bias_span}};
      if (tiled)  // prompts: 64 x 32 tiles through shared memory
        dispatch(w.matmul.c_str(), args, pc, u32(ceil_div(p.rows, 64)), u32(ceil_div(c, 32)), 1);
      else
        dispatch_rows(w.matvec.c_str(), args, pc, p.rows, u32(ceil_div(c, 8)));
    }
  }
  if (&out == rounded_of_.from) rounded_of_.from = nullptr;
}

void VkExecutor::rope(Buffer& x, int n, int n_heads, int head_dim, const RopeParams& p, const int32_t* pos) {
  const int half = p.n_rot / 2;
  if (rope_params_ != &p || rope_pos_.size() != static_cast<size_t>(n) ||
      !std::equal(rope_pos_.begin(), rope_pos_.end(), pos)) {
    // The cpu backend's angles, cosines and sines, computed once per batch.
    std::vector<float> table(static_cast<size_t>(n) * half * 2), theta(half);
    for (int t = 0; t < n; ++t) {
      p.angles(pos[t], theta.data());
      for (int i = 0; i < half; ++i) {
        table[(static_cast<size_t>(t) * half + i) * 2] = std::cos(theta[i]);
        table[(static_cast<size_t>(t) * half + i) * 2 + 1] = std::sin(theta[i]);
      }
    }
    rope_table_ = upload(table.data(), table.size() * 4);
    rope_pos_.assign(pos, pos + n);
    rope_params_ = &p;
  }
  Push pc;
  pc.u[0] = u32(n);
  pc.u[1] = u32(n_heads);
  pc.u[2] = u32(head_dim);
  pc.u[3] = u32(half);
  pc.u[4] = p.style == RopeStyle::Neox ? 1 : 0;
  dispatch_rows("rope", {arg(x), {rope_table_}}, pc, ceil_div(uint64_t(n) * n_heads * half, kWG));
}

void VkExecutor::attention(const Buffer& q, const Buffer& k, const Buffer& v, const AttentionSeq* seqs, int n_seqs,
                           int layer, const AttentionShape& s, Buffer& out) {
  if (s.head_dim > 256 || s.head_dim % 2 != 0)
    fail("vulkan", "head size " + std::to_string(s.head_dim) + " is not supported (even, at most 256)");
  const uint64_t q_dim = uint64_t(s.n_head) * s.head_dim;
  uint64_t row0 = 0;
  // One dispatch pair per sequence: each reads its own cache; its rows start at row0.
  for (int i = 0; i < n_seqs; ++i) {
    auto& kv = static_cast<VkKV&>(*seqs[i].kv);
    const int pos0 = seqs[i].pos0, n = seqs[i].n;
    if (pos0 < 0 || pos0 + n > kv.n_ctx) fail("", "internal: attention past the end of the KV cache");
    const bool f16 = kv.type_k == KVType::F16;
    const Span ks{kv.k[layer].buffer, 0, kv.k[layer].size, nullptr}, vs{kv.v[layer].buffer, 0, kv.v[layer].size, nullptr};
    const uint64_t kv_off = row0 * kv.kv_dim;
    Push st;
    st.u[0] = u32(n);
    st.u[1] = u32(kv.kv_dim);
    st.u[2] = u32(pos0);
    dispatch_rows(f16 ? "kv_store_f16" : "kv_store_f32",
                  {arg(k, kv_off, uint64_t(n) * kv.kv_dim), arg(v, kv_off, uint64_t(n) * kv.kv_dim), {ks}, {vs}}, st,
                  ceil_div(uint64_t(n) * kv.kv_dim / 2, kWG));
    Push pc;
    pc.u[0] = u32(s.n_head);
    pc.u[1] = u32(s.n_head_kv);
    pc.u[2] = u32(s.head_dim);
    pc.u[3] = u32(kv.kv_dim);
    pc.u[4] = u32(pos0);
    pc.f[0] = s.scale;
    dispatch(variant(f16 ? "attention_f16" : "attention_f32"),
             {arg(q, row0 * q_dim, uint64_t(n) * q_dim), {ks}, {vs}, arg(out, row0 * q_dim, uint64_t(n) * q_dim)}, pc,
             u32(s.n_head), u32(n), 1);
    row0 += n;
  }
}

void VkExecutor::swiglu(const Buffer& gate, const Buffer& up, int64_t n, Buffer& out) {
  Push pc;
  pc.u[0] = u32(n);
  dispatch_rows("swiglu", {arg(gate, 0, n), arg(up, 0, n), arg(out, 0, n)}, pc, ceil_div(n, kWG));
}

void VkExecutor::add(Buffer& x, const Buffer& y, int64_t n) {
  Push pc;
  pc.u[0] = u32(n);
  dispatch_rows("add", {arg(x, 0, n), arg(y, 0, n)}, pc, ceil_div(n, kWG));
}

void VkExecutor::copy(const Buffer& src, int64_t src_off, Buffer& dst, int64_t dst_off, int64_t n) {
  Push pc;
  pc.u[0] = u32(n);
  dispatch_rows("copy", {arg(src, src_off, n), arg(dst, dst_off, n)}, pc, ceil_div(n, kWG));
}

void VkExecutor::read(const Buffer& b, float* dst, int64_t n) {
  const VkDeviceSize bytes = static_cast<VkDeviceSize>(n) * 4;
  if (readback_.size < bytes) {
    flush();  // the old readback buffer may be in use by recorded work
    cx_.release(readback_);
    readback_ = cx_.allocate(bytes, Memory::HostReadback);
  }
  begin();
  const VkBufferCopy region{0, 0, bytes};
  cx_.vk.vkCmdCopyBuffer(cb_, static_cast<const VkBuf&>(b).a.buffer, readback_.buffer, 1, &region);
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
  cx_.vk.vkCmdPipelineBarrier(cb_, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, nullptr, 0,
                              nullptr);
  flush();
  std::memcpy(dst, readback_.mapped, bytes);
}

void VkExecutor::write(Buffer& b, const float* src, int64_t n) {
  const Span s = upload(src, static_cast<size_t>(n) * 4);
  rounded_of_.from = nullptr;
  begin();
  const VkBufferCopy region{s.offset, 0, s.size};
  cx_.vk.vkCmdCopyBuffer(cb_, s.buffer, static_cast<VkBuf&>(b).a.buffer, 1, &region);
  barrier();
}

}  // namespace edgerun::vk
