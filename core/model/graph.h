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

// The activation buffers of a forward pass on one executor, kept between
// calls: one token at a time must not allocate on every step.
struct ForwardScratch {
  int capacity = 0;  // tokens the buffers hold
  std::unique_ptr<Buffer> x, h, q, k, v, att, gate, up, logits;
};

// What a session computes with: per model backend an executor, its KV cache
// (for the layers on that backend) and its buffers. Declared in this order so
// that buffers and caches go before the executor that made them.
struct ForwardState {
  std::vector<std::unique_ptr<Executor>> ex;
  std::vector<std::unique_ptr<KVCache>> kv;
  std::vector<ForwardScratch> scratch;
  std::vector<float> handoff;  // the residual stream between two backends
};

// Runs n tokens at positions pos0..pos0+n-1 through the model, writing them
// into the KV cache. Returns logits: for every token when all_logits, else
// only for the last one ([n or 1, n_vocab], row-major).
std::vector<float> forward(const Model& model, ForwardState& st, const int32_t* tokens, int n, int pos0,
                           bool all_logits);

}  // namespace edgerun
