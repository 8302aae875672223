// Which type each tensor gets under a quantization name: whole-model types
// ("q8_0", "q4_0", "f16", ...) and the mixes community GGUF files use
// ("q4_k_m", "q5_k_m", "q3_k_m", "q4_k_s", "q5_k_s", "iq4_xs", "iq4_nl"), with the same per-tensor choices as
// llama.cpp's quantizer so files of the same name are alike.
#pragma once

#include <string>
#include <vector>

#include "formats/tensor_info.h"

namespace edgerun {

class QuantMix {
 public:
  // Throws Error for an unknown name. n_layer, n_expert (0: dense) and n_gqa
  // (query heads per key/value head) come from the model.
  QuantMix(const std::string& name, int n_layer, bool has_output, int n_expert = 0, int n_gqa = 1);
  static std::vector<std::string> names();

  // The type for tensor `t`; call in file order (attn_v tensors are counted).
  DType choose(const TensorInfo& t);

 private:
  std::string name_;
  DType base_ = DType::F32;
  int n_layer_ = 0;
  bool has_output_ = true;
  int n_expert_ = 0;
  int n_gqa_ = 1;
  int attn_v_seen_ = 0;
};

}  // namespace edgerun
