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
// "auto" picks by the documented rule and falls back to cpu (with a one-line
// notice) if its pick cannot start; an explicit name that cannot start, or an
// unknown one, throws Error.
std::unique_ptr<Backend> create_backend(const std::string& name);
std::string auto_backend_name();

}  // namespace edgerun
