// Every compiled-in backend against the cpu backend, on every fixture model
// and type. Tolerances (docs/BACKENDS.md): f32 models 1e-4 of the largest
// logit and the same argmax everywhere; quantized models RMS < 0.02, max
// < 0.5, and the same argmax wherever the cpu's top two logits are more than
// 0.1 apart (a float sum in another order can flip an 8-bit activation
// rounding, as between any two runtimes, and a near-tie can then swap).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "edgerun.h"
#include "helpers.h"
#include "registry.h"

using namespace edgerun;

TEST_CASE("every backend gives the cpu backend's argmax at every position", "[backends]") {
  // By default the library backends leave short prompts and q4_K/q6_K to the
  // cpu kernels; make them take every product here so their paths are tested.
  ::setenv("EDGERUN_GEMM_MIN_TOKENS", "1", 1);
  std::string names;
  for (const auto& b : registered_backends()) names += b.name + " ";
  WARN("backends compiled in: " << names);
  for (const auto& be : registered_backends()) {
    if (be.name == "cpu" || be.gpu_present) continue;  // GPU backends: test_vulkan.cpp, on a chosen device
    for (const std::string model : {"tiny-llama", "tiny-qwen2", "tiny-qwen3"}) {
      for (const std::string q : {"f32", "q8_0", "q4_0", "q4_k_m"}) {
        const std::string dir = test::fixtures() + "/models/" + model;
        const auto ref = nlohmann::json::parse(test::read_file(dir + "/reference/model-" + q + ".json"));
        const auto ids = ref["input_ids"].get<std::vector<int32_t>>();
        std::vector<float> out[2];
        for (int k = 0; k < 2; ++k) {
          auto m = load_model(dir + "/model-" + q + ".gguf", LoadOptions{k == 0 ? "cpu" : be.name});
          REQUIRE(m.ok());
          SessionOptions so;
          so.kv_type = KVType::F32;  // an f16 cache would round two backends' last-bit differences apart
          so.n_ctx = 64;
          Session s(**m, so);
          out[k] = s.eval(ids, true);
        }
        const int V = ref["n_vocab"], n = static_cast<int>(ids.size());
        double max_diff = 0, sq = 0, max_logit = 0;
        int agree = 0, near_ties = 0;
        for (int t = 0; t < n; ++t) {
          const float* c = &out[0][t * V];
          const int best = argmax(c, V);
          float second = -INFINITY;
          for (int i = 0; i < V; ++i)
            if (i != best) second = std::max(second, c[i]);
          const bool same = best == argmax(&out[1][t * V], V);
          agree += same;
          if (!same && q != "f32" && c[best] - second < 0.1f) ++near_ties;
          for (int i = 0; i < V; ++i) {
            const double d = std::fabs(out[0][t * V + i] - out[1][t * V + i]);
            max_diff = std::max(max_diff, d);
            sq += d * d;
            max_logit = std::max(max_logit, static_cast<double>(std::fabs(out[0][t * V + i])));
          }
        }
        INFO(be.name << " " << model << " " << q << ": argmax " << agree << "/" << n << " (" << near_ties
                     << " near-ties), max diff " << max_diff << ", rms " << std::sqrt(sq / (n * V)));
        CHECK(agree + near_ties == n);
        if (q == "f32") {
          CHECK(max_diff <= 1e-4 * max_logit);
        } else {
          CHECK(std::sqrt(sq / (n * V)) < 0.02);
          CHECK(max_diff < 0.5);
        }
      }
    }
  }
}

TEST_CASE("backend choice: auto, explicit, unknown, unable to start", "[backends]") {
  bool gpu = false;
  for (const auto& b : registered_backends()) gpu = gpu || (b.gpu_present && b.gpu_present());
  if (!gpu) CHECK(create_backend("auto")->name() == auto_cpu_backend_name());
  CHECK(create_backend("cpu")->name() == "cpu");
  REQUIRE_THROWS_WITH(create_backend("tpu"), Catch::Contains("unknown backend 'tpu'"));
  auto r = test::run_cli("info --backends");
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("cpu") && Catch::Contains("usable"));
  for (const auto& b : registered_backends()) CHECK_THAT(r.out, Catch::Contains(b.name));
#ifdef EDGERUN_WITH_ONEDNN
  // A backend that cannot start: chosen explicitly it is an error; under auto, cpu runs.
  r = test::run_cli("run -m '" + test::stories_gguf() + "' -p hi -n 2 --backend onednn", "EDGERUN_ONEDNN_TYPE=fp8");
  CHECK(r.code != 0);
  CHECK_THAT(r.out, Catch::Contains("EDGERUN_ONEDNN_TYPE"));
  if (auto_cpu_backend_name() == "onednn") {
    r = test::run_cli("run -m '" + test::stories_gguf() + "' -p hi -n 2 -v", "EDGERUN_ONEDNN_TYPE=fp8");
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains("backend onednn cannot start") && Catch::Contains("using cpu") &&
                          Catch::Contains("backend cpu,"));
  }
#endif
}
