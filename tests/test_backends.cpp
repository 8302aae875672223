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

#include <random>

#include "agreement.h"
#include "cpu/thread_pool.h"
#include "edgerun.hpp"
#include "helpers.h"
#include "layouts.h"
#include "registry.h"
#ifdef EDGERUN_WITH_ONEDNN
#include "onednn/onednn_int8.h"
#endif

using namespace edgerun;
using test::Agreement;

namespace {

// Logits of every position of a fixture's reference prompt on the cpu and on
// `backend`, compared; `near` is the top-two margin below which the cpu's
// argmax counts as a near-tie.
Agreement against_cpu(const std::string& backend, const std::string& model, const std::string& q, float near) {
  const std::string dir = test::fixtures() + "/models/" + model;
  const auto ref = nlohmann::json::parse(test::read_file(dir + "/reference/model-" + q + ".json"));
  const auto ids = ref["input_ids"].get<std::vector<int32_t>>();
  std::vector<float> out[2];
  for (int k = 0; k < 2; ++k) {
    auto m = load_model(dir + "/model-" + q + ".gguf", LoadOptions{k == 0 ? "cpu" : backend});
    REQUIRE(m.ok());
    SessionOptions so;
    so.kv_type = KVType::F32;  // an f16 cache would round two backends' last-bit differences apart
    so.n_ctx = 64;
    Session s(**m, so);
    out[k] = s.eval(ids, true);
  }
  return test::compare(out[0], out[1], ref["n_vocab"], near);
}

}  // namespace

TEST_CASE("every backend gives the cpu backend's argmax at every position", "[library_backends]") {
  std::string names;
  for (const auto& b : registered_backends()) names += b.name + " ";
  WARN("backends compiled in: " << names);
  for (const bool forced : {false, true}) {
    // As users run them (forced = false) the library backends leave short
    // prompts (and, on VNNI CPUs, every quantized type) to the cpu kernels;
    // forced, they take every product here, so their own paths are tested.
    test::ScopedSettings library_everywhere([&](BackendSettings& b) {
      if (forced) b.gemm_min_tokens = 1;
    });
    for (const auto& be : registered_backends()) {
      if (be.name == "cpu" || be.gpu_present) continue;  // GPU backends: test_vulkan.cpp, on a chosen device
      for (const std::string model : {"tiny-llama", "tiny-qwen2", "tiny-qwen3"}) {
        for (const std::string q : {"f32", "q8_0", "q4_0", "q4_k_m"}) {
          const Agreement a = against_cpu(be.name, model, q, 0.1f);
          INFO(be.name << (forced ? " (every product)" : "") << " " << model << " " << q << ": argmax " << a.agree
                       << "/" << a.n << " (" << a.near_ties << " near-ties:" << a.margins << "), max diff "
                       << a.max_diff << ", rms " << a.rms);
          if (!forced || q == "f32") {
            CHECK(a.agree == a.n);
          } else {
            CHECK(a.agree + a.near_ties == a.n);
          }
          if (q == "f32") {
            CHECK(a.max_diff <= 1e-4 * a.max_logit);
          } else {
            CHECK(a.rms < 0.02);
            CHECK(a.max_diff < 0.5);
          }
        }
      }
    }
  }
}

namespace {

// A team of plain threads, standing in for another runtime's (OpenMP's).
void thread_team(int n, const std::function<void(int)>& body) {
  std::vector<std::thread> threads;
  for (int i = 1; i < n; ++i) threads.emplace_back(body, i);
  body(0);
  for (auto& t : threads) t.join();
}

}  // namespace

TEST_CASE("the thread pool runs every index once, on its own threads or on another runtime's", "[backends]") {
  for (const ThreadPool::Team team : {static_cast<ThreadPool::Team>(nullptr), &thread_team}) {
    ThreadPool pool(3, team);
    for (const int active : {0, 1, 2, 3}) {
      for (const int64_t n : {1, 2, 7, 1000}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        std::atomic<int> bad_thread{0};
        pool.parallel_for(n, [&](int64_t a, int64_t b, int tid) {
          if (tid < 0 || tid >= pool.size()) ++bad_thread;
          for (int64_t i = a; i < b; ++i) ++hits[i];
        }, active);
        int wrong = 0;
        for (auto& h : hits) wrong += h.load() != 1;
        INFO("team " << (team != nullptr) << ", active " << active << ", n " << n);
        CHECK(wrong == 0);
        CHECK(bad_thread == 0);
      }
    }
  }
}

#ifdef EDGERUN_WITH_ONEDNN
TEST_CASE("onednn int8: its product is the exact product of its 8-bit numbers", "[backends]") {
  // Weights requantized per row, activations per token: the s32 sums are
  // exact, so the result must equal a scalar sum of the same 8-bit numbers.
  const int64_t N = 48, K = 256;
  const int n = 5;
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> wf(N * K), x(n * K);
  for (auto& v : wf) v = dist(rng);
  for (auto& v : x) v = dist(rng);
  std::vector<uint8_t> q4(dtype_row_bytes(DType::Q4_0, K) * N);
  for (int64_t r = 0; r < N; ++r) quant_ops(DType::Q4_0).quantize(wf.data() + r * K, q4.data() + r * q4.size() / N, K);
  std::vector<uint8_t> groups(x16_tensor_bytes(DType::Q4_0, N, K));
  rows_to_x16(DType::Q4_0, q4.data(), N, K, groups.data());

  onednn::Int8Products products;
  ThreadPool pool(2);
  dnnl::stream stream(products.engine());
  std::vector<uint8_t> act;
  std::vector<float> scales;
  std::vector<float> out[2];
  for (int from_groups = 0; from_groups < 2; ++from_groups) {
    onednn::OnednnWeight w;
    w.type = DType::Q4_0;
    w.rows = N;
    w.cols = K;
    w.row_bytes = dtype_row_bytes(DType::Q4_0, K);
    if (from_groups) {
      w.file_groups = groups.data();  // as a converted .erm stores them: no rows
    } else {
      w.data = q4.data();
    }
    out[from_groups].resize(n * N);
    products.matmul(w, x.data(), n, out[from_groups].data(), stream, pool, act, scales);
  }
  CHECK(out[0] == out[1]);

  // The same numbers by hand: each row of the q4_0 weights as floats, then
  // 8 bits per row and per token.
  const size_t rb = dtype_row_bytes(DType::Q4_0, K);
  std::vector<float> wd(N * K), d(N), sa(n);
  std::vector<int8_t> wq(N * K);
  std::vector<uint8_t> aq(n * K);
  for (int64_t r = 0; r < N; ++r) {
    quant_ops(DType::Q4_0).dequantize(q4.data() + r * rb, wd.data() + r * K, K);
    d[r] = onednn::quantize_s8(wd.data() + r * K, K, wq.data() + r * K);
  }
  for (int t = 0; t < n; ++t) sa[t] = onednn::quantize_u8(x.data() + t * K, K, aq.data() + t * K);
  double err = 0, norm = 0;
  int exact = 0;
  for (int t = 0; t < n; ++t) {
    for (int64_t r = 0; r < N; ++r) {
      int64_t isum = 0;
      double fsum = 0;
      for (int64_t k = 0; k < K; ++k) {
        isum += (static_cast<int>(aq[t * K + k]) - 128) * wq[r * K + k];
        fsum += static_cast<double>(wd[r * K + k]) * x[t * K + k];
      }
      const float want = static_cast<float>(isum) * d[r] * sa[t];
      const float got = out[0][t * N + r];
      exact += got == Approx(want).epsilon(1e-6).margin(1e-6);
      err += (got - fsum) * (got - fsum);
      norm += fsum * fsum;
    }
  }
  CHECK(exact == n * N);
  // And close to the float product of the q4_0 weights: 8 bits per row and
  // token cost about 1 % here.
  INFO("relative RMS error against the float product: " << std::sqrt(err / norm));
  CHECK(std::sqrt(err / norm) < 0.03);
}

TEST_CASE("onednn's lossy precisions stay within their documented error", "[backends]") {
  // onednn_type int8 and bf16 (EDGERUN_ONEDNN_TYPE) trade exactness for speed (docs/BACKENDS.md):
  // measured RMS against the cpu 0.07-0.09 (int8; q8_0's own error against
  // f32 is 0.06-0.08 on these models) and 0.02-0.055 (bf16), argmax
  // differing only where the cpu's top two are less than 0.18 apart.
  std::vector<std::string> types = {"int8"};
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512bf16")) types.push_back("bf16");
#endif
  for (const std::string& type : types) {
    test::ScopedSettings lossy([&](BackendSettings& b) {
      b.gemm_min_tokens = 1;
      b.onednn_type = type;
    });
    for (const std::string model : {"tiny-llama", "tiny-qwen2", "tiny-qwen3"}) {
      for (const std::string q : {"f32", "q8_0", "q4_0", "q4_k_m"}) {
        const Agreement a = against_cpu("onednn", model, q, 0.25f);
        INFO("onednn-" << type << " " << model << " " << q << ": argmax " << a.agree << "/" << a.n << " ("
                       << a.near_ties << " near-ties:" << a.margins << "), max diff " << a.max_diff << ", rms " << a.rms);
        CHECK(a.agree + a.near_ties == a.n);
        if (type == "int8" && q == "f32") {  // float weights keep the f32 product
          CHECK(a.max_diff <= 1e-4 * a.max_logit);
        } else {
          CHECK(a.rms < (type == "int8" ? 0.12 : 0.07));
          CHECK(a.max_diff < 0.8);
        }
      }
    }
  }
}
#endif

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
