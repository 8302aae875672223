#include "registry.h"

#include <cstdio>

#include "common/error.h"
#include "common/log.h"
#include "cpu/cpu_backend.h"
#ifdef EDGERUN_WITH_BLAS
#include "blas/blas_backend.h"
#endif
#ifdef EDGERUN_WITH_ONEDNN
#include "onednn/onednn_backend.h"
#endif
#ifdef EDGERUN_WITH_VULKAN
#include "vulkan/vulkan_backend.h"
#endif

namespace edgerun {

const std::vector<BackendInfo>& registered_backends() {
  static const std::vector<BackendInfo> list = {
      {"cpu", "Highway SIMD kernels (int8 dot products), every op",
       [](const BackendOptions&, bool) { return make_cpu_backend(); }, nullptr},
#ifdef EDGERUN_WITH_ONEDNN
      {"onednn", "oneDNN matmul (f32; EDGERUN_ONEDNN_TYPE=bf16 or int8: faster, not exact) for prompt batches where it pays; cpu for the rest",
       [](const BackendOptions&, bool) { return make_onednn_backend(); }, nullptr},
#endif
#ifdef EDGERUN_WITH_BLAS
      {"blas", "OpenBLAS sgemm for prompt batches where it pays; cpu for the rest",
       [](const BackendOptions&, bool) { return make_blas_backend(); }, nullptr},
#endif
#ifdef EDGERUN_WITH_VULKAN
      {"vulkan", "Vulkan compute shaders: the whole forward pass on a GPU (a device index; layers can be split with the cpu)",
       [](const BackendOptions& o, bool automatic) { return make_vulkan_backend(VulkanOptions{o.device, automatic}); },
       [] { return vulkan_candidate_exists(); }},
#endif
  };
  return list;
}

std::string auto_cpu_backend_name() {
  // The rule (docs/BACKENDS.md, measured there): onednn where it is compiled
  // in — it generates with the cpu kernels and takes a prompt's products only
  // where its f32 GEMM beats them (on AVX-512 VNNI CPUs: float weights alone),
  // so it is never slower than cpu — else cpu. blas is never the automatic
  // choice: slower than onednn everywhere. The faster but lossy precisions
  // (EDGERUN_ONEDNN_TYPE=int8, bf16) are never chosen for the user: they
  // change the numbers.
  for (const auto& b : registered_backends())
    if (b.name == "onednn") return "onednn";
  return "cpu";
}

std::unique_ptr<Backend> create_backend(const std::string& name, const BackendOptions& opts) {
  const std::string wanted = name.empty() ? "auto" : name;
  if (wanted == "auto") {
    const std::string pick = auto_cpu_backend_name();
    // No GPU: quietly the cpu. A GPU that fails its self-test or is slower: said so.
    for (const auto& b : registered_backends()) {
      if (!b.gpu_present || !b.gpu_present()) continue;
      try {
        return b.create(opts, true);
      } catch (const Error& e) {
        log_message(LogLevel::Info, "not using " + b.name + " (" + e.what() + "); using " + pick);
      }
    }
    for (const auto& b : registered_backends()) {
      if (b.name != pick) continue;
      try {
        return b.create(opts, true);
      } catch (const Error& e) {
        log_message(LogLevel::Warn, "backend " + pick + " cannot start (" + e.what() + "); using cpu");
      }
    }
    return make_cpu_backend();
  }
  std::string names;
  for (const auto& b : registered_backends()) {
    if (b.name == wanted) return b.create(opts, false);  // an explicit choice that cannot start is an error
    names += (names.empty() ? "" : ", ") + b.name;
  }
  fail("backend", "unknown backend '" + wanted + "' (available here: auto, " + names + ")");
}

}  // namespace edgerun
