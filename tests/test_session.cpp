// Session: the tokens a session holds, generation and continuing after it.
#include <catch2/catch.hpp>

#include "edgerun.hpp"
#include "helpers.h"

using namespace edgerun;

namespace {
SessionOptions small_f32() {
  SessionOptions so;
  so.n_ctx = 128;
  so.kv_type = KVType::F32;
  so.n_threads = 1;
  return so;
}

Sampler greedy() {
  SamplerParams p;
  p.temperature = 0;
  return Sampler(p);
}
}  // namespace

TEST_CASE("after generate, the next eval continues right after the last generated token", "[session]") {
  auto model = load_model(test::stories_gguf(), LoadOptions{"cpu"});
  REQUIRE(model.ok());
  const std::vector<int32_t> prompt = (*model)->tokenizer().encode("Once upon a time", true);

  // Stopped by the token limit, and stopped by the callback.
  for (int stop_by_callback = 0; stop_by_callback < 2; ++stop_by_callback) {
    INFO("stopped by " << (stop_by_callback ? "the callback" : "n_predict"));
    Session s(**model, small_f32());
    Sampler sampler = greedy();
    std::vector<int32_t> out;
    s.generate(prompt, sampler, stop_by_callback ? 100 : 6, [&](int32_t id) {
      out.push_back(id);
      return !(stop_by_callback && out.size() == 6);
    });
    REQUIRE(out.size() == 6);
    std::vector<int32_t> all = prompt;
    all.insert(all.end(), out.begin(), out.end());
    CHECK(s.tokens() == all);

    const int32_t next = 300;
    const std::vector<float> cont = s.eval({next});
    CHECK(s.n_past() == static_cast<int>(all.size()) + 1);

    Session fresh(**model, small_f32());
    all.push_back(next);
    const std::vector<float> ref = fresh.eval(all);
    REQUIRE(cont.size() == ref.size());
    CHECK(cont == ref);
  }
}

TEST_CASE("truncate keeps a prefix of the tokens and evaluation goes on from there", "[session]") {
  auto model = load_model(test::stories_gguf(), LoadOptions{"cpu"});
  REQUIRE(model.ok());
  const Tokenizer& tok = (*model)->tokenizer();
  const std::vector<int32_t> a = tok.encode("Once upon a time there was a cat", true);
  const std::vector<int32_t> b = tok.encode("Lily wanted to play", false);

  Session s(**model, small_f32());
  s.eval(a);
  s.truncate(3);
  CHECK(s.n_past() == 3);
  CHECK(s.tokens() == std::vector<int32_t>(a.begin(), a.begin() + 3));
  const std::vector<float> got = s.eval(b);

  std::vector<int32_t> seq(a.begin(), a.begin() + 3);
  seq.insert(seq.end(), b.begin(), b.end());
  Session fresh(**model, small_f32());
  CHECK(got == fresh.eval(seq));
  CHECK_THROWS_WITH(s.truncate(1000), Catch::Contains("cannot keep 1000 tokens"));
}
