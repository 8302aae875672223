// The forward pass of a decoder-only transformer, shared by every
// architecture: each layer is an attention block and an MLP block (dense or
// mixture of experts) as its LayerSpec says; what differs (biases, q/k norms,
// RoPE layout, tied head) comes from the model's description and its weights,
// never from per-model code.
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
  std::unique_ptr<Buffer> moe;  // MoE layers: the experts' weighted sum
};

// What sessions compute with: per model backend an executor and its buffers.
// Several sequences can share one and be evaluated in one forward pass.
// Declared in this order so that buffers go before the executor that made them.
struct ForwardState {
  std::vector<std::unique_ptr<Executor>> ex;
  std::vector<ForwardScratch> scratch;
  std::vector<float> handoff;  // host floats: the residual stream between two backends, a MoE router's input
};

// One sequence's KV cache: a part for the layers on each backend, made by
// that backend's executor in a ForwardState.
struct SequenceCache {
  std::vector<std::unique_ptr<KVCache>> kv;
};

// A sequence's part of a forward pass: n tokens at positions pos0..pos0+n-1.
struct SequenceBatch {
  const int32_t* tokens = nullptr;
  int n = 0;
  int pos0 = 0;
  SequenceCache* cache = nullptr;
  bool all_logits = false;  // logits for every token, else for the last one only
};

// Runs the tokens of every sequence through the model in one pass (each
// weight is read once for all of them), writing each sequence's keys and
// values into its own cache. Returns the logits, [rows, n_vocab] row-major:
// per sequence in order, n rows when all_logits, else one.
std::vector<float> forward(const Model& model, ForwardState& st, const std::vector<SequenceBatch>& batch);

// The one-sequence case.
inline std::vector<float> forward(const Model& model, ForwardState& st, SequenceCache& cache, const int32_t* tokens,
                                  int n, int pos0, bool all_logits) {
  return forward(model, st, {SequenceBatch{tokens, n, pos0, &cache, all_logits}});
}

}  // namespace edgerun
