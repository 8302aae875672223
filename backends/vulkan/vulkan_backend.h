// The Vulkan backend: the whole forward pass in compute shaders on a GPU
// (see docs/BACKENDS.md). Weights are uploaded once; per token only ids go in
// and logits come out.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backend.h"

namespace edgerun {

struct VulkanOptions {
  int device = -1;         // index as vulkan_device_lines() lists them; -1: BackendSettings::vulkan_device or the best GPU
  bool automatic = false;  // chosen by `auto`: also refuse a device slower than the cpu
};

// Opens the device and runs the numeric self-test; throws Error saying why
// the device cannot be used.
std::unique_ptr<Backend> make_vulkan_backend(const VulkanOptions& opts);

// What the self-test found: "" when every op on this device gives the cpu
// backend's results to the bit, else the first op that does not (by float
// rounding only: more, and the backend is refused).
std::string vulkan_exactness_note(const Backend& vulkan_backend);

// Whether `auto` should try Vulkan at all: a loader and a GPU (or a device
// named by BackendSettings::vulkan_device) exist. Never throws.
bool vulkan_candidate_exists();

// One line per device for `edgerun info --backends`, or the reason there are none.
std::vector<std::string> vulkan_device_lines();

}  // namespace edgerun

namespace edgerun {
// The device a test or tool should use: EDGERUN_VULKAN_DEVICE, else the best
// GPU, else (allow_cpu) the first device of any type; -1 when there is none.
int vulkan_pick_device(bool allow_cpu);
}  // namespace edgerun
