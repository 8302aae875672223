// Sampling: greedy, the filters, the penalty and seeding.
#include <catch2/catch.hpp>
#include <map>

#include "sampling/sampler.h"

using namespace edgerun;

TEST_CASE("temperature 0 is argmax with the lowest id on ties", "[sampler]") {
  SamplerParams p;
  p.temperature = 0;
  Sampler s(p);
  const float l[] = {1, 5, 3, 5, -2};
  CHECK(s.sample(l, 5) == 1);
  CHECK(argmax(l, 5) == 1);
}

TEST_CASE("top-k 1 and min-p 1 leave only the best token", "[sampler]") {
  const float l[] = {0.1f, 2.0f, 1.9f, -1.0f};
  for (int mode = 0; mode < 2; ++mode) {
    SamplerParams p;
    p.temperature = 1.5f;
    p.top_k = mode == 0 ? 1 : 0;
    p.min_p = mode == 1 ? 1.0f : 0.0f;
    p.top_p = 1.0f;
    Sampler s(p);
    for (int i = 0; i < 50; ++i) CHECK(s.sample(l, 4) == 1);
  }
}

TEST_CASE("top-p keeps the smallest set reaching p", "[sampler]") {
  // Probabilities at temperature 1: about 0.665, 0.245, 0.090.
  const float l[] = {2.0f, 1.0f, 0.0f};
  SamplerParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.min_p = 0;
  p.top_p = 0.8f;
  Sampler s(p);
  std::map<int, int> seen;
  for (int i = 0; i < 400; ++i) seen[s.sample(l, 3)]++;
  CHECK(seen[2] == 0);
  CHECK(seen[0] > seen[1]);
  CHECK(seen[1] > 0);
}

TEST_CASE("sampling follows the distribution", "[sampler]") {
  const float l[] = {0.0f, 0.0f, 0.0f, 0.0f};
  SamplerParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0;
  Sampler s(p);
  std::map<int, int> seen;
  for (int i = 0; i < 4000; ++i) seen[s.sample(l, 4)]++;
  for (int i = 0; i < 4; ++i) CHECK(seen[i] == Approx(1000).margin(150));
}

TEST_CASE("the same seed gives the same tokens, another seed others", "[sampler]") {
  std::vector<float> l(100);
  for (int i = 0; i < 100; ++i) l[i] = static_cast<float>(i % 7) * 0.3f;
  auto draw = [&](uint64_t seed) {
    SamplerParams p;
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0;
    p.seed = seed;
    Sampler s(p);
    std::vector<int32_t> out;
    for (int i = 0; i < 64; ++i) out.push_back(s.sample(l.data(), 100));
    return out;
  };
  CHECK(draw(7) == draw(7));
  CHECK(draw(7) != draw(8));
}

TEST_CASE("the repetition penalty pushes recent tokens down", "[sampler]") {
  const float l[] = {3.0f, 2.9f, -1.0f};
  SamplerParams p;
  p.temperature = 0;
  p.repeat_penalty = 1.5f;
  Sampler s(p);
  CHECK(s.sample(l, 3) == 0);
  s.accept(0);
  CHECK(s.sample(l, 3) == 1);  // 3.0 / 1.5 = 2.0 < 2.9
  s.reset();
  CHECK(s.sample(l, 3) == 0);
}

TEST_CASE("presence and frequency penalties subtract as OpenAI defines them", "[sampler]") {
  const float l[] = {3.0f, 2.5f, 1.9f};
  SamplerParams p;
  p.temperature = 0;
  p.presence_penalty = 0.4f;  // token 0 once: 3.0 - 0.4 = 2.6 > 2.5
  Sampler s(p);
  s.accept(0);
  CHECK(s.sample(l, 3) == 0);
  s.accept(0);  // presence counts once: still 2.6
  CHECK(s.sample(l, 3) == 0);
  p.presence_penalty = 0;
  p.frequency_penalty = 0.3f;  // per occurrence: 3.0 - 2 * 0.3 = 2.4 < 2.5
  Sampler f(p);
  f.accept(0);
  CHECK(f.sample(l, 3) == 0);
  f.accept(0);
  CHECK(f.sample(l, 3) == 1);
  f.accept(1);  // 2.5 - 0.3 = 2.2 < 2.4, the penalised token 0
  CHECK(f.sample(l, 3) == 0);
}
