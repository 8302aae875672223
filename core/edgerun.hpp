// The public face of libedgerun for C++ apps. Every call returns a Result:
// errors come back as values with a message, never as exceptions.
//
//   auto model = edgerun::load_model("model.gguf", {});
//   if (!model) { std::cerr << model.message(); return 1; }
//   auto session = edgerun::new_session(**model, {});
//   edgerun::generate(**session, "Once upon a time", {}, 64, on_text);
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "model/model.h"
#include "sampling/sampler.h"
#include "runtime/chat.h"
#include "runtime/generation_defaults.h"
#include "runtime/scheduler.h"
#include "session/session.h"

namespace edgerun {

Result<std::unique_ptr<Model>> load_model(const std::string& path, const LoadOptions& opts);
Result<std::unique_ptr<Session>> new_session(const Model& model, const SessionOptions& opts);

// Tokenizes `prompt` (with the model's special tokens), generates up to
// n_predict tokens and streams the text to on_text as it comes (never half a
// UTF-8 character). on_text returning false stops generation.
Result<GenerateStats> generate(Session& session, const std::string& prompt, const SamplerParams& sampling, int n_predict,
                               const std::function<bool(const std::string&)>& on_text);

// Memory the weights (mapped) and the KV cache will take, from the file header alone.
struct MemoryEstimate {
  size_t weight_bytes = 0;
  size_t kv_bytes = 0;
};
Result<MemoryEstimate> estimate_memory(const std::string& path, int n_ctx, KVType k, KVType v);
inline Result<MemoryEstimate> estimate_memory(const std::string& path, int n_ctx, KVType kv_type) {
  return estimate_memory(path, n_ctx, kv_type, kv_type);
}

}  // namespace edgerun
