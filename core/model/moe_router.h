// A mixture-of-experts router on the host: which experts each token goes to,
// and with what weights (docs/NUMERICS.md, rule 8).
#pragma once

#include <cstdint>
#include <vector>

namespace edgerun {

struct MoeChoice {
  std::vector<int32_t> expert;  // [n * k], per token in rank order
  std::vector<float> weight;    // [n * k]
};

// The router's logits for n rows of dim floats: out[t * n_expert + e] = h_t . w_e
// over w's n_expert rows of dim floats, each dot product in exact_math.h's
// lane order. On the host for every backend, so the choice of experts is the
// same everywhere.
std::vector<float> router_logits(const float* h, int n, int64_t dim, const float* w, int n_expert);

// logits: [n, n_expert] router outputs. Softmax over all experts, the k with
// the largest probabilities (ties: the lower expert id first), and, when
// `renormalise`, those k weights divided by their sum.
MoeChoice route_top_k(const float* logits, int n, int n_expert, int k, bool renormalise);

}  // namespace edgerun
