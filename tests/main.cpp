// The test runner: Catch2's, after the EDGERUN_* variables are read into the
// backend settings as the edgerun command reads them (EDGERUN_VULKAN_DEVICE=0
// ctest picks the device, for example).
//
// `--requires WHAT` first: a CTest entry whose tests cannot run on this
// build or CPU exits with 77, which CTest reports as skipped, not passed.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>
#include <vector>

#include "cpu/kernels.h"
#include "env_settings.h"
#include "registry.h"

namespace {

constexpr int kSkipped = 77;

// "" when `what` is here, else why not.
std::string missing(const std::string& what) {
  if (what == "group-kernels") {
    for (const auto& ks : edgerun::cpu::kernels_for_each_target())
      if (ks.group_q4_0x16) return "";
    return "no SIMD target of this CPU has the 16-row group kernels";
  }
  if (what == "library-backends") {
    for (const auto& b : edgerun::registered_backends())
      if (b.name != "cpu" && !b.gpu_present) return "";
    return "this build has no library backend (blas, onednn)";
  }
  return "unknown requirement '" + what + "'";
}

}  // namespace

int main(int argc, char** argv) {
  edgerun::set_backend_settings(edgerun::cli::settings_from_environment());
  std::vector<char*> args(argv, argv + argc);
  if (args.size() >= 3 && std::strcmp(args[1], "--requires") == 0) {
    const std::string why = missing(args[2]);
    if (why.rfind("unknown", 0) == 0) {
      std::fprintf(stderr, "%s\n", why.c_str());
      return 2;
    }
    if (!why.empty()) {
      std::printf("SKIPPED: %s\n", why.c_str());
      return kSkipped;
    }
    args.erase(args.begin() + 1, args.begin() + 3);
  }
  return Catch::Session().run(static_cast<int>(args.size()), args.data());
}
