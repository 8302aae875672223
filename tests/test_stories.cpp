// stories260K (the embedded default model) against llama2.c's reference run.
#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>

#include "edgerun.hpp"
#include "helpers.h"

using namespace edgerun;
using json = nlohmann::json;

TEST_CASE("stories260K: prompt ids, greedy generation and text equal llama2.c", "[stories]") {
  const json ref = json::parse(test::read_file(test::fixtures() + "/stories260K/reference.json"));
  auto model = load_model(test::stories_gguf(), LoadOptions{"cpu"});
  REQUIRE(model.ok());
  const Tokenizer& tok = (*model)->tokenizer();
  for (const auto& c : ref["cases"]) {
    const std::string key = c["key"];
    INFO("case " << key);
    const auto prompt_ids = c["prompt_ids"].get<std::vector<int32_t>>();
    const auto tokens = c["tokens"].get<std::vector<int32_t>>();
    const auto generated = c["generated_ids"].get<std::vector<int32_t>>();
    CHECK(tok.encode(c["prompt"].get<std::string>(), true) == prompt_ids);

    SessionOptions so;

    so.kv_type = KVType::F32;  // compared with references computed with f32 caches
    so.n_ctx = 128;
    Session s(**model, so);
    SamplerParams greedy;
    greedy.temperature = 0;
    Sampler sampler(greedy);
    std::vector<int32_t> got;
    const int n_gen = static_cast<int>(tokens.size() - prompt_ids.size());
    s.generate(prompt_ids, sampler, n_gen, [&](int32_t id) { got.push_back(id); return true; });
    CHECK(got == generated);

    std::vector<int32_t> rest(tokens.begin() + 1, tokens.end());
    CHECK(tok.decode(rest) == c["text"].get<std::string>());
  }
}

TEST_CASE("stories260K: logits equal llama2.c's for the first 16 positions", "[stories]") {
  const json ref = json::parse(test::read_file(test::fixtures() + "/stories260K/reference.json"));
  auto model = load_model(test::stories_gguf(), LoadOptions{"cpu"});
  REQUIRE(model.ok());
  for (const auto& c : ref["cases"]) {
    const auto tokens = c["tokens"].get<std::vector<int32_t>>();
    const std::vector<float> expect = test::read_floats(test::fixtures() + "/stories260K/" + c["logits_file"].get<std::string>());
    REQUIRE(expect.size() == 16 * 512);
    SessionOptions so;
    so.kv_type = KVType::F32;  // compared with references computed with f32 caches
    so.n_ctx = 32;
    Session s(**model, so);
    const std::vector<float> got = s.eval(std::vector<int32_t>(tokens.begin(), tokens.begin() + 16), true);
    float max_diff = 0;
    for (size_t i = 0; i < expect.size(); ++i) max_diff = std::max(max_diff, std::fabs(got[i] - expect[i]));
    INFO(c["key"].get<std::string>() << " max diff " << max_diff);
    CHECK(max_diff < 1e-4f);
  }
}

TEST_CASE("stories260K: the library streams whole UTF-8 text and the same seed gives the same story", "[stories]") {
  auto model = load_model(test::stories_gguf(), LoadOptions{"cpu"});
  REQUIRE(model.ok());
  SamplerParams sp;
  sp.temperature = 1.0f;
  sp.seed = 1234;
  std::string first, second;
  for (std::string* out : {&first, &second}) {
    auto s = new_session(**model, SessionOptions{});
    REQUIRE(s.ok());
    auto st = generate(**s, "Lily", sp, 40, [&](const std::string& piece) { *out += piece; return true; });
    REQUIRE(st.ok());
  }
  CHECK(!first.empty());
  CHECK(first == second);
  sp.seed = 99;
  std::string third;
  auto s = new_session(**model, SessionOptions{});
  generate(**s, "Lily", sp, 40, [&](const std::string& piece) { third += piece; return true; });
  CHECK(third != first);
}
