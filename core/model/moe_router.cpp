#include "model/moe_router.h"

#include <algorithm>
#include <numeric>

#include "exact_math.h"

namespace edgerun {

std::vector<float> router_logits(const float* h, int n, int64_t dim, const float* w, int n_expert) {
  std::vector<float> out(static_cast<size_t>(n) * n_expert);
  for (int t = 0; t < n; ++t)
    for (int e = 0; e < n_expert; ++e) out[static_cast<size_t>(t) * n_expert + e] = exact_dot(h + t * dim, w + e * dim, dim);
  return out;
}

MoeChoice route_top_k(const float* logits, int n, int n_expert, int k, bool renormalise) {
  MoeChoice c;
  c.expert.resize(static_cast<size_t>(n) * k);
  c.weight.resize(static_cast<size_t>(n) * k);
  std::vector<float> p(n_expert);
  std::vector<int32_t> ids(n_expert);
  for (int t = 0; t < n; ++t) {
    const float* z = logits + static_cast<int64_t>(t) * n_expert;
    // The softmax of attention (rule 3 and 5): max, exp of the differences,
    // their sum in lanes, one reciprocal.
    const float mx = *std::max_element(z, z + n_expert);
    for (int e = 0; e < n_expert; ++e) p[e] = exact_exp(z[e] - mx);
    const float inv = 1.0f / exact_sum(n_expert, [&](int64_t e) { return p[e]; });
    for (int e = 0; e < n_expert; ++e) p[e] = p[e] * inv;
    std::iota(ids.begin(), ids.end(), 0);
    std::partial_sort(ids.begin(), ids.begin() + k, ids.end(),
                      [&](int32_t a, int32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
    int32_t* ex = c.expert.data() + static_cast<size_t>(t) * k;
    float* w = c.weight.data() + static_cast<size_t>(t) * k;
    float sum = 0.0f;
    for (int r = 0; r < k; ++r) {
      ex[r] = ids[r];
      w[r] = p[ids[r]];
      sum = sum + w[r];  // in rank order
    }
    if (renormalise)
      for (int r = 0; r < k; ++r) w[r] = w[r] / sum;
  }
  return c;
}

}  // namespace edgerun
