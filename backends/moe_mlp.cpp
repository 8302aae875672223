// Executor::moe_mlp from the other ops, so that every backend runs MoE layers.
#include <algorithm>
#include <numeric>
#include <vector>

#include "backend.h"

namespace edgerun {

void Executor::moe_mlp(const Buffer& h, int64_t dim, const ExpertMlp* experts, const MoeRoute& route, Buffer& out) {
  const int slots = route.n * route.k;
  // The (token, rank) slots grouped by expert, each group in token order.
  std::vector<int> order(slots);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return route.expert[a] < route.expert[b]; });
  int most = 0;
  int64_t widest = 0;
  for (int i = 0; i < slots;) {
    int j = i;
    while (j < slots && route.expert[order[j]] == route.expert[order[i]]) ++j;
    most = std::max(most, j - i);
    widest = std::max(widest, experts[route.expert[order[i]]].gate->rows);
    i = j;
  }
  auto in = alloc(most * dim), gate = alloc(most * widest), up = alloc(most * widest), y = alloc(most * dim);
  std::vector<float> ys(static_cast<size_t>(slots) * dim), part(static_cast<size_t>(most) * dim);
  for (int i = 0; i < slots;) {
    int j = i;
    while (j < slots && route.expert[order[j]] == route.expert[order[i]]) ++j;
    const ExpertMlp& e = experts[route.expert[order[i]]];
    const int m = j - i;
    for (int s = 0; s < m; ++s) copy(h, static_cast<int64_t>(order[i + s] / route.k) * dim, *in, s * dim, dim);
    matmul(*e.gate, nullptr, *in, m, *gate);
    matmul(*e.up, nullptr, *in, m, *up);
    swiglu(*gate, *up, m * e.gate->rows, *gate);
    matmul(*e.down, nullptr, *gate, m, *y);
    read(*y, part.data(), m * dim);
    for (int s = 0; s < m; ++s) std::copy_n(part.data() + s * dim, dim, ys.data() + static_cast<int64_t>(order[i + s]) * dim);
    i = j;
  }
  // The weighted sum over each token's experts, in rank order.
  std::vector<float> sum(static_cast<size_t>(route.n) * dim, 0.0f);
  for (int t = 0; t < route.n; ++t) {
    float* o = sum.data() + static_cast<int64_t>(t) * dim;
    for (int r = 0; r < route.k; ++r) {
      const float w = route.weight[t * route.k + r];
      const float* yr = ys.data() + static_cast<int64_t>(t * route.k + r) * dim;
      for (int64_t d = 0; d < dim; ++d) o[d] = o[d] + w * yr[d];
    }
  }
  write(out, sum.data(), static_cast<int64_t>(sum.size()));
}

}  // namespace edgerun
