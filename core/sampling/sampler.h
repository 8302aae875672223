// Turns logits into the next token: repetition, presence and frequency
// penalties, then top-k, top-p,
// min-p and temperature, then a draw from a seeded generator. Temperature 0
// is greedy (argmax, lowest id on ties). The same seed gives the same tokens.
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <vector>

namespace edgerun {

struct SamplerParams {
  float temperature = 0.8f;
  int top_k = 40;             // 0 = off
  float top_p = 0.95f;        // 1 = off
  float min_p = 0.05f;        // 0 = off
  float repeat_penalty = 1.0f;  // 1 = off
  int repeat_last_n = 64;     // tokens the penalties look back at
  float presence_penalty = 0.0f;   // OpenAI's: subtracted once from every recent token's logit
  float frequency_penalty = 0.0f;  // OpenAI's: subtracted per occurrence
  uint64_t seed = 0xED6E5u;
};

class Sampler {
 public:
  explicit Sampler(const SamplerParams& p);
  // Picks a token from n_vocab logits (the array is not modified).
  int32_t sample(const float* logits, int n_vocab);
  // Records a token that is now part of the context (prompt or generated).
  void accept(int32_t token);
  // Tokens never to be picked (e.g. the end-of-generation ones, to ignore them).
  void ban(std::vector<int32_t> ids) { banned_ = std::move(ids); }
  void reset();

 private:
  SamplerParams p_;
  std::mt19937_64 rng_;
  std::deque<int32_t> recent_;
  std::vector<int32_t> banned_;
  std::vector<std::pair<float, int32_t>> cand_;
};

int32_t argmax(const float* logits, int n);

}  // namespace edgerun
