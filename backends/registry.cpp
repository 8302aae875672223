#include "registry.h"

#include "common/error.h"
#include "cpu/cpu_backend.h"

namespace edgerun {

const std::vector<BackendInfo>& registered_backends() {
  static const std::vector<BackendInfo> list = {
      {"cpu", "portable CPU kernels", [] { return make_cpu_backend(); }},
  };
  return list;
}

std::unique_ptr<Backend> create_backend(const std::string& name) {
  const std::string wanted = name.empty() ? "auto" : name;
  if (wanted == "auto") return registered_backends().front().create();
  std::string names;
  for (const auto& b : registered_backends()) {
    if (b.name == wanted) return b.create();
    names += (names.empty() ? "" : ", ") + b.name;
  }
  fail("--backend", "unknown backend '" + wanted + "' (available: auto, " + names + ")");
}

}  // namespace edgerun
