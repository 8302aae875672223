#include "settings.h"
#include "vk_context.h"

#include <sys/stat.h>
#include <cerrno>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

#include "common/error.h"
#include "spirv_table.h"

namespace edgerun::vk {

namespace {

VkInstance create_instance(Api& a) {
  uint32_t version = VK_API_VERSION_1_0;
  if (a.vkEnumerateInstanceVersion) a.vkEnumerateInstanceVersion(&version);
  if (version < VK_API_VERSION_1_2) fail("vulkan", "the Vulkan loader supports only version " +
                                                       std::to_string(VK_API_VERSION_MAJOR(version)) + "." +
                                                       std::to_string(VK_API_VERSION_MINOR(version)) + "; 1.2 is needed");
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "edgerun";
  app.pEngineName = "edgerun";
  app.apiVersion = VK_API_VERSION_1_2;
  VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ci.pApplicationInfo = &app;
  VkInstance instance = VK_NULL_HANDLE;
  const VkResult r = a.vkCreateInstance(&ci, nullptr, &instance);
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER) fail("vulkan", "no Vulkan device found (the loader found no driver)");
  check(r, "vkCreateInstance");
  a.load_instance(instance);
  return instance;
}

std::vector<VkPhysicalDevice> physical_devices(Api& a, VkInstance instance) {
  uint32_t n = 0;
  check(a.vkEnumeratePhysicalDevices(instance, &n, nullptr), "vkEnumeratePhysicalDevices");
  std::vector<VkPhysicalDevice> out(n);
  check(a.vkEnumeratePhysicalDevices(instance, &n, out.data()), "vkEnumeratePhysicalDevices");
  out.resize(n);
  return out;
}

const char* type_name(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
    default: return "other";
  }
}

DeviceInfo describe(Api& a, VkPhysicalDevice pd, int index) {
  VkPhysicalDeviceSubgroupProperties sub{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceDriverProperties drv{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  drv.pNext = &sub;
  VkPhysicalDeviceIDProperties ids{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES};
  ids.pNext = &drv;
  VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  p2.pNext = &ids;
  a.vkGetPhysicalDeviceProperties2(pd, &p2);
  VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  f2.pNext = &f12;
  a.vkGetPhysicalDeviceFeatures2(pd, &f2);
  VkPhysicalDeviceMemoryProperties mem{};
  a.vkGetPhysicalDeviceMemoryProperties(pd, &mem);

  DeviceInfo d;
  d.index = index;
  d.name = p2.properties.deviceName;
  d.kind = p2.properties.deviceType;
  d.type = type_name(d.kind);
  d.driver = drv.driverName[0] ? std::string(drv.driverName) + " " + drv.driverInfo : "unknown driver";
  d.api_version = p2.properties.apiVersion;
  d.driver_version = p2.properties.driverVersion;
  d.vendor_id = p2.properties.vendorID;
  d.device_id = p2.properties.deviceID;
  for (uint32_t h = 0; h < mem.memoryHeapCount; ++h)
    if (mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) d.device_local_bytes += mem.memoryHeaps[h].size;
  d.subgroup_size = sub.subgroupSize;
  d.subgroup_arithmetic = (sub.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                          (sub.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) &&
                          (sub.supportedOperations & VK_SUBGROUP_FEATURE_BASIC_BIT);
  d.fp16 = f12.shaderFloat16;
  d.int8 = f12.shaderInt8;
  d.max_storage_range = p2.properties.limits.maxStorageBufferRange;
  static const char* hex = "0123456789abcdef";
  for (uint8_t b : ids.deviceUUID) d.uuid += std::string{hex[b >> 4], hex[b & 15]};
  return d;
}

// "" (an app that names none): no pipeline cache on disk.
std::string cache_dir() { return backend_settings().cache_dir; }

bool make_dirs(const std::string& path) {
  for (size_t i = 1; i <= path.size(); ++i)
    if (i == path.size() || path[i] == '/') {
      const std::string part = path.substr(0, i);
      if (mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) return false;
    }
  return true;
}

}  // namespace

std::vector<DeviceInfo> list_devices() {
  Api& a = api();
  VkInstance instance = create_instance(a);
  std::vector<DeviceInfo> out;
  try {
    int i = 0;
    for (VkPhysicalDevice pd : physical_devices(a, instance)) out.push_back(describe(a, pd, i++));
  } catch (...) {
    a.vkDestroyInstance(instance, nullptr);
    throw;
  }
  a.vkDestroyInstance(instance, nullptr);
  return out;
}

int preferred_device(const std::vector<DeviceInfo>& devices) {
  auto rank = [](VkPhysicalDeviceType t) {
    switch (t) {
      case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 3;
      case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 2;
      case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 1;
      default: return 0;  // CPU-type and other devices only when named
    }
  };
  int best = -1, best_rank = 0;
  for (const auto& d : devices)
    if (d.api_version >= VK_API_VERSION_1_2 && rank(d.kind) > best_rank) best = d.index, best_rank = rank(d.kind);
  return best;
}

int requested_device(int from_options) {
  if (from_options >= 0) return from_options;
  return backend_settings().vulkan_device;
}

Context::Context(int device_index) : vk(api()) {
  instance = create_instance(vk);
  try {
    const auto pds = physical_devices(vk, instance);
    std::vector<DeviceInfo> infos;
    for (size_t i = 0; i < pds.size(); ++i) infos.push_back(describe(vk, pds[i], static_cast<int>(i)));
    int pick = device_index;
    if (pick < 0) {
      pick = preferred_device(infos);
      if (pick < 0)
        fail("vulkan", infos.empty() ? "no Vulkan device found"
                                     : "no GPU found (CPU-type Vulkan devices such as " + infos[0].name +
                                           " are used only when a device index names them)");
    }
    if (pick >= static_cast<int>(infos.size()))
      fail("device", "there is no Vulkan device " + std::to_string(pick) + " (" + std::to_string(infos.size()) +
                           " found)");
    info = infos[pick];
    physical = pds[pick];
    if (info.api_version < VK_API_VERSION_1_2) fail("vulkan", "device '" + info.name + "' supports only Vulkan 1.0/1.1");
    VkPhysicalDeviceProperties props{};
    vk.vkGetPhysicalDeviceProperties(physical, &props);
    limits = props.limits;
    binding_alignment = std::max<VkDeviceSize>(256, limits.minStorageBufferOffsetAlignment);
    vk.vkGetPhysicalDeviceMemoryProperties(physical, &mem_props_);
    if (limits.maxPushConstantsSize < kPushBytes) fail("vulkan", "device '" + info.name + "' has too few push-constant bytes");
    use_subgroups = info.subgroup_arithmetic && backend_settings().vulkan_subgroups;

    uint32_t nq = 0;
    vk.vkGetPhysicalDeviceQueueFamilyProperties(physical, &nq, nullptr);
    std::vector<VkQueueFamilyProperties> qf(nq);
    vk.vkGetPhysicalDeviceQueueFamilyProperties(physical, &nq, qf.data());
    queue_family = UINT32_MAX;
    for (uint32_t i = 0; i < nq; ++i)
      if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
        queue_family = i;
        break;
      }
    if (queue_family == UINT32_MAX) fail("vulkan", "device '" + info.name + "' has no compute queue");
    const float prio = 1.0f;
    VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qci.queueFamilyIndex = queue_family;
    qci.queueCount = 1;
    qci.pQueuePriorities = &prio;
    VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    dci.queueCreateInfoCount = 1;
    dci.pQueueCreateInfos = &qci;
    check(vk.vkCreateDevice(physical, &dci, nullptr, &device), "vkCreateDevice");
    vk.load_device(device);
    vk.vkGetDeviceQueue(device, queue_family, 0, &queue);

    VkDescriptorSetLayoutBinding b[kBindings];
    for (int i = 0; i < kBindings; ++i)
      b[i] = {static_cast<uint32_t>(i), VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
    VkDescriptorSetLayoutCreateInfo sl{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    sl.bindingCount = kBindings;
    sl.pBindings = b;
    check(vk.vkCreateDescriptorSetLayout(device, &sl, nullptr, &set_layout), "vkCreateDescriptorSetLayout");
    VkPushConstantRange pc{VK_SHADER_STAGE_COMPUTE_BIT, 0, kPushBytes};
    VkPipelineLayoutCreateInfo pl{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    pl.setLayoutCount = 1;
    pl.pSetLayouts = &set_layout;
    pl.pushConstantRangeCount = 1;
    pl.pPushConstantRanges = &pc;
    check(vk.vkCreatePipelineLayout(device, &pl, nullptr, &pipeline_layout), "vkCreatePipelineLayout");

    // The pipeline cache, kept on disk per device and driver version.
    std::vector<char> blob;
    const std::string dir = cache_dir();
    if (!dir.empty()) {
      char name[160];
      std::snprintf(name, sizeof name, "/vulkan-%04x-%04x-%08x-%s.pipelines", info.vendor_id, info.device_id,
                    info.driver_version, info.uuid.substr(0, 8).c_str());
      cache_path_ = dir + name;
      std::ifstream in(cache_path_, std::ios::binary);
      blob.assign(std::istreambuf_iterator<char>(in), {});
    }
    VkPipelineCacheCreateInfo pci{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
    pci.initialDataSize = blob.size();
    pci.pInitialData = blob.empty() ? nullptr : blob.data();
    if (vk.vkCreatePipelineCache(device, &pci, nullptr, &cache_) != VK_SUCCESS) {
      pci.initialDataSize = 0;  // a stale or corrupt cache file is ignored, not fatal
      pci.pInitialData = nullptr;
      check(vk.vkCreatePipelineCache(device, &pci, nullptr, &cache_), "vkCreatePipelineCache");
    }

    VkCommandPoolCreateInfo cp{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    cp.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    cp.queueFamilyIndex = queue_family;
    check(vk.vkCreateCommandPool(device, &cp, nullptr, &pool_), "vkCreateCommandPool");
    VkFenceCreateInfo fc{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    check(vk.vkCreateFence(device, &fc, nullptr, &fence_), "vkCreateFence");
  } catch (...) {
    destroy();
    throw;
  }
}

Context::~Context() { destroy(); }

void Context::destroy() {
  if (device) {
    vk.vkDeviceWaitIdle(device);
    save_pipeline_cache();
    for (auto& p : pipelines_) vk.vkDestroyPipeline(device, p.second, nullptr);
    pipelines_.clear();
    if (cache_) vk.vkDestroyPipelineCache(device, cache_, nullptr);
    if (fence_) vk.vkDestroyFence(device, fence_, nullptr);
    if (pool_) vk.vkDestroyCommandPool(device, pool_, nullptr);
    if (pipeline_layout) vk.vkDestroyPipelineLayout(device, pipeline_layout, nullptr);
    if (set_layout) vk.vkDestroyDescriptorSetLayout(device, set_layout, nullptr);
    vk.vkDestroyDevice(device, nullptr);
    device = VK_NULL_HANDLE;
  }
  if (instance) vk.vkDestroyInstance(instance, nullptr);
  instance = VK_NULL_HANDLE;
}

void Context::save_pipeline_cache() {
  if (!cache_ || cache_path_.empty() || pipelines_.empty()) return;
  size_t n = 0;
  if (vk.vkGetPipelineCacheData(device, cache_, &n, nullptr) != VK_SUCCESS || n == 0) return;
  std::vector<char> data(n);
  if (vk.vkGetPipelineCacheData(device, cache_, &n, data.data()) != VK_SUCCESS) return;
  // A cache is an optimisation: if it cannot be written, nothing is lost.
  if (!make_dirs(cache_path_.substr(0, cache_path_.rfind('/')))) return;
  const std::string tmp = cache_path_ + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::binary);
    out.write(data.data(), static_cast<std::streamsize>(n));
    if (!out) {
      std::remove(tmp.c_str());
      return;
    }
  }
  if (std::rename(tmp.c_str(), cache_path_.c_str()) != 0) std::remove(tmp.c_str());
}

uint32_t Context::memory_type(uint32_t bits, Memory kind) const {
  const bool uma = info.kind == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU || info.kind == VK_PHYSICAL_DEVICE_TYPE_CPU;
  const VkMemoryPropertyFlags DL = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, HV = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
                              HC = VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, CA = VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
  std::vector<VkMemoryPropertyFlags> wishes;
  switch (kind) {
    case Memory::DeviceLocal:
      // On shared-memory devices, host-visible device memory lets uploads skip staging.
      if (uma) wishes.push_back(DL | HV | HC);
      wishes.push_back(DL);
      wishes.push_back(0);
      break;
    case Memory::HostUpload: wishes = {HV | HC}; break;
    case Memory::HostReadback: wishes = {HV | HC | CA, HV | HC}; break;
  }
  for (VkMemoryPropertyFlags want : wishes)
    for (uint32_t i = 0; i < mem_props_.memoryTypeCount; ++i)
      if ((bits & (1u << i)) && (mem_props_.memoryTypes[i].propertyFlags & want) == want) return i;
  fail("vulkan", "device '" + info.name + "' has no suitable memory type");
}

Allocation Context::allocate(VkDeviceSize bytes, Memory kind) {
  Allocation a;
  a.size = std::max<VkDeviceSize>(bytes, 16);
  VkBufferCreateInfo bc{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bc.size = a.size;
  bc.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  bc.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  check(vk.vkCreateBuffer(device, &bc, nullptr, &a.buffer), "vkCreateBuffer");
  VkMemoryRequirements req{};
  vk.vkGetBufferMemoryRequirements(device, a.buffer, &req);
  VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  ai.allocationSize = req.size;
  try {
    ai.memoryTypeIndex = memory_type(req.memoryTypeBits, kind);
  } catch (...) {
    vk.vkDestroyBuffer(device, a.buffer, nullptr);
    throw;
  }
  const VkResult r = vk.vkAllocateMemory(device, &ai, nullptr, &a.memory);
  if (r != VK_SUCCESS) {
    vk.vkDestroyBuffer(device, a.buffer, nullptr);
    fail("vulkan", "cannot allocate " + std::to_string(bytes >> 20) + " MiB on '" + info.name + "': " + result_name(r) +
                       " (try fewer layers on the GPU)");
  }
  check(vk.vkBindBufferMemory(device, a.buffer, a.memory, 0), "vkBindBufferMemory");
  if (mem_props_.memoryTypes[ai.memoryTypeIndex].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT)
    check(vk.vkMapMemory(device, a.memory, 0, VK_WHOLE_SIZE, 0, &a.mapped), "vkMapMemory");
  return a;
}

void Context::release(Allocation& a) {
  if (a.buffer) vk.vkDestroyBuffer(device, a.buffer, nullptr);
  if (a.memory) vk.vkFreeMemory(device, a.memory, nullptr);  // unmaps too
  a = Allocation{};
}

VkPipeline Context::pipeline(const std::string& shader) {
  std::lock_guard<std::mutex> lock(pipeline_mutex_);
  auto it = pipelines_.find(shader);
  if (it != pipelines_.end()) return it->second;
  const Spirv* code = find_spirv(shader);
  if (!code) fail("vulkan", "internal: no embedded shader named '" + shader + "'");
  VkShaderModuleCreateInfo mi{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  mi.codeSize = code->size;
  mi.pCode = reinterpret_cast<const uint32_t*>(code->data);
  VkShaderModule module = VK_NULL_HANDLE;
  check(vk.vkCreateShaderModule(device, &mi, nullptr, &module), "vkCreateShaderModule");
  VkComputePipelineCreateInfo ci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  ci.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
  ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  ci.stage.module = module;
  ci.stage.pName = "main";
  ci.layout = pipeline_layout;
  VkPipeline p = VK_NULL_HANDLE;
  const VkResult r = vk.vkCreateComputePipelines(device, cache_, 1, &ci, nullptr, &p);
  vk.vkDestroyShaderModule(device, module, nullptr);
  check(r, ("building the compute pipeline '" + shader + "'").c_str());
  pipelines_[shader] = p;
  return p;
}

VkCommandBuffer Context::begin_one_off() {
  one_off_mutex_.lock();
  try {
    if (!one_off_) {
      VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
      ai.commandPool = pool_;
      ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
      ai.commandBufferCount = 1;
      check(vk.vkAllocateCommandBuffers(device, &ai, &one_off_), "vkAllocateCommandBuffers");
    }
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    check(vk.vkBeginCommandBuffer(one_off_, &bi), "vkBeginCommandBuffer");
  } catch (...) {
    one_off_mutex_.unlock();
    throw;
  }
  return one_off_;
}

void Context::submit_one_off(VkCommandBuffer cb) {
  std::unique_lock<std::mutex> held(one_off_mutex_, std::adopt_lock);
  check(vk.vkEndCommandBuffer(cb), "vkEndCommandBuffer");
  check(vk.vkResetFences(device, 1, &fence_), "vkResetFences");
  submit(cb, fence_);
  check(vk.vkWaitForFences(device, 1, &fence_, VK_TRUE, UINT64_MAX), "vkWaitForFences");
  check(vk.vkResetCommandBuffer(cb, 0), "vkResetCommandBuffer");
}

void Context::submit(VkCommandBuffer cb, VkFence fence) {
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cb;
  std::lock_guard<std::mutex> lock(queue_mutex_);
  check(vk.vkQueueSubmit(queue, 1, &si, fence), "vkQueueSubmit");
}

}  // namespace edgerun::vk
