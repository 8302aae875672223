// edgerun convert / quantize: any model source (GGUF, .erm, Hugging Face
// folder) to an .erm file, tensor by tensor, never holding the whole model.
#pragma once

#include <functional>
#include <string>

namespace edgerun {

struct ConvertOptions {
  std::string quant = "keep";  // "keep" (types as they are) or a QuantMix name: q4_k_m, q8_0, f16, ...
  bool overwrite = false;
  // Store matrices the cpu kernels read in 16-row groups (quant/layouts.h) in
  // that layout, so loading maps them as they are; false: every tensor in rows.
  bool grouped = true;
  int n_threads = 1;
  // Called after each tensor: (tensors done, total, bytes written so far).
  std::function<void(size_t, size_t, uint64_t)> progress;
};

struct ConvertSummary {
  size_t n_tensors = 0;
  uint64_t bytes = 0;        // of the .erm file
  uint64_t n_params = 0;
  double seconds = 0;
  double bits_per_weight = 0;
};

// Throws Error naming the file and the problem; on failure nothing is left
// under `out` and an existing `out` is untouched.
ConvertSummary convert_model(const std::string& src, const std::string& out, const ConvertOptions& opts);

}  // namespace edgerun
