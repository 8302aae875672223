#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

namespace edgerun {

int32_t argmax(const float* logits, int n) {
  int32_t best = 0;
  for (int i = 1; i < n; ++i)
    if (logits[i] > logits[best]) best = i;
  return best;
}

Sampler::Sampler(const SamplerParams& p) : p_(p), rng_(p.seed) {}

void Sampler::reset() {
  rng_.seed(p_.seed);
  recent_.clear();
}

void Sampler::accept(int32_t token) {
  if (p_.repeat_last_n <= 0) return;
  recent_.push_back(token);
  while (static_cast<int>(recent_.size()) > p_.repeat_last_n) recent_.pop_front();
}

int32_t Sampler::sample(const float* logits, int n_vocab) {
  cand_.resize(n_vocab);
  for (int i = 0; i < n_vocab; ++i) cand_[i] = {logits[i], i};
  for (int32_t id : banned_)
    if (id >= 0 && id < n_vocab) cand_[id].first = -INFINITY;

  if (p_.repeat_penalty != 1.0f && !recent_.empty()) {
    // As in the CTRL paper and llama.cpp: divide positive logits, multiply negative ones.
    std::unordered_set<int32_t> seen(recent_.begin(), recent_.end());
    for (int32_t id : seen) {
      if (id < 0 || id >= n_vocab) continue;
      float& l = cand_[id].first;
      l = l > 0 ? l / p_.repeat_penalty : l * p_.repeat_penalty;
    }
  }
  if ((p_.presence_penalty != 0.0f || p_.frequency_penalty != 0.0f) && !recent_.empty()) {
    // OpenAI's: minus frequency x count, minus presence once, over the recent tokens.
    std::unordered_map<int32_t, int> count;
    for (int32_t id : recent_) ++count[id];
    for (const auto& [id, c] : count) {
      if (id < 0 || id >= n_vocab) continue;
      cand_[id].first -= static_cast<float>(c) * p_.frequency_penalty + p_.presence_penalty;
    }
  }

  auto by_logit = [](const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };

  if (p_.temperature <= 0.0f) return std::min_element(cand_.begin(), cand_.end(), by_logit)->second;

  size_t n = cand_.size();
  if (p_.top_k > 0 && static_cast<size_t>(p_.top_k) < n) {
    std::partial_sort(cand_.begin(), cand_.begin() + p_.top_k, cand_.end(), by_logit);
    n = static_cast<size_t>(p_.top_k);
  } else {
    std::sort(cand_.begin(), cand_.end(), by_logit);
  }

  // Softmax at temperature over the kept candidates (sorted, best first).
  std::vector<double> prob(n);
  const double mx = cand_[0].first;
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += prob[i] = std::exp((cand_[i].first - mx) / p_.temperature);
  for (auto& q : prob) q /= sum;

  if (p_.top_p < 1.0f) {
    double cum = 0;
    size_t keep = n;
    for (size_t i = 0; i < n; ++i) {
      cum += prob[i];
      if (cum >= p_.top_p) { keep = i + 1; break; }
    }
    n = keep;
  }
  if (p_.min_p > 0.0f) {
    const double floor = prob[0] * p_.min_p;
    size_t keep = 1;
    while (keep < n && prob[keep] >= floor) ++keep;
    n = keep;
  }

  double total = 0;
  for (size_t i = 0; i < n; ++i) total += prob[i];
  std::uniform_real_distribution<double> uni(0.0, total);
  double r = uni(rng_);
  for (size_t i = 0; i < n; ++i) {
    r -= prob[i];
    if (r <= 0) return cand_[i].second;
  }
  return cand_[n - 1].second;
}

}  // namespace edgerun
