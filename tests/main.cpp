// The test runner: Catch2's, after the EDGERUN_* variables are read into the
// backend settings as the edgerun command reads them (EDGERUN_VULKAN_DEVICE=0
// ctest picks the device, for example).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "env_settings.h"

int main(int argc, char** argv) {
  edgerun::set_backend_settings(edgerun::cli::settings_from_environment());
  return Catch::Session().run(argc, argv);
}
