// The sampling a model's authors recommend, where its file says so: GGUF's
// general.sampling.* keys (llama.cpp's converter writes them from
// generation_config.json; edgerun does the same for Hugging Face folders and
// keeps them in .erm). Values out of range are ignored, not trusted.
#pragma once

#include <optional>

namespace edgerun {

class Metadata;

struct SamplingDefaults {
  std::optional<float> temperature, top_p, min_p;
  std::optional<int> top_k;
};

SamplingDefaults sampling_defaults(const Metadata& meta);

}  // namespace edgerun
