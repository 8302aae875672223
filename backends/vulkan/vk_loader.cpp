#include "vk_loader.h"

#include <dlfcn.h>

#include <mutex>

#include "common/error.h"

namespace edgerun::vk {

namespace {
template <typename F>
void resolve(F& slot, PFN_vkVoidFunction p, const char* name) {
  if (!p) fail("vulkan", std::string("the driver lacks the entry point ") + name);
  slot = reinterpret_cast<F>(p);
}
}  // namespace

void Api::load_instance(VkInstance instance) {
#define EDGERUN_VK_LOAD(name) resolve(name, vkGetInstanceProcAddr(instance, #name), #name);
  EDGERUN_VK_INSTANCE_FUNCS(EDGERUN_VK_LOAD)
#undef EDGERUN_VK_LOAD
}

void Api::load_device(VkDevice device) {
#define EDGERUN_VK_LOAD(name) resolve(name, vkGetDeviceProcAddr(device, #name), #name);
  EDGERUN_VK_DEVICE_FUNCS(EDGERUN_VK_LOAD)
#undef EDGERUN_VK_LOAD
}

Api& api() {
  static Api a;
  static std::once_flag once;
  static std::string error;
  std::call_once(once, [] {
    void* lib = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) lib = dlopen("libvulkan.so", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      error = "no Vulkan loader (libvulkan.so.1) on this system";
      return;
    }
    a.vkGetInstanceProcAddr = reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(lib, "vkGetInstanceProcAddr"));
    if (!a.vkGetInstanceProcAddr) {
      error = "libvulkan.so.1 has no vkGetInstanceProcAddr";
      return;
    }
    a.vkCreateInstance = reinterpret_cast<PFN_vkCreateInstance>(a.vkGetInstanceProcAddr(nullptr, "vkCreateInstance"));
    a.vkEnumerateInstanceVersion =
        reinterpret_cast<PFN_vkEnumerateInstanceVersion>(a.vkGetInstanceProcAddr(nullptr, "vkEnumerateInstanceVersion"));
    if (!a.vkCreateInstance) error = "the Vulkan loader has no vkCreateInstance";
  });
  if (!error.empty()) fail("vulkan", error);
  return a;
}

std::string result_name(VkResult r) {
  switch (r) {
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "out of host memory";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "out of device memory";
    case VK_ERROR_INITIALIZATION_FAILED: return "initialization failed";
    case VK_ERROR_DEVICE_LOST: return "device lost";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "incompatible driver (no Vulkan 1.2 device)";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "extension not present";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "feature not present";
    case VK_ERROR_TOO_MANY_OBJECTS: return "too many objects";
    case VK_ERROR_LAYER_NOT_PRESENT: return "layer not present";
    case VK_TIMEOUT: return "timeout";
    default: return "VkResult " + std::to_string(static_cast<int>(r));
  }
}

void check(VkResult r, const char* what) {
  if (r != VK_SUCCESS) fail("vulkan", std::string(what) + " failed: " + result_name(r));
}

}  // namespace edgerun::vk
