#include "settings.h"
#include "vulkan_backend.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "common/error.h"
#include "vulkan_backend_impl.h"
#include "vulkan_weights.h"

namespace edgerun {

namespace vk {

namespace {
VkDeviceSize round_up(VkDeviceSize v, VkDeviceSize a) { return (v + a - 1) / a * a; }
}  // namespace

WeightStore::~WeightStore() {
  for (auto& b : blocks_) cx_.release(b);
  cx_.release(staging_);
}

Span WeightStore::reserve(size_t bytes) {
  const VkDeviceSize align = cx_.binding_alignment;
  if (blocks_.empty() || round_up(block_used_, align) + bytes > blocks_.back().size) {
    // Blocks grow with the model: few allocations for a big one, little waste for a small one.
    const VkDeviceSize block = std::max<VkDeviceSize>(bytes, std::clamp<VkDeviceSize>(used_, 16u << 20, 256u << 20));
    blocks_.push_back(cx_.allocate(block, Memory::DeviceLocal));
    block_used_ = 0;
  }
  const Allocation& b = blocks_.back();
  const VkDeviceSize off = round_up(block_used_, align);
  block_used_ = off + bytes;
  used_ += bytes;
  return {b.buffer, off, bytes, b.mapped ? static_cast<char*>(b.mapped) + off : nullptr};
}

void* WeightStore::stage(const Span& s) {
  if (staging_.size < s.size) {
    finish();
    cx_.release(staging_);
    staging_ = cx_.allocate(std::max<VkDeviceSize>(s.size, 64u << 20), Memory::HostUpload);
  }
  if (staged_ + s.size > staging_.size) finish();
  void* p = static_cast<char*>(staging_.mapped) + staged_;
  copies_.push_back({s.buffer, VkBufferCopy{staged_, s.offset, s.size}});
  staged_ = round_up(staged_ + s.size, 16);
  return p;
}

void WeightStore::finish() {
  if (copies_.empty()) return;
  VkCommandBuffer cb = cx_.begin_one_off();
  for (const auto& c : copies_) cx_.vk.vkCmdCopyBuffer(cb, staging_.buffer, c.first, 1, &c.second);
  cx_.submit_one_off(cb);
  copies_.clear();
  staged_ = 0;
}

VkBackend::VkBackend(int device) : cx_(std::make_unique<Context>(device)), store_(std::make_unique<WeightStore>(*cx_)) {}

VkBackend::~VkBackend() {
  store_.reset();
  cx_.reset();
}

uint64_t VkBackend::memory_budget() const {
  // The device-local memory, less a tenth for the driver and other programs;
  // BackendSettings::vulkan_memory_budget (bytes) overrides it, to try out smaller devices.
  if (const uint64_t b = backend_settings().vulkan_memory_budget; b > 0) return b;
  return cx_->info.device_local_bytes / 10 * 9;
}

std::string VkBackend::device_name() const { return cx_->info.name + " (" + cx_->info.type + ")"; }

bool VkBackend::supports(DType t) const {
  if (storage_type(t) == t) return true;
  try {  // other types are dequantized on upload
    float f[256];
    std::vector<uint8_t> zero(dtype_row_bytes(t, dtype_traits(t).block_size));
    dequantize_row(t, zero.data(), f, dtype_traits(t).block_size);
    return true;
  } catch (const Error&) {
    return false;
  }
}

std::unique_ptr<Weight> VkBackend::upload(const TensorDesc& d) {
  if (!supports(d.type)) fail(d.name, std::string("tensor type ") + dtype_name(d.type) + " is not supported by the vulkan backend");
  auto w = std::make_unique<VkWeight>();
  w->type = d.type;
  w->rows = d.rows;
  w->cols = d.cols;
  w->name = d.name;
  const auto* src = static_cast<const uint8_t*>(d.data);
  if (d.rows == 1) {  // norms and biases: read as floats by the shaders
    w->storage = DType::F32;
    const Span s = store_->place(static_cast<size_t>(d.cols) * 4,
                                 [&](void* dst) { dequantize_row(d.type, src, static_cast<float*>(dst), d.cols); });
    w->pieces.push_back({s, 0, 1});
    return w;
  }
  w->storage = storage_type(d.type);
  const std::string suffix = shader_suffix(w->storage);
  if (w->storage == DType::F32 || w->storage == DType::F16) {
    w->matvec = "matvec_" + suffix + (cx_->use_subgroups ? "_sg" : "");
    w->matmul = "matmul_" + suffix;
  } else {  // one shader for any number of tokens, in the cpu's order
    w->matvec = w->matmul = "qmatmul_" + suffix;
  }
  w->get_rows = "get_rows_" + suffix;
  size_t row_bytes = 0;
  try {
    row_bytes = storage_row_bytes(w->storage, d.cols);
  } catch (const Error& e) {
    fail(d.name, e.what());
  }
  const size_t src_row = dtype_row_bytes(d.type, d.cols);
  const uint64_t limit = std::min<uint64_t>(cx_->info.max_storage_range, 1ull << 31);
  const int64_t per_piece = std::max<int64_t>(1, static_cast<int64_t>(limit / row_bytes));
  for (int64_t r0 = 0; r0 < d.rows; r0 += per_piece) {
    const int64_t rows = std::min(per_piece, d.rows - r0);
    const Span s = store_->place(static_cast<size_t>(rows) * row_bytes,
                                 [&](void* dst) { repack_rows(d.type, src + r0 * src_row, rows, d.cols, dst); });
    w->pieces.push_back({s, r0, rows});
  }
  return w;
}

std::unique_ptr<Executor> VkBackend::make_executor(const ExecutorOptions&) {
  store_->finish();
  return std::make_unique<VkExecutor>(*cx_, *store_);
}

}  // namespace vk

std::unique_ptr<Backend> make_vulkan_backend(const VulkanOptions& opts) {
  auto be = std::make_unique<vk::VkBackend>(vk::requested_device(opts.device));
  // The self-test runs once per device and process: a driver that computes
  // garbage is refused before it can produce a single token.
  static std::mutex mu;
  static std::map<std::string, std::pair<std::string, std::string>> verdicts;  // failure, exactness note
  std::pair<std::string, std::string> verdict;
  {
    std::lock_guard<std::mutex> lock(mu);
    const std::string key = be->context().info.uuid + be->context().info.name;
    auto it = verdicts.find(key);
    if (it == verdicts.end()) {
      std::string note;
      try {
        note = vk::self_test(*be);
      } catch (const Error& e) {
        verdicts[key] = {e.what(), ""};
        throw;
      }
      it = verdicts.emplace(key, std::make_pair(std::string(), note)).first;
    }
    verdict = it->second;
  }
  if (!verdict.first.empty()) throw Error(verdict.first);
  be->exactness_note = verdict.second;
  if (opts.automatic) vk::check_faster_than_cpu(*be);
  return be;
}

std::string vulkan_exactness_note(const Backend& b) {
  const auto* vb = dynamic_cast<const vk::VkBackend*>(&b);
  return vb ? vb->exactness_note : "not a vulkan backend";
}

bool vulkan_candidate_exists() {
  try {
    if (vk::requested_device(-1) >= 0) return true;
    return vk::preferred_device(vk::list_devices()) >= 0;
  } catch (const Error&) {
    return false;
  }
}

std::vector<std::string> vulkan_device_lines() {
  std::vector<std::string> out;
  try {
    const auto devices = vk::list_devices();
    if (devices.empty()) return {"no Vulkan device found"};
    const int pick = vk::preferred_device(devices);
    for (const auto& d : devices) {
      char line[512];
      std::snprintf(line, sizeof line,
                    "device %d: %s — %s, %llu MiB device-local, subgroup %u%s, fp16 %s, int8 %s, Vulkan %u.%u, %s%s",
                    d.index, d.name.c_str(), d.type.c_str(), static_cast<unsigned long long>(d.device_local_bytes >> 20),
                    d.subgroup_size, d.subgroup_arithmetic ? " (arithmetic ops)" : " (no arithmetic ops)",
                    d.fp16 ? "yes" : "no", d.int8 ? "yes" : "no", VK_API_VERSION_MAJOR(d.api_version),
                    VK_API_VERSION_MINOR(d.api_version), d.driver.c_str(),
                    d.index == pick ? " [auto]"
                    : d.kind == VK_PHYSICAL_DEVICE_TYPE_CPU ? " [only when named]"
                                                            : "");
      out.push_back(line);
    }
  } catch (const Error& e) {
    out.push_back(e.what());
  }
  return out;
}

}  // namespace edgerun

namespace edgerun {
int vulkan_pick_device(bool allow_cpu) {
  try {
    if (int r = vk::requested_device(-1); r >= 0) return r;
    const auto devices = vk::list_devices();
    const int best = vk::preferred_device(devices);
    if (best >= 0) return best;
    return allow_cpu && !devices.empty() ? 0 : -1;
  } catch (const Error&) {
    return -1;
  }
}
}  // namespace edgerun
