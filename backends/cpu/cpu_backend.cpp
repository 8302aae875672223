#include "cpu/cpu_backend.h"

namespace edgerun {

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<cpu::CpuBackend>(); }

}  // namespace edgerun
