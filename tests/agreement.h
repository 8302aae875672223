// How close two runs' logits are: argmax agreement position by position,
// near-ties (where the reference's top two are closer than `near`), and the
// largest and RMS differences. Shared by the backend and Vulkan tests.
#pragma once

#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "edgerun.hpp"

namespace test {

struct Agreement {
  int agree = 0, near_ties = 0, n = 0;
  std::string margins;  // the reference's top-two margins where the argmax differs
  double max_diff = 0, rms = 0, max_logit = 0;
};

// `ref` and `other` hold n positions of V logits each.
inline Agreement compare(const std::vector<float>& ref, const std::vector<float>& other, int V, float near = 0.0f) {
  Agreement a;
  a.n = static_cast<int>(ref.size() / V);
  REQUIRE(other.size() == ref.size());
  double sq = 0;
  for (int t = 0; t < a.n; ++t) {
    const float* c = &ref[t * V];
    const int best = edgerun::argmax(c, V);
    float second = -INFINITY;
    for (int i = 0; i < V; ++i)
      if (i != best) second = std::max(second, c[i]);
    const bool same = best == edgerun::argmax(&other[t * V], V);
    a.agree += same;
    if (!same && c[best] - second < near) ++a.near_ties;
    if (!same) a.margins += " " + std::to_string(c[best] - second);
    for (int i = 0; i < V; ++i) {
      const double d = std::fabs(static_cast<double>(c[i]) - other[t * V + i]);
      a.max_diff = std::isnan(d) ? INFINITY : std::max(a.max_diff, d);
      sq += d * d;
      a.max_logit = std::max(a.max_logit, static_cast<double>(std::fabs(c[i])));
    }
  }
  a.rms = std::sqrt(sq / (static_cast<double>(a.n) * V));
  return a;
}

}  // namespace test
