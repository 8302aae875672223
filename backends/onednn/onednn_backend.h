// oneDNN for prompt-sized matrix products (see onednn_backend.cpp).
#pragma once

#include <memory>

#include "backend.h"

namespace edgerun {
// Throws Error when oneDNN cannot run here.
std::unique_ptr<Backend> make_onednn_backend();
}
