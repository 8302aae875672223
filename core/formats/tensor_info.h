// One tensor of a model file, as any source (GGUF, safetensors, .erm) hands
// it over: its data stays in the source's memory map.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "layouts.h"
#include "types.h"

namespace edgerun {

struct TensorInfo {
  std::string name;            // GGUF naming ("blk.0.attn_q.weight")
  DType type = DType::F32;
  std::vector<int64_t> shape;  // GGUF order: shape[0] is the contiguous (row) dimension
  uint64_t offset = 0;         // within the source's data section
  size_t nbytes = 0;
  const uint8_t* data = nullptr;
  int layout = kLayoutRows;    // or kLayoutX16: 16-row groups (quant/layouts.h, docs/FORMAT.md)
  // A tensor stacked from equal pieces that lie apart (a Hugging Face MoE
  // layer's experts, one tensor each): their data, in order; empty when the
  // tensor is contiguous at `data`.
  std::vector<const uint8_t*> parts;

  int64_t n_elements() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  // The i-th of n equal slices along the last dimension (an expert of a
  // stacked expert tensor); a stacked tensor has n parts.
  const uint8_t* slice(int64_t i, int64_t n) const {
    if (!parts.empty()) return parts[static_cast<size_t>(i)];
    return data + static_cast<size_t>(i) * (nbytes / static_cast<size_t>(n));
  }
};

// Bytes the tensor's data takes in its type, shape and layout.
inline size_t tensor_bytes(const TensorInfo& t) {
  const int64_t cols = t.shape.empty() ? 1 : t.shape[0];
  return t.layout == kLayoutX16 ? x16_tensor_bytes(t.type, t.n_elements() / cols, cols) : dtype_row_bytes(t.type, t.n_elements());
}

}  // namespace edgerun
