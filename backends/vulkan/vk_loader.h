// The Vulkan loader, opened at run time: a binary built with the Vulkan
// backend still starts on a machine without libvulkan, and `auto` then simply
// never picks the GPU.
#pragma once

#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#include <string>

namespace edgerun::vk {

// Every entry point the backend calls, resolved once.
#define EDGERUN_VK_INSTANCE_FUNCS(X)                                                                    \
  X(vkDestroyInstance) X(vkEnumeratePhysicalDevices) X(vkGetPhysicalDeviceProperties)                  \
  X(vkGetPhysicalDeviceProperties2) X(vkGetPhysicalDeviceFeatures2)                                    \
  X(vkGetPhysicalDeviceMemoryProperties) X(vkGetPhysicalDeviceQueueFamilyProperties) X(vkCreateDevice) \
  X(vkGetDeviceProcAddr) X(vkEnumerateDeviceExtensionProperties)

#define EDGERUN_VK_DEVICE_FUNCS(X)                                                                       \
  X(vkDestroyDevice) X(vkGetDeviceQueue) X(vkDeviceWaitIdle) X(vkQueueSubmit) X(vkQueueWaitIdle)         \
  X(vkAllocateMemory) X(vkFreeMemory) X(vkMapMemory) X(vkUnmapMemory) X(vkCreateBuffer)                 \
  X(vkDestroyBuffer) X(vkGetBufferMemoryRequirements) X(vkBindBufferMemory) X(vkCreateShaderModule)      \
  X(vkDestroyShaderModule) X(vkCreatePipelineCache) X(vkDestroyPipelineCache) X(vkGetPipelineCacheData)  \
  X(vkCreateComputePipelines) X(vkDestroyPipeline) X(vkCreatePipelineLayout) X(vkDestroyPipelineLayout)  \
  X(vkCreateDescriptorSetLayout) X(vkDestroyDescriptorSetLayout) X(vkCreateDescriptorPool)              \
  X(vkDestroyDescriptorPool) X(vkAllocateDescriptorSets) X(vkUpdateDescriptorSets)                      \
  X(vkCreateCommandPool) X(vkDestroyCommandPool) X(vkAllocateCommandBuffers) X(vkResetCommandBuffer)     \
  X(vkBeginCommandBuffer) X(vkEndCommandBuffer) X(vkCmdBindPipeline) X(vkCmdBindDescriptorSets)          \
  X(vkCmdPushConstants) X(vkCmdDispatch) X(vkCmdPipelineBarrier) X(vkCmdCopyBuffer) X(vkCmdFillBuffer)   \
  X(vkCreateFence) X(vkDestroyFence) X(vkWaitForFences) X(vkResetFences)

struct Api {
  PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr = nullptr;
  PFN_vkCreateInstance vkCreateInstance = nullptr;
  PFN_vkEnumerateInstanceVersion vkEnumerateInstanceVersion = nullptr;
#define EDGERUN_VK_DECLARE(name) PFN_##name name = nullptr;
  EDGERUN_VK_INSTANCE_FUNCS(EDGERUN_VK_DECLARE)
  EDGERUN_VK_DEVICE_FUNCS(EDGERUN_VK_DECLARE)
#undef EDGERUN_VK_DECLARE

  void load_instance(VkInstance instance);  // throws Error naming a missing entry point
  void load_device(VkDevice device);
};

// The process-wide loader; throws Error ("no Vulkan loader (libvulkan.so.1)")
// when the library is absent.
Api& api();

// Throws Error naming the call when r is not VK_SUCCESS.
void check(VkResult r, const char* what);
std::string result_name(VkResult r);

}  // namespace edgerun::vk
