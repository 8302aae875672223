// Session: the tokens a session holds, generation and continuing after it.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "edgerun.hpp"
#include "formats/gguf.h"
#include "gguf_writer.h"
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

TEST_CASE("sessions on one Compute evaluated together get the logits each gets alone", "[session]") {
  // One forward pass carries a prompt chunk of one sequence and single tokens
  // of others, each at its own positions in its own cache.
  for (const std::string file : {"tiny-qwen2/model-q8_0.gguf", "tiny-llama/model-q4_k_m.gguf", "tiny-qwen3/model-q4_0.gguf"}) {
    INFO(file);
    auto model = load_model(test::fixtures() + "/models/" + file, LoadOptions{"cpu"});
    REQUIRE(model.ok());
    SessionOptions so;
    so.n_ctx = 64;
    so.n_threads = 2;
    auto compute = std::make_shared<Compute>(**model, 2, 2);
    const std::vector<std::vector<int32_t>> prompts = {{5, 77, 300, 12}, {999, 1, 640}, {2, 17, 450, 3, 8, 9, 10}};
    std::vector<std::unique_ptr<Session>> together;
    std::vector<std::vector<float>> alone_last;
    for (const auto& p : prompts) {
      together.push_back(std::make_unique<Session>(compute, so));
      Session alone(**model, so);
      alone_last.push_back(alone.eval(p));
    }
    // Step 1: the first two prompts whole, the third's first 3 tokens.
    for (size_t i = 0; i < prompts.size(); ++i) together[i]->append(prompts[i]);
    auto out = Session::evaluate_together({{together[0].get(), 64}, {together[1].get(), 64}, {together[2].get(), 3}});
    REQUIRE(out.size() == 3);
    CHECK(out[0] == alone_last[0]);
    CHECK(out[1] == alone_last[1]);
    CHECK(out[2].empty());  // still waiting for the rest of its prompt
    CHECK(together[2]->n_waiting() == 4);
    // Step 2: one more token for the first two, the rest of the third.
    together[0]->append({33});
    together[1]->append({44});
    out = Session::evaluate_together({{together[2].get(), 64}, {together[0].get(), 1}, {together[1].get(), 1}});
    CHECK(out[0] == alone_last[2]);
    for (int i = 0; i < 2; ++i) {
      Session alone(**model, so);
      std::vector<int32_t> all = prompts[i];
      all.push_back(i == 0 ? 33 : 44);
      CHECK(out[i + 1] == alone.eval(all));
    }
    // A session on another Compute cannot join.
    Session other(**model, so);
    other.append({1});
    CHECK_THROWS_WITH(Session::evaluate_together({{together[0].get(), 1}, {&other, 1}}),
                      Catch::Contains("share one Compute"));
  }
}

namespace {
// Largest |a - b| over the largest |b|.
double relative_gap(const std::vector<float>& a, const std::vector<float>& b) {
  double gap = 0, top = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    gap = std::max(gap, std::fabs(double(a[i]) - b[i]));
    top = std::max(top, std::fabs(double(b[i])));
  }
  return gap / top;
}
}  // namespace

// The fixture cut to its first layer: there a token's key and value depend on
// the token alone, so after a shift the cache holds what a fresh evaluation of
// the kept tokens at their new positions would (in deeper layers they still
// carry what the dropped tokens contributed, as in every runtime's shift).
std::string first_layer_only(const std::string& file, const std::string& arch) {
  auto e = test::GGUFEdit::from(GGUFFile::open(test::fixtures() + "/models/" + file));
  e.set_uint32(arch + ".block_count", 1);
  for (size_t i = e.tensors.size(); i-- > 0;)
    if (e.tensors[i].name.rfind("blk.", 0) == 0 && e.tensors[i].name.rfind("blk.0.", 0) != 0) e.drop_tensor(e.tensors[i].name);
  const std::string out = test::temp_path("one_layer_" + arch + ".gguf");
  std::ofstream(out, std::ios::binary) << e.bytes();
  return out;
}

TEST_CASE("after a context shift the logits are those of the kept tokens evaluated afresh", "[session]") {
  // Neox (qwen2, qwen3) and interleaved (llama) RoPE; float and quantized caches.
  struct Case {
    std::string file, arch;
    KVType kv;
    double tol;
  };
  for (const Case& c : {Case{"tiny-qwen2/model-f32.gguf", "qwen2", KVType::F32, 1e-5},
                        Case{"tiny-llama/model-f32.gguf", "llama", KVType::F32, 1e-5},
                        Case{"tiny-qwen3/model-f32.gguf", "qwen3", KVType::F16, 2e-3},
                        Case{"tiny-qwen2/model-f32.gguf", "qwen2", KVType::Q8_0, 2e-2}}) {
    INFO(c.file << " KV " << kv_type_name(c.kv));
    const std::string path = first_layer_only(c.file, c.arch);
    auto model = load_model(path, LoadOptions{"cpu"});
    REQUIRE(model.ok());
    SessionOptions so;
    so.n_ctx = 96;
    so.kv_type = c.kv;
    so.n_threads = 2;
    std::vector<int32_t> ids(90);
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>((i * 37 + 11) % 900 + 1);
    Session shifted(**model, so);
    shifted.eval(ids);
    shifted.shift(5, 30);  // keep 5, drop 30: 55 move down
    REQUIRE(shifted.n_past() == 60);
    const std::vector<float> after = shifted.eval({77});

    std::vector<int32_t> kept(ids.begin(), ids.begin() + 5);
    kept.insert(kept.end(), ids.begin() + 35, ids.end());
    CHECK(std::vector<int32_t>(shifted.tokens().begin(), shifted.tokens().end() - 1) == kept);
    Session fresh(**model, so);
    fresh.eval(kept);
    const std::vector<float> want = fresh.eval({77});
    // The moved keys were rotated once more and rounded again to the cache's type.
    const double gap = relative_gap(after, want);
    INFO("gap " << gap);
    CHECK(gap < c.tol);
    CHECK(gap > 0);  // moved and rotated, not evaluated again
    CHECK(std::max_element(after.begin(), after.end()) - after.begin() == std::max_element(want.begin(), want.end()) - want.begin());
    std::remove(path.c_str());
  }
}

TEST_CASE("generation goes on past a full context when n_keep is set, and stops there when not", "[session]") {
  auto model = load_model(test::stories_gguf(), LoadOptions{"cpu"});
  REQUIRE(model.ok());
  const std::vector<int32_t> prompt = (*model)->tokenizer().encode("Once upon a time", true);
  SessionOptions so = small_f32();
  so.n_ctx = 48;
  {
    Session s(**model, so);
    Sampler sampler = greedy();
    const GenerateStats st = s.generate(prompt, sampler, 200, [](int32_t) { return true; });
    CHECK(st.context_full);
    CHECK(st.n_shifts == 0);
    CHECK(s.tokens().size() == 48);
  }
  so.n_keep = 3;
  Session s(**model, so);
  SamplerParams sp;
  sp.temperature = 1.0f;  // greedy text of this model ends early
  sp.seed = 3;
  Sampler sampler(sp);
  std::vector<int32_t> seen;
  const GenerateStats st = s.generate(prompt, sampler, 200, [&](int32_t id) {
    seen.push_back(id);
    return true;
  });
  INFO("generated " << st.n_generated << ", eog " << st.stopped_at_eog);
  CHECK(!st.context_full);
  CHECK(st.n_shifts >= 1);
  CHECK(st.n_dropped >= 22);
  CHECK(s.n_ctx() == 48);
  CHECK(s.tokens().size() <= 48);
  // The first tokens (BOS and the prompt's start) are kept through every shift.
  CHECK(std::vector<int32_t>(s.tokens().begin(), s.tokens().begin() + 3) == std::vector<int32_t>(prompt.begin(), prompt.begin() + 3));
  CHECK(st.n_generated + st.n_prompt - st.n_dropped == static_cast<int>(s.tokens().size()) - (st.stopped_at_eog ? 1 : 0));
}
