// OpenBLAS for prompt-sized matrix products (see blas_backend.cpp).
#pragma once

#include <memory>

#include "backend.h"

namespace edgerun {
std::unique_ptr<Backend> make_blas_backend();
}
