// Backends register themselves by name; the runtime asks the registry for one
// so that model code never names a concrete backend.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backend.h"

namespace edgerun {

struct BackendInfo {
  std::string name;
  std::string description;
  // Returns a ready backend, or throws Error saying why it cannot start here.
  std::function<std::unique_ptr<Backend>()> create;
};

const std::vector<BackendInfo>& registered_backends();
// "auto" picks the preferred usable backend. Throws Error for an unknown name.
std::unique_ptr<Backend> create_backend(const std::string& name);

}  // namespace edgerun
