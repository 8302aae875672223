// Backends register themselves by name; the runtime asks the registry for one
// so that model code never names a concrete backend.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backend.h"

namespace edgerun {

struct BackendOptions {
  int device = -1;  // GPU backends: which device; -1 = their own default
};

struct BackendInfo {
  std::string name;
  std::string description;
  // Returns a ready backend, or throws Error saying why it cannot start here.
  // `automatic`: chosen by auto, which also wants it to be faster than the cpu.
  std::function<std::unique_ptr<Backend>(const BackendOptions&, bool automatic)> create;
  // GPU backends: whether a device that auto could use is present (never throws).
  std::function<bool()> gpu_present;
};

const std::vector<BackendInfo>& registered_backends();

// "auto" takes a GPU backend when a device is present, passes its self-test
// and is faster than the cpu — else, with a one-line notice when a device was
// there but refused, the host backend auto_cpu_backend_name(). An explicit
// name that cannot start, or an unknown one, throws Error.
std::unique_ptr<Backend> create_backend(const std::string& name, const BackendOptions& opts = {});
// What auto runs on the host CPU, by the rule in docs/BACKENDS.md.
std::string auto_cpu_backend_name();

}  // namespace edgerun
