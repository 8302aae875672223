// One tensor of a model file, as any source (GGUF, safetensors, .erm) hands
// it over: its data stays in the source's memory map.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "types.h"

namespace edgerun {

struct TensorInfo {
  std::string name;            // GGUF naming ("blk.0.attn_q.weight")
  DType type = DType::F32;
  std::vector<int64_t> shape;  // GGUF order: shape[0] is the contiguous (row) dimension
  uint64_t offset = 0;         // within the source's data section
  size_t nbytes = 0;
  const uint8_t* data = nullptr;
  int layout = 0;              // 0: rows of blocks as GGUF stores them; others: repacked (see docs/FORMAT.md)

  int64_t n_elements() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

}  // namespace edgerun
