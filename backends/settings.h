// Process-wide switches of the backends, for tuning, comparing and testing.
// The library reads no environment variables: an app or the command line
// fills this (the edgerun CLI and the tests from EDGERUN_* variables) and sets
// it before it loads models; backends read it when they start and, for
// gemm_min_tokens, at each matrix product (a plain load, not a lookup).
#pragma once

#include <cstdint>
#include <string>

namespace edgerun {

struct BackendSettings {
  std::string simd;               // a Highway target name to run instead of the best one ("AVX2")
  bool no_regroup = false;        // cpu: keep weights in rows (to compare with the 16-row groups)
  int gemm_min_tokens = 0;        // blas/onednn: the library GEMM from this many tokens, every type; 0: the measured rule
  std::string onednn_type = "f32";  // onednn: f32 (exact), bf16 or int8 (faster, lossy)
  int vulkan_device = -1;         // vulkan: the device when none is named in LoadOptions; -1: the best GPU
  bool vulkan_subgroups = true;   // vulkan: use subgroup arithmetic where the device has it
  bool vulkan_tiles = true;       // vulkan: tiled prompt shaders
  uint64_t vulkan_memory_budget = 0;  // vulkan: bytes the model may fill; 0: 90 % of device memory
  std::string cache_dir;          // vulkan: the pipeline cache's folder; "": none (the CLI uses $XDG_CACHE_HOME/edgerun)
};

// Replaces the settings. Not for use while models are loaded or running.
void set_backend_settings(const BackendSettings& s);
const BackendSettings& backend_settings();

}  // namespace edgerun
