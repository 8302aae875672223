// The forward pass of a decoder-only transformer, shared by every
// architecture: what differs (biases, q/k norms, RoPE layout, tied head) comes
// from the model's ArchSpec and its weights, never from per-model code.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "backend.h"
#include "model/model.h"

namespace edgerun {

// The activation buffers of a forward pass, kept by the session between
// calls: one token at a time must not allocate on every step.
struct ForwardScratch {
  int capacity = 0;  // tokens the buffers hold
  std::unique_ptr<Buffer> x, h, q, k, v, att, gate, up, logits;
};

// Runs n tokens at positions pos0..pos0+n-1 through the model, writing them
// into the KV cache. Returns logits: for every token when all_logits, else
// only for the last one ([n or 1, n_vocab], row-major).
std::vector<float> forward(const Model& model, Executor& ex, KVCache& kv, ForwardScratch& scratch,
                           const int32_t* tokens, int n, int pos0, bool all_logits);

}  // namespace edgerun
