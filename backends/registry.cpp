#include "registry.h"

#include <cstdio>

#include "common/error.h"
#include "cpu/cpu_backend.h"
#ifdef EDGERUN_WITH_BLAS
#include "blas/blas_backend.h"
#endif
#ifdef EDGERUN_WITH_ONEDNN
#include "onednn/onednn_backend.h"
#endif

namespace edgerun {

const std::vector<BackendInfo>& registered_backends() {
  static const std::vector<BackendInfo> list = {
      {"cpu", "Highway SIMD kernels (int8 dot products), every op", [] { return make_cpu_backend(); }},
#ifdef EDGERUN_WITH_ONEDNN
      {"onednn", "oneDNN matmul (f32; bf16 with EDGERUN_ONEDNN_TYPE=bf16) for prompt batches where it pays; cpu for the rest",
       [] { return make_onednn_backend(); }},
#endif
#ifdef EDGERUN_WITH_BLAS
      {"blas", "OpenBLAS sgemm for prompt batches where it pays; cpu for the rest", [] { return make_blas_backend(); }},
#endif
  };
  return list;
}

std::string auto_backend_name() {
  // The rule (docs/BACKENDS.md, measured there): onednn where it is compiled
  // in — it generates with the cpu kernels and runs prompts through oneDNN's
  // f32 GEMM, faster than both the int8 kernels and OpenBLAS on prompts —
  // else cpu. blas is never the automatic choice: it is slower than cpu here.
  for (const auto& b : registered_backends())
    if (b.name == "onednn") return "onednn";
  return "cpu";
}

std::unique_ptr<Backend> create_backend(const std::string& name) {
  const std::string wanted = name.empty() ? "auto" : name;
  if (wanted == "auto") {
    const std::string pick = auto_backend_name();
    for (const auto& b : registered_backends()) {
      if (b.name != pick) continue;
      try {
        return b.create();
      } catch (const Error& e) {
        std::fprintf(stderr, "edgerun: backend %s cannot start (%s); using cpu\n", pick.c_str(), e.what());
      }
    }
    return make_cpu_backend();
  }
  std::string names;
  for (const auto& b : registered_backends()) {
    if (b.name == wanted) return b.create();  // an explicit choice that cannot start is an error
    names += (names.empty() ? "" : ", ") + b.name;
  }
  fail("--backend", "unknown backend '" + wanted + "' (available here: auto, " + names + ")");
}

}  // namespace edgerun
