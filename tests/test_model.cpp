// The forward pass against llama.cpp's logits for the tiny fixture models.
#include <catch2/catch.hpp>
#include <sched.h>
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "edgerun.hpp"
#include "helpers.h"
#include "reference.h"

using namespace edgerun;
using json = nlohmann::json;

namespace {
using test::load_reference;
using test::Reference;
std::unique_ptr<Model> load(const std::string& path) { return test::load_on_cpu(path); }
}  // namespace

TEST_CASE("f32 fixture models match llama.cpp logits at every position", "[model]") {
  for (const std::string name : {"tiny-llama", "tiny-qwen2", "tiny-qwen3"}) {
    const std::string dir = test::fixtures() + "/models/" + name;
    const Reference ref = load_reference(dir, "model-f32");
    auto model = load(dir + "/model-f32.gguf");
    SessionOptions so;
    so.kv_type = KVType::F32;  // compared with references computed with f32 caches
    so.n_ctx = 128;
    so.n_threads = 2;
    Session s(*model, so);
    const std::vector<float> logits = s.eval(ref.input_ids, true);
    REQUIRE(logits.size() == ref.logits.size());
    const int n = static_cast<int>(ref.input_ids.size());
    float max_ref = 0, max_diff = 0;
    for (float v : ref.logits) max_ref = std::max(max_ref, std::fabs(v));
    for (int t = 0; t < n; ++t) {
      const float* ours = &logits[static_cast<size_t>(t) * ref.n_vocab];
      const float* theirs = &ref.logits[static_cast<size_t>(t) * ref.n_vocab];
      INFO(name << " position " << t);
      CHECK(argmax(ours, ref.n_vocab) == argmax(theirs, ref.n_vocab));
      for (int i = 0; i < ref.n_vocab; ++i) max_diff = std::max(max_diff, std::fabs(ours[i] - theirs[i]));
    }
    INFO(name << ": max |diff| " << max_diff << ", max |logit| " << max_ref);
    CHECK(max_diff <= 1e-3f * max_ref);
    WARN(name << " f32: max |logit diff| = " << max_diff << " (" << max_diff / max_ref << " of max |logit|)");
  }
}

TEST_CASE("greedy continuation matches llama.cpp for 32 tokens, one token at a time", "[model]") {
  for (const std::string name : {"tiny-llama", "tiny-qwen2", "tiny-qwen3"}) {
    const std::string dir = test::fixtures() + "/models/" + name;
    const Reference ref = load_reference(dir, "model-f32");
    auto model = load(dir + "/model-f32.gguf");
    SessionOptions so;
    so.kv_type = KVType::F32;  // compared with references computed with f32 caches
    so.n_ctx = 64;
    so.n_threads = 1;
    Session s(*model, so);
    std::vector<float> logits = s.eval(ref.input_ids);
    std::vector<int32_t> got;
    for (int i = 0; i < 32; ++i) {
      const int32_t id = argmax(logits.data(), ref.n_vocab);
      got.push_back(id);
      if (i < 31) logits = s.eval({id});
    }
    INFO(name);
    CHECK(got == ref.greedy_ids);
  }
}

TEST_CASE("an f16 KV cache stays close to the f32 reference", "[model]") {
  const std::string dir = test::fixtures() + "/models/tiny-qwen2";
  const Reference ref = load_reference(dir, "model-f32");
  auto model = load(dir + "/model-f32.gguf");
  SessionOptions so;
  so.n_ctx = 64;
  so.kv_type = KVType::F16;
  Session s(*model, so);
  const std::vector<float> logits = s.eval(ref.input_ids, true);
  float max_diff = 0;
  for (size_t i = 0; i < logits.size(); ++i) max_diff = std::max(max_diff, std::fabs(logits[i] - ref.logits[i]));
  CHECK(max_diff < 2e-2f);
}

TEST_CASE("batched and token-by-token evaluation agree", "[model]") {
  auto model = load(test::fixtures() + "/models/tiny-qwen3/model-f32.gguf");
  const std::vector<int32_t> ids = {5, 77, 300, 12, 999, 1};
  SessionOptions so;
  so.n_ctx = 16;
  Session a(*model, so), b(*model, so);
  const std::vector<float> batched = a.eval(ids, true);
  const int V = model->hparams().n_vocab;
  for (size_t t = 0; t < ids.size(); ++t) {
    const std::vector<float> one = b.eval({ids[t]});
    for (int i = 0; i < V; ++i) REQUIRE(std::fabs(one[i] - batched[t * V + i]) < 1e-4f);
  }
}

TEST_CASE("quantized models: batched and token-by-token evaluation give the same bits", "[model]") {
  // Every token's products, attention and norms follow one order whatever the
  // batch (docs/NUMERICS.md): a prompt's logits do not depend on how it was split.
  for (const std::string q : {"q8_0", "q4_0", "q4_k_m"}) {
    auto model = load(test::fixtures() + "/models/tiny-qwen3/model-" + q + ".gguf");
    const std::vector<int32_t> ids = {5, 77, 300, 12, 999, 1, 640, 2, 17, 450, 3};
    SessionOptions so;
    so.n_ctx = 16;
    Session a(*model, so), b(*model, so);
    const std::vector<float> batched = a.eval(ids, true);
    const size_t V = model->hparams().n_vocab;
    for (size_t t = 0; t < ids.size(); ++t) {
      const std::vector<float> one = b.eval({ids[t]});
      INFO(q << " token " << t);
      CHECK(std::equal(one.begin(), one.end(), batched.begin() + t * V));
    }
  }
}

TEST_CASE("two sessions on one model do not disturb each other", "[model]") {
  auto model = load(test::fixtures() + "/models/tiny-llama/model-f32.gguf");
  SessionOptions so;
  so.n_ctx = 32;
  Session a(*model, so), b(*model, so);
  const std::vector<float> la = a.eval({1019, 46, 77});
  b.eval({1019, 500, 600, 700, 800});
  Session c(*model, so);
  CHECK(c.eval({1019, 46, 77}) == la);
  CHECK(a.n_past() == 3);
  CHECK(b.n_past() == 5);
}

TEST_CASE("the context limit is enforced with a clear error", "[model]") {
  auto model = load(test::fixtures() + "/models/tiny-qwen2/model-f32.gguf");
  SessionOptions so;
  so.n_ctx = 4;
  Session s(*model, so);
  REQUIRE_THROWS_WITH(s.eval({1, 2, 3, 4, 5}), Catch::Contains("do not fit the context size 4"));
  s.eval({1, 2, 3});
  REQUIRE_THROWS_WITH(s.eval({4, 5}), Catch::Contains("context is full"));
  REQUIRE_THROWS_WITH(s.eval({}), Catch::Contains("no tokens"));
  Session t(*model, so);
  REQUIRE_THROWS_WITH(t.eval({5000}), Catch::Contains("outside the vocabulary"));
}

TEST_CASE("linear RoPE scaling interpolates positions", "[model]") {
  RopeParams p;
  p.n_rot = 8;
  p.theta_scale = std::pow(10000.0f, -2.0f / 8);
  p.freq_factors.assign(4, 1.0f);
  float plain[4], scaled[4];
  p.angles(2, plain);
  p.freq_scale = 0.5f;  // factor 2
  p.angles(4, scaled);
  for (int i = 0; i < 4; ++i) CHECK(scaled[i] == Approx(plain[i]).epsilon(1e-6));
}

TEST_CASE("the default thread count is the physical performance cores", "[model]") {
  const std::string root = test::temp_path("sysfs");
  auto cpu = [&](int c, int package, int core, int capacity) {
    const std::string d = root + "/devices/system/cpu/cpu" + std::to_string(c);
    REQUIRE(std::system(("mkdir -p '" + d + "/topology'").c_str()) == 0);
    test::write_file(d + "/topology/physical_package_id", std::to_string(package) + "\n");
    test::write_file(d + "/topology/core_id", std::to_string(core) + "\n");
    if (capacity) test::write_file(d + "/cpu_capacity", std::to_string(capacity) + "\n");
  };
  auto reset = [&] { REQUIRE(std::system(("rm -rf '" + root + "'").c_str()) == 0); };
  // Two cores with two hyper-threads each.
  reset();
  for (int c = 0; c < 4; ++c) cpu(c, 0, c / 2, 0);
  CHECK(performance_core_count(root, 4) == 2);
  // Intel hybrid: one P-core with two threads (cpu0-1), two E-cores.
  reset();
  cpu(0, 0, 0, 0), cpu(1, 0, 0, 0), cpu(2, 0, 8, 0), cpu(3, 0, 9, 0);
  REQUIRE(std::system(("mkdir -p '" + root + "/devices/cpu_core'").c_str()) == 0);
  test::write_file(root + "/devices/cpu_core/cpus", "0-1\n");
  CHECK(performance_core_count(root, 4) == 1);
  // big.LITTLE (Raspberry Pi-like parts have one kind: all count): 4 little, 4 big.
  reset();
  for (int c = 0; c < 8; ++c) cpu(c, 0, c, c < 4 ? 446 : 1024);
  CHECK(performance_core_count(root, 8) == 4);
  reset();
  for (int c = 0; c < 4; ++c) cpu(c, 0, c, 1024);
  CHECK(performance_core_count(root, 4) == 4);
  // No topology: every logical CPU.
  reset();
  CHECK(performance_core_count(root, 6) == 6);
  reset();
}

TEST_CASE("the default thread count stays within the CPUs the process may run on", "[model]") {
  cpu_set_t saved;
  REQUIRE(::sched_getaffinity(0, sizeof saved, &saved) == 0);
  int first = -1;
  for (int c = 0; c < CPU_SETSIZE && first < 0; ++c)
    if (CPU_ISSET(c, &saved)) first = c;
  REQUIRE(first >= 0);
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  REQUIRE(::sched_setaffinity(0, sizeof one, &one) == 0);  // as `taskset -c N` or a one-CPU cpuset
  const int n = default_thread_count();
  REQUIRE(::sched_setaffinity(0, sizeof saved, &saved) == 0);
  CHECK(n == 1);
  CHECK(default_thread_count() >= 1);
}
