// The MoE MLP on the cpu: Executor::moe_mlp's arithmetic (backends/moe_mlp.cpp),
// without its host round trips and allocations: an expert's tokens are
// gathered, go through its three products at once, and their outputs are
// summed per token in rank order.
#include <algorithm>
#include <cstring>

#include "cpu/cpu_backend.h"

namespace edgerun::cpu {

namespace {
void grow(CpuBuffer& b, int64_t n) {
  if (b.size >= n) return;
  b.v.resize(static_cast<size_t>(n));
  b.size = n;
}
}  // namespace

void CpuExecutor::moe_mlp(const Buffer& h, int64_t dim, const ExpertMlp* experts, const MoeRoute& route, Buffer& out) {
  const int slots = route.n * route.k;
  // The slots grouped by expert (a counting sort keeps each group in token order).
  int n_expert = 0;
  for (int s = 0; s < slots; ++s) n_expert = std::max(n_expert, route.expert[s] + 1);
  moe_start_.assign(n_expert + 1, 0);
  for (int s = 0; s < slots; ++s) ++moe_start_[route.expert[s] + 1];
  int most = 0;
  int64_t widest = 0;
  for (int e = 0; e < n_expert; ++e) {
    if (moe_start_[e + 1] > 0) widest = std::max(widest, experts[e].gate->rows);
    most = std::max(most, moe_start_[e + 1]);
    moe_start_[e + 1] += moe_start_[e];
  }
  moe_order_.resize(slots);
  moe_next_.assign(moe_start_.begin(), moe_start_.end() - 1);
  for (int s = 0; s < slots; ++s) moe_order_[moe_next_[route.expert[s]]++] = s;
  grow(moe_in_, most * dim);
  grow(moe_gate_, most * widest);
  grow(moe_up_, most * widest);
  grow(moe_y_, most * dim);
  if (moe_slots_.size() < static_cast<size_t>(slots) * dim) moe_slots_.resize(static_cast<size_t>(slots) * dim);

  const float* hin = f(h);
  const size_t row = static_cast<size_t>(dim) * sizeof(float);
  for (int e = 0; e < n_expert; ++e) {
    const int first = moe_start_[e], m = moe_start_[e + 1] - first;
    if (m == 0) continue;
    const ExpertMlp& x = experts[e];
    for (int i = 0; i < m; ++i) std::memcpy(moe_in_.v.data() + i * dim, hin + static_cast<int64_t>(moe_order_[first + i] / route.k) * dim, row);
    matmul(*x.gate, nullptr, moe_in_, m, moe_gate_);
    matmul(*x.up, nullptr, moe_in_, m, moe_up_);
    swiglu(moe_gate_, moe_up_, m * x.gate->rows, moe_gate_);
    matmul(*x.down, nullptr, moe_gate_, m, moe_y_);
    for (int i = 0; i < m; ++i) std::memcpy(moe_slots_.data() + static_cast<int64_t>(moe_order_[first + i]) * dim, moe_y_.v.data() + i * dim, row);
  }
  // Each token's experts, weighted, in rank order from 0 (as moe_mlp.cpp).
  float* o = f(out);
  for (int t = 0; t < route.n; ++t) {
    float* ot = o + static_cast<int64_t>(t) * dim;
    std::fill(ot, ot + dim, 0.0f);
    for (int r = 0; r < route.k; ++r) {
      const float w = route.weight[t * route.k + r];
      const float* y = moe_slots_.data() + static_cast<int64_t>(t * route.k + r) * dim;
      for (int64_t d = 0; d < dim; ++d) ot[d] = ot[d] + w * y[d];
    }
  }
}

}  // namespace edgerun::cpu
