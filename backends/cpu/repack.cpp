#include "cpu/repack.h"

#include <cstring>

#include "blocks.h"
#include "fp16.h"

namespace edgerun::cpu {

void repack_q4_0x16(const void* rows, int64_t cols, void* group) {
  const int64_t nb = cols / QK;
  const auto* x = static_cast<const block_q4_0*>(rows);
  auto* scales = static_cast<uint16_t*>(group);
  auto* qs = static_cast<uint8_t*>(group) + nb * 32;
  for (int64_t b = 0; b < nb; ++b)
    for (int r = 0; r < kGroupRows; ++r) {
      const block_q4_0& blk = x[r * nb + b];
      scales[b * kGroupRows + r] = blk.d;
      for (int k = 0; k < 4; ++k) std::memcpy(qs + b * 256 + k * 64 + r * 4, blk.qs + 4 * k, 4);
    }
}

void dot_q4_0x16_ref(const void* group, const void* act, int64_t cols, float* out) {
  const int64_t nb = cols / QK;
  const auto* scales = static_cast<const uint16_t*>(group);
  const auto* qs = static_cast<const uint8_t*>(group) + nb * 32;
  const auto* aq = static_cast<const int8_t*>(act);
  const auto* ad = reinterpret_cast<const float*>(static_cast<const uint8_t*>(act) + cols);
  for (int r = 0; r < kGroupRows; ++r) {
    float sum = 0;
    for (int64_t b = 0; b < nb; ++b) {
      int s = 0;
      for (int k = 0; k < 4; ++k)
        for (int j = 0; j < 4; ++j) {
          const uint8_t byte = qs[b * 256 + k * 64 + r * 4 + j];
          s += ((byte & 15) - 8) * aq[b * QK + 4 * k + j] + ((byte >> 4) - 8) * aq[b * QK + 16 + 4 * k + j];
        }
      sum += fp16_to_float(scales[b * kGroupRows + r]) * ad[b] * static_cast<float>(s);
    }
    out[r] = sum;
  }
}

void repack_q8_0x16(const void* rows, int64_t cols, void* group) {
  const int64_t nb = cols / QK;
  const auto* x = static_cast<const block_q8_0*>(rows);
  auto* scales = static_cast<uint16_t*>(group);
  auto* qs = static_cast<uint8_t*>(group) + nb * 32;
  for (int64_t b = 0; b < nb; ++b)
    for (int r = 0; r < kGroupRows; ++r) {
      const block_q8_0& blk = x[r * nb + b];
      scales[b * kGroupRows + r] = blk.d;
      for (int k = 0; k < 8; ++k) std::memcpy(qs + b * 512 + k * 64 + r * 4, blk.qs + 4 * k, 4);
    }
}

void dot_q8_0x16_ref(const void* group, const void* act, int64_t cols, float* out) {
  const int64_t nb = cols / QK;
  const auto* scales = static_cast<const uint16_t*>(group);
  const auto* qs = reinterpret_cast<const int8_t*>(static_cast<const uint8_t*>(group) + nb * 32);
  const auto* aq = static_cast<const int8_t*>(act);
  const auto* ad = reinterpret_cast<const float*>(static_cast<const uint8_t*>(act) + cols);
  for (int r = 0; r < kGroupRows; ++r) {
    float sum = 0;
    for (int64_t b = 0; b < nb; ++b) {
      int s = 0;
      for (int k = 0; k < 8; ++k)
        for (int j = 0; j < 4; ++j) s += qs[b * 512 + k * 64 + r * 4 + j] * aq[b * QK + 4 * k + j];
      sum += fp16_to_float(scales[b * kGroupRows + r]) * ad[b] * static_cast<float>(s);
    }
    out[r] = sum;
  }
}

}  // namespace edgerun::cpu
