#include "settings.h"

namespace edgerun {

namespace {
BackendSettings g_settings;
}

void set_backend_settings(const BackendSettings& s) { g_settings = s; }
const BackendSettings& backend_settings() { return g_settings; }

}  // namespace edgerun
