// A Vulkan device opened for compute: instance and device selection, the
// compute queue, memory, and the compute pipelines built from the SPIR-V that
// was compiled at build time and embedded in the binary.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <memory>
#include <string>
#include <vector>

#include "vk_loader.h"

namespace edgerun::vk {

struct DeviceInfo {
  int index = 0;
  std::string name, type, driver;
  VkPhysicalDeviceType kind = VK_PHYSICAL_DEVICE_TYPE_OTHER;
  uint32_t api_version = 0, driver_version = 0, vendor_id = 0, device_id = 0;
  uint64_t device_local_bytes = 0;
  uint32_t subgroup_size = 0;
  bool subgroup_arithmetic = false;  // subgroupAdd/Max in compute shaders
  bool fp16 = false, int8 = false;   // shaderFloat16 / shaderInt8 (reported; the shaders need neither)
  uint64_t max_storage_range = 0;
  std::string uuid;  // hex
};

// Every Vulkan 1.2 device the loader reports. Throws Error when there is no
// loader or no instance can be made.
std::vector<DeviceInfo> list_devices();

// The device `auto` would take: discrete > integrated > virtual GPU; CPU-type
// devices (lavapipe, SwiftShader) only when named. -1 when none qualifies.
int preferred_device(const std::vector<DeviceInfo>& devices);

// A requested device index: the one given, else BackendSettings::vulkan_device, else -1.
int requested_device(int from_options);

// A piece of device memory with the buffer spanning it.
struct Allocation {
  VkDeviceMemory memory = VK_NULL_HANDLE;
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceSize size = 0;
  void* mapped = nullptr;  // when host-visible
};

// A range inside an Allocation, as shaders bind it.
struct Span {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceSize offset = 0, size = 0;
  void* mapped = nullptr;
};

enum class Memory { DeviceLocal, HostUpload, HostReadback };

class Context {
 public:
  explicit Context(int device_index);  // -1: preferred_device(); throws Error
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  Api& vk;
  VkInstance instance = VK_NULL_HANDLE;
  VkPhysicalDevice physical = VK_NULL_HANDLE;
  VkDevice device = VK_NULL_HANDLE;
  VkQueue queue = VK_NULL_HANDLE;
  uint32_t queue_family = 0;
  DeviceInfo info;
  VkPhysicalDeviceLimits limits{};
  bool use_subgroups = false;  // subgroup shader variants (BackendSettings::vulkan_subgroups)
  VkDeviceSize binding_alignment = 256;

  Allocation allocate(VkDeviceSize bytes, Memory kind);  // throws Error when out of memory
  void release(Allocation& a);

  VkPipeline pipeline(const std::string& shader);  // built on first use
  VkPipelineLayout pipeline_layout = VK_NULL_HANDLE;
  VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
  static constexpr int kBindings = 6;
  static constexpr uint32_t kPushBytes = 128;

  // One-off command buffers (uploads): begin_one_off, record, submit_one_off
  // (waits). Holds the context's lock in between: one upload at a time.
  VkCommandBuffer begin_one_off();
  void submit_one_off(VkCommandBuffer cb);
  // Submits cb to the queue signalling fence (the queue is shared by every
  // executor on this device, so submissions are serialised here).
  void submit(VkCommandBuffer cb, VkFence fence);

 private:
  uint32_t memory_type(uint32_t type_bits, Memory kind) const;
  void save_pipeline_cache();
  void destroy();

  VkPhysicalDeviceMemoryProperties mem_props_{};
  VkPipelineCache cache_ = VK_NULL_HANDLE;
  std::string cache_path_;
  std::map<std::string, VkPipeline> pipelines_;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  VkCommandBuffer one_off_ = VK_NULL_HANDLE;
  std::mutex queue_mutex_, pipeline_mutex_, one_off_mutex_;
};

}  // namespace edgerun::vk
