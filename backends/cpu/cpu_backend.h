// The portable CPU backend: weights are used in place from the mapped file.
#pragma once

#include <memory>

#include "backend.h"

namespace edgerun {

std::unique_ptr<Backend> make_cpu_backend();

}  // namespace edgerun
