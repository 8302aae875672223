#include "vulkan_weights.h"

#include <cstring>
#include <string>
#include <vector>

#include "common/error.h"
#include "fp16.h"

namespace edgerun::vk {

namespace {
struct Padded {
  size_t src_bytes, dst_bytes, scale_at;  // scale_at: byte offset of the f16 scale in the source block
};
// The blocks that are padded: [f16 scale, 2 zero bytes, rest of the block] or,
// for Q6_K (scale last), the block followed by 2 zero bytes.
bool padded_layout(DType t, Padded* p) {
  switch (t) {
    case DType::Q8_0: *p = {34, 36, 0}; return true;
    case DType::Q4_0: *p = {18, 20, 0}; return true;
    case DType::Q5_0: *p = {22, 24, 0}; return true;
    case DType::IQ4_NL: *p = {18, 20, 0}; return true;
    case DType::Q3_K: *p = {110, 112, 108}; return true;
    case DType::Q6_K: *p = {210, 212, 208}; return true;
    default: return false;
  }
}
}  // namespace

DType storage_type(DType t) {
  switch (t) {
    case DType::F32: case DType::F16: case DType::Q8_0: case DType::Q4_0: case DType::Q5_0: case DType::IQ4_NL:
    case DType::Q2_K: case DType::Q3_K: case DType::Q4_K: case DType::Q5_K: case DType::Q6_K: case DType::IQ4_XS:
    case DType::Q4_1: case DType::Q5_1:
      return t;
    case DType::BF16: return DType::F32;  // f16 cannot hold bf16's range
    default: return DType::F16;
  }
}

const char* shader_suffix(DType s) {
  switch (s) {
    case DType::F32: return "f32";
    case DType::F16: return "f16";
    case DType::Q8_0: return "q8_0";
    case DType::Q4_0: return "q4_0";
    case DType::Q5_0: return "q5_0";
    case DType::Q4_1: return "q4_1";
    case DType::Q5_1: return "q5_1";
    case DType::IQ4_NL: return "iq4_nl";
    case DType::Q2_K: return "q2_k";
    case DType::Q3_K: return "q3_k";
    case DType::Q4_K: return "q4_k";
    case DType::Q5_K: return "q5_k";
    case DType::Q6_K: return "q6_k";
    case DType::IQ4_XS: return "iq4_xs";
    default: fail("vulkan", std::string("internal: no shader for ") + dtype_name(s));
  }
}

size_t storage_row_bytes(DType s, int64_t cols) {
  const int64_t qk = s == DType::F32 || s == DType::F16 ? 4 : dtype_traits(s).block_size;
  if (cols <= 0 || cols % qk != 0)
    fail("vulkan", "rows of " + std::to_string(cols) + " " + dtype_name(s) + " values do not fit the GPU's " +
                       std::to_string(qk) + "-element groups");
  Padded p{};
  if (padded_layout(s, &p)) return static_cast<size_t>(cols / qk) * p.dst_bytes;
  return dtype_row_bytes(s, cols);
}

void repack_rows(DType t, const void* src, int64_t rows, int64_t cols, void* dst) {
  const DType s = storage_type(t);
  const size_t out_row = storage_row_bytes(s, cols), in_row = dtype_row_bytes(t, cols);
  const auto* in = static_cast<const uint8_t*>(src);
  auto* out = static_cast<uint8_t*>(dst);
  Padded p{};
  if (s == t && !padded_layout(t, &p)) {
    std::memcpy(out, in, in_row * rows);
    return;
  }
  if (s == t) {
    const int64_t blocks = rows * (static_cast<int64_t>(in_row) / static_cast<int64_t>(p.src_bytes));
    for (int64_t b = 0; b < blocks; ++b) {
      const uint8_t* i = in + b * p.src_bytes;
      uint8_t* o = out + b * p.dst_bytes;
      if (p.scale_at == 0) {
        std::memcpy(o, i, 2);
        o[2] = o[3] = 0;
        std::memcpy(o + 4, i + 2, p.src_bytes - 2);
      } else {
        std::memcpy(o, i, p.src_bytes);
        o[p.src_bytes] = o[p.src_bytes + 1] = 0;
      }
    }
    return;
  }
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    dequantize_row(t, in + r * in_row, row.data(), cols);
    uint8_t* o = out + r * out_row;
    if (s == DType::F32) {
      std::memcpy(o, row.data(), out_row);
    } else {
      auto* h = reinterpret_cast<uint16_t*>(o);
      for (int64_t c = 0; c < cols; ++c) h[c] = float_to_fp16(row[c]);
    }
  }
}

}  // namespace edgerun::vk
