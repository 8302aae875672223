// The EDGERUN_* environment variables that the edgerun command (and the test
// suite) turn into BackendSettings. The library itself reads none of them.
#pragma once

#include <cstdlib>
#include <string>

#include "common/error.h"
#include "settings.h"

namespace edgerun::cli {

inline BackendSettings settings_from_environment() {
  BackendSettings s;
  auto get = [](const char* name) -> const char* {
    const char* v = std::getenv(name);
    return v && *v ? v : nullptr;
  };
  auto number = [](const char* name, const char* v, unsigned long long max) {
    char* end = nullptr;
    const unsigned long long n = std::strtoull(v, &end, 10);
    if (*end || v[0] == '-' || n > max) fail(name, std::string("not a number from 0 to ") + std::to_string(max) + ": '" + v + "'");
    return n;
  };
  if (const char* v = get("EDGERUN_SIMD")) s.simd = v;
  if (get("EDGERUN_NO_REGROUP")) s.no_regroup = true;
  if (const char* v = get("EDGERUN_GEMM_MIN_TOKENS")) s.gemm_min_tokens = static_cast<int>(number("EDGERUN_GEMM_MIN_TOKENS", v, 1 << 24));
  if (const char* v = get("EDGERUN_ONEDNN_TYPE")) s.onednn_type = v;
  if (const char* v = get("EDGERUN_VULKAN_DEVICE")) s.vulkan_device = static_cast<int>(number("EDGERUN_VULKAN_DEVICE", v, 1000));
  if (const char* v = get("EDGERUN_VULKAN_SUBGROUPS")) s.vulkan_subgroups = std::string(v) != "0";
  if (get("EDGERUN_VULKAN_NO_TILES")) s.vulkan_tiles = false;
  if (const char* v = get("EDGERUN_VULKAN_MEMORY_BUDGET")) s.vulkan_memory_budget = number("EDGERUN_VULKAN_MEMORY_BUDGET", v, ~0ull);
  if (const char* v = get("EDGERUN_CACHE_DIR")) {
    s.cache_dir = v;
  } else if (const char* x = get("XDG_CACHE_HOME")) {
    s.cache_dir = std::string(x) + "/edgerun";
  } else if (const char* h = get("HOME")) {
    s.cache_dir = std::string(h) + "/.cache/edgerun";
  }
  return s;
}

}  // namespace edgerun::cli
