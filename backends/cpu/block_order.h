// The one order every quantized dot product is summed in, on every target and
// backend (docs/NUMERICS.md): a block's integer sum I (exact), its value
// (d_weight * d_act) * I, and the block values added one after another from
// the first block, each operation rounded to float (never fused). The Vulkan
// shaders compute the same, so their logits equal these to the bit.
#pragma once

#include <cstdint>

namespace edgerun::cpu {

inline float add_block(float sum, float dd, int32_t i) { return sum + dd * static_cast<float>(i); }
// K-quants: (d * d_act) * I - (dmin * d_act) * Imin.
inline float add_block_k(float sum, float d, float dmin, float da, int32_t i, int32_t imin) {
  return sum + ((d * da) * static_cast<float>(i) - (dmin * da) * static_cast<float>(imin));
}
// q4_1 / q5_1 against q8_1: (d_w d_a) I + m_w s_a, s_a = d_a times the activation block's quant sum.
inline float add_block_min(float sum, float dd, int32_t i, float ms) { return sum + (dd * static_cast<float>(i) + ms); }

}  // namespace edgerun::cpu
