// The Vulkan backend against the cpu backend, on the device the suite finds:
// EDGERUN_VULKAN_DEVICE, else a GPU, else the first device (Mesa's lavapipe
// in CI, a real Vulkan device on the CPU). Tolerances (docs/BACKENDS.md):
// the same argmax as the cpu at every position but near-ties (the cpu's top two
// less than 0.03 apart); f32 and f16 models within 1e-4 of the largest logit;
// quantized models RMS < 0.05, max < 0.5. Both sides round activations
// to 8 bits before quantized products, so a last-bit difference upstream (a
// sum in another order, the GPU's exp or division) can move one rounding by a
// step; on these tiny random models that alone gives RMS 0.01-0.03 (f32 and
// f16 models, which round nothing, agree to 1e-5).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "agreement.h"
#include "converter.h"
#include "edgerun.h"
#include "helpers.h"
#include "registry.h"
#include "vulkan/vulkan_backend.h"
#include "vulkan/vulkan_weights.h"

using namespace edgerun;
using test::Agreement;
using test::compare;

namespace {

int device() {
  const int d = vulkan_pick_device(true);
  INFO("no Vulkan device: install mesa-vulkan-drivers (make deps does) or set EDGERUN_VULKAN_DEVICE");
  REQUIRE(d >= 0);
  return d;
}

std::vector<float> logits(const std::string& path, const LoadOptions& lo, const std::vector<int32_t>& ids,
                          KVType kv = KVType::F32) {
  auto m = load_model(path, lo);
  INFO(path << " on " << lo.backend);
  if (!m.ok()) FAIL(m.message());
  SessionOptions so;
  so.n_ctx = 64;
  so.kv_type = kv;
  Session s(**m, so);
  return s.eval(ids, true);
}

constexpr float kNearTie = 0.03f;

// The argmax must agree at every position but exact near-ties: where the
// cpu's top two logits are less than 0.03 apart, a last-bit difference may
// pick either (tiny-qwen2 q4_0 has two such positions, 0.0016 and 0.024 apart,
// where llama.cpp's own reference and the cpu disagree too).
void check_close(const Agreement& a, bool exact_type, bool allow_near_ties = true) {
  INFO("argmax differs where the cpu's top two are apart by:" << a.margins);
  CHECK(a.agree + (allow_near_ties ? a.near_ties : 0) == a.n);
  if (exact_type) {
    CHECK(a.max_diff <= 1e-4 * a.max_logit);
  } else {
    CHECK(a.rms < 0.05);
    CHECK(a.max_diff < 0.5);
  }
}

std::string f16_model(const std::string& model) {
  const std::string out = test::temp_path(model + "-f16.erm");
  ConvertOptions o;
  o.quant = "f16";
  o.overwrite = true;
  convert_model(test::fixtures() + "/models/" + model + "/model-f32.gguf", out, o);
  return out;
}

}  // namespace

TEST_CASE("vulkan: every fixture model and type gives the cpu's argmax and close logits", "[vulkan]") {
  const int dev = device();
  for (const std::string model : {"tiny-llama", "tiny-qwen2", "tiny-qwen3"}) {
    const std::string dir = test::fixtures() + "/models/" + model;
    const std::string f16 = f16_model(model);
    for (const std::string q : {"f32", "f16", "q8_0", "q4_0", "q4_k_m"}) {
      const auto ref = nlohmann::json::parse(test::read_file(dir + "/reference/model-" + (q == "f16" ? "f32" : q) + ".json"));
      const auto ids = ref["input_ids"].get<std::vector<int32_t>>();
      const std::string path = q == "f16" ? f16 : dir + "/model-" + q + ".gguf";
      const auto cpu = logits(path, LoadOptions{"cpu"}, ids);
      const auto gpu = logits(path, LoadOptions{"vulkan", dev}, ids);
      const Agreement a = compare(cpu, gpu, ref["n_vocab"], kNearTie);
      INFO(model << " " << q << ": argmax " << a.agree << "/" << a.n << " (" << a.near_ties << " near-ties), max diff "
                 << a.max_diff << " (largest logit " << a.max_logit << "), rms " << a.rms);
      check_close(a, q == "f32" || q == "f16");
      if (q != "f16") {  // and against llama.cpp's own logits
        const auto lcpp = test::read_floats(dir + "/reference/model-" + q + ".logits.f32");
        const Agreement b = compare(lcpp, gpu, ref["n_vocab"], kNearTie);
        INFO("vs llama.cpp: argmax " << b.agree << "/" << b.n << " (" << b.near_ties << " near-ties), max diff "
                                     << b.max_diff << ", rms " << b.rms);
        check_close(b, q == "f32");
      }
      if (q == "q4_k_m") {  // the f16 KV cache too
        const auto cpu16 = logits(path, LoadOptions{"cpu"}, ids, KVType::F16);
        const auto gpu16 = logits(path, LoadOptions{"vulkan", dev}, ids, KVType::F16);
        check_close(compare(cpu16, gpu16, ref["n_vocab"], kNearTie), false);
      }
    }
    std::remove(f16.c_str());
  }
}

TEST_CASE("vulkan: stories260K greedy text equals the cpu's, one token at a time", "[vulkan]") {
  const int dev = device();
  std::string text[2];
  for (int k = 0; k < 2; ++k) {
    auto m = load_model(test::stories_gguf(), k ? LoadOptions{"vulkan", dev} : LoadOptions{"cpu"});
    REQUIRE(m.ok());
    SessionOptions so;
    so.n_ctx = 256;
    auto s = new_session(**m, so);
    REQUIRE(s.ok());
    SamplerParams greedy;
    greedy.temperature = 0;
    generate(**s, "Once upon a time", greedy, 120, [&](const std::string& piece) { text[k] += piece; return true; });
  }
  CHECK(text[0].size() > 200);
  CHECK(text[1] == text[0]);
}

TEST_CASE("vulkan: --gpu-layers splits layers between the GPU and the cpu", "[vulkan]") {
  const int dev = device();
  const std::string dir = test::fixtures() + "/models/tiny-qwen2";  // tied head: the embedding goes to both sides
  const std::string path = dir + "/model-q8_0.gguf";
  const auto ref = nlohmann::json::parse(test::read_file(dir + "/reference/model-q8_0.json"));
  const auto ids = ref["input_ids"].get<std::vector<int32_t>>();
  const auto cpu = logits(path, LoadOptions{"cpu"}, ids);
  auto m = load_model(path, LoadOptions{"vulkan", dev, 1});
  REQUIRE(m.ok());
  CHECK((*m)->n_backends() == 2);
  CHECK((*m)->layers_on(1) == 1);
  CHECK_THAT((*m)->backend_summary(), Catch::Contains("vulkan") && Catch::Contains("1/"));
  const auto split = logits(path, LoadOptions{"vulkan", dev, 1}, ids);
  check_close(compare(cpu, split, ref["n_vocab"], kNearTie), false);
  auto none = load_model(path, LoadOptions{"vulkan", dev, 0});
  REQUIRE(none.ok());
  CHECK((*none)->n_backends() == 1);
  CHECK((*none)->backend().name() == auto_cpu_backend_name());
}

TEST_CASE("vulkan: without --gpu-layers, as many layers as the device memory holds", "[vulkan]") {
  const int dev = device();
  const std::string path = test::fixtures() + "/models/tiny-llama/model-q8_0.gguf";
  ::setenv("EDGERUN_VULKAN_MEMORY_BUDGET", "1048576", 1);  // 1 MiB: not even the reserve fits
  auto none = load_model(path, LoadOptions{"vulkan", dev});
  ::setenv("EDGERUN_VULKAN_MEMORY_BUDGET", "1099511627776", 1);
  auto all = load_model(path, LoadOptions{"vulkan", dev});
  ::unsetenv("EDGERUN_VULKAN_MEMORY_BUDGET");
  REQUIRE(none.ok());
  REQUIRE(all.ok());
  CHECK((*none)->n_backends() == 1);
  CHECK((*none)->backend().name() == auto_cpu_backend_name());
  CHECK((*all)->n_backends() == 1);
  CHECK((*all)->backend().name() == "vulkan");
  auto r = test::run_cli("run -m '" + path + "' -p hi -n 2 --backend vulkan --device " + std::to_string(dev) + " -v",
                         "EDGERUN_VULKAN_MEMORY_BUDGET=1048576");
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("0 of ") && Catch::Contains("layers fit on"));
}

TEST_CASE("vulkan: no device or no driver: auto quietly uses the cpu, --backend vulkan is an error", "[vulkan]") {
  const std::string no_driver = "VK_ICD_FILENAMES=/nonexistent.json VK_DRIVER_FILES=/nonexistent.json EDGERUN_VULKAN_DEVICE=";
  auto r = test::run_cli("run -m '" + test::stories_gguf() + "' -p hi -n 2 --backend vulkan", no_driver);
  CHECK(r.code == 1);
  CHECK_THAT(r.out, Catch::Contains("vulkan") && Catch::Contains("no Vulkan device"));
  r = test::run_cli("run -m '" + test::stories_gguf() + "' -p hi -n 2 -v", no_driver);
  CHECK(r.code == 0);
  CHECK_THAT(r.out, !Catch::Contains("not using vulkan") && Catch::Contains("backend " + auto_cpu_backend_name()));
  r = test::run_cli("run -m '" + test::stories_gguf() + "' -p hi -n 2 --backend vulkan --device 99");
  CHECK(r.code == 1);
  CHECK_THAT(r.out, Catch::Contains("--device") && Catch::Contains("no Vulkan device 99"));
  r = test::run_cli("info --backends");
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("device 0:") && Catch::Contains("subgroup"));
}

TEST_CASE("vulkan: CPU-type devices are taken only when named", "[vulkan]") {
  // Under auto with lavapipe named, the device is tried and refused with a
  // reason when it is slower than the cpu, or used; either way the run works.
  auto r = test::run_cli("run -m '" + test::stories_gguf() + "' -p hi -n 2 -v", "EDGERUN_VULKAN_DEVICE=" + std::to_string(device()));
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("backend vulkan") || Catch::Contains("slower than the cpu"));
}

TEST_CASE("vulkan: blocks are repacked to whole words with the scale in its own word", "[vulkan]") {
  // Two Q8_0 blocks: [d][32 x int8] -> [d, 0, 0][32 x int8]
  std::vector<uint8_t> q8(68);
  for (size_t i = 0; i < q8.size(); ++i) q8[i] = static_cast<uint8_t>(i + 1);
  std::vector<uint8_t> out(72, 0xAA);
  CHECK(vk::storage_row_bytes(DType::Q8_0, 64) == 72);
  vk::repack_rows(DType::Q8_0, q8.data(), 1, 64, out.data());
  CHECK(out[0] == 1);
  CHECK(out[1] == 2);
  CHECK(out[2] == 0);
  CHECK(out[3] == 0);
  CHECK(std::memcmp(out.data() + 4, q8.data() + 2, 32) == 0);
  CHECK(out[36] == 35);
  CHECK(std::memcmp(out.data() + 40, q8.data() + 36, 32) == 0);
  // Q6_K keeps its 210 bytes and gains 2 zero bytes; Q4_K is unchanged.
  std::vector<uint8_t> q6(210, 7), o6(212, 0xAA);
  vk::repack_rows(DType::Q6_K, q6.data(), 1, 256, o6.data());
  CHECK(std::memcmp(o6.data(), q6.data(), 210) == 0);
  CHECK(o6[210] == 0);
  CHECK(o6[211] == 0);
  CHECK(vk::storage_row_bytes(DType::Q4_K, 512) == 288);
  CHECK(vk::storage_type(DType::Q5_K) == DType::F16);
  CHECK(vk::storage_type(DType::BF16) == DType::F32);
  REQUIRE_THROWS_WITH(vk::storage_row_bytes(DType::Q4_0, 48), Catch::Contains("48"));
}
