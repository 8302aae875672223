// The Vulkan backend against the cpu backend, on the device the suite finds:
// EDGERUN_VULKAN_DEVICE, else a GPU, else the first device (Mesa's lavapipe
// in CI, a real Vulkan device on the CPU). Tolerances (docs/BACKENDS.md,
// docs/NUMERICS.md): quantized models give the cpu's logits to the bit (every
// op sums in one order, on both); f32 and f16 models, whose float products
// the GPU sums in its own order, within 1e-4 of the largest logit; the same
// argmax as the cpu at every position, without exception.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "agreement.h"
#include "converter.h"
#include "cpu/cpu_backend.h"
#include "edgerun.hpp"
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

// Quantized: the same bits. Float weights: within `rel` of the largest logit
// (1e-4; 5e-4 with an f16 KV cache, whose rounding to 11 bits turns their
// last-bit differences into f16 steps). Either way the argmax at every position.
void check_same(const Agreement& a, bool float_weights, double rel = 1e-4) {
  INFO("argmax differs where the cpu's top two are apart by:" << a.margins);
  CHECK(a.agree == a.n);
  if (float_weights)
    CHECK(a.max_diff <= rel * a.max_logit);
  else
    CHECK(a.max_diff == 0);
}

// Against llama.cpp's logits (other arithmetic: its own tolerance, as for the cpu).
void check_near_llama_cpp(const Agreement& a, bool float_weights) {
  if (float_weights) {
    CHECK(a.max_diff <= 1e-3 * a.max_logit);
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

TEST_CASE("vulkan: every fixture model (MoE too) and type: the cpu's argmax everywhere, quantized logits to the bit", "[vulkan]") {
  const int dev = device();
  for (const std::string model : {"tiny-llama", "tiny-qwen2", "tiny-qwen3", "tiny-qwen3moe"}) {
    const std::string dir = test::fixtures() + "/models/" + model;
    const std::string f16 = f16_model(model);
    std::vector<std::string> types = {"f32", "f16", "q8_0", "q4_0", "q4_k_m"};
    if (model != "tiny-qwen3moe")  // every type the fixtures hold (the MoE model has the first ones only)
      for (const char* q : {"q5_0", "iq4_nl", "iq4_xs", "q2_k", "q3_k_m", "q5_k_m", "q6_k", "q4_1", "q5_1"}) types.push_back(q);
    for (const std::string& q : types) {
      const auto ref = nlohmann::json::parse(test::read_file(dir + "/reference/model-" + (q == "f16" ? "f32" : q) + ".json"));
      const auto ids = ref["input_ids"].get<std::vector<int32_t>>();
      const std::string path = q == "f16" ? f16 : dir + "/model-" + q + ".gguf";
      const auto cpu = logits(path, LoadOptions{"cpu"}, ids);
      const auto gpu = logits(path, LoadOptions{"vulkan", dev}, ids);
      const bool float_weights = q == "f32" || q == "f16";
      const Agreement a = compare(cpu, gpu, ref["n_vocab"]);
      INFO(model << " " << q << ": argmax " << a.agree << "/" << a.n << ", max diff " << a.max_diff
                 << " (largest logit " << a.max_logit << "), rms " << a.rms);
      check_same(a, float_weights);
      if (q != "f16") {  // and against llama.cpp's own logits
        const auto lcpp = test::read_floats(dir + "/reference/model-" + q + ".logits.f32");
        const Agreement b = compare(lcpp, gpu, ref["n_vocab"]);
        INFO("vs llama.cpp: argmax " << b.agree << "/" << b.n << ", max diff " << b.max_diff << ", rms " << b.rms);
        check_near_llama_cpp(b, float_weights);
      }
      {  // the f16 KV cache too
        const auto cpu16 = logits(path, LoadOptions{"cpu"}, ids, KVType::F16);
        const auto gpu16 = logits(path, LoadOptions{"vulkan", dev}, ids, KVType::F16);
        const Agreement c = compare(cpu16, gpu16, ref["n_vocab"]);
        INFO("f16 KV cache: argmax " << c.agree << "/" << c.n << ", max diff " << c.max_diff << ", rms " << c.rms);
        check_same(c, float_weights, 5e-4);
      }
    }
    std::remove(f16.c_str());
  }
}

TEST_CASE("vulkan: the self-test finds every op giving the cpu's results to the bit", "[vulkan]") {
  VulkanOptions o;
  o.device = device();
  auto be = make_vulkan_backend(o);
  CHECK(vulkan_exactness_note(*be) == "");
}

// The shaders' division, square root and exp (exact_math.glsl: integer
// division and root, a fixed polynomial) against the cpu's IEEE / and sqrt
// and exact_math.h, through SwiGLU (exp and a division per value) and
// RMSNorm (a division, a root and another division per row) over values
// spanning every magnitude they meet.
TEST_CASE("vulkan: SwiGLU and RMSNorm give the cpu's bits over a million values", "[vulkan]") {
  VulkanOptions o;
  o.device = device();
  auto gpu_be = make_vulkan_backend(o);
  auto cpu_be = make_cpu_backend();
  auto gpu = gpu_be->make_executor({});
  auto cpu = cpu_be->make_executor({});
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_real_distribution<float> ud(-30.0f, 30.0f);
  auto both = [&](const std::vector<float>& v) {
    std::pair<std::unique_ptr<Buffer>, std::unique_ptr<Buffer>> b{gpu->alloc(v.size()), cpu->alloc(v.size())};
    gpu->write(*b.first, v.data(), v.size());
    cpu->write(*b.second, v.data(), v.size());
    return b;
  };
  auto same = [&](const std::pair<std::unique_ptr<Buffer>, std::unique_ptr<Buffer>>& b, size_t n) {
    std::vector<float> g(n), c(n);
    gpu->read(*b.first, g.data(), n);
    cpu->read(*b.second, c.data(), n);
    size_t differ = 0;
    for (size_t i = 0; i < n; ++i) differ += std::memcmp(&g[i], &c[i], 4) != 0;
    return differ;
  };
  const size_t n = size_t{1} << 20;
  std::vector<float> gate(n), up(n);
  for (size_t i = 0; i < n; ++i) {
    gate[i] = i % 4 == 0 ? ud(rng) * 4 : nd(rng) * (i % 4 == 1 ? 1.0f : 8.0f);  // -120 .. 120
    up[i] = nd(rng);
  }
  for (float edge : {-88.5f, -88.0f, -87.0f, -86.9f, 0.0f, -0.0f, 1e-30f, 87.0f, 88.0f, 89.0f}) gate.push_back(edge), up.push_back(1.0f);
  auto g = both(gate), u = both(up), out = both(std::vector<float>(gate.size()));
  gpu->swiglu(*g.first, *u.first, gate.size(), *out.first);
  cpu->swiglu(*g.second, *u.second, gate.size(), *out.second);
  CHECK(same(out, gate.size()) == 0);

  const int dim = 64, rows = 8192;  // rows scaled by 10^-15 .. 10^15
  std::vector<float> x(static_cast<size_t>(dim) * rows), gain(dim);
  for (int r = 0; r < rows; ++r) {
    const float scale = std::pow(10.0f, ud(rng) / 2);
    for (int i = 0; i < dim; ++i) x[static_cast<size_t>(r) * dim + i] = nd(rng) * scale;
  }
  for (auto& v : gain) v = nd(rng);
  auto xs = both(x), ys = both(std::vector<float>(x.size()));
  auto gw = gpu_be->upload({"gain", DType::F32, 1, dim, gain.data()});
  auto gc = cpu_be->upload({"gain", DType::F32, 1, dim, gain.data()});
  gpu->rms_norm(*xs.first, *gw, rows, dim, 1e-6f, *ys.first);
  cpu->rms_norm(*xs.second, *gc, rows, dim, 1e-6f, *ys.second);
  CHECK(same(ys, x.size()) == 0);
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

// Rows that are not whole 256-weight super-blocks (stories260K: width 64,
// feed-forward 172) make a Q4_K_M file mostly q5_0 (with q8_0, and f16 where
// rows do not fit 32-weight blocks): the mix a small model's Q4_K_M download
// has. Its quantized products must be the cpu's to the bit, so the logits
// differ only by the f16 products' float order, and the argmax nowhere.
TEST_CASE("vulkan: a Q4_K_M model of widths that K-quants cannot take (q5_0 fallbacks) gives the cpu's logits",
          "[vulkan]") {
  const int dev = device();
  const std::string path = test::temp_path("stories-mixed.erm");
  ConvertOptions o;
  o.quant = "q4_k_m";
  o.overwrite = true;
  convert_model(test::stories_gguf(), path, o);
  const auto info = test::run_cli("info '" + path + "'");
  INFO(info.out);
  REQUIRE(info.code == 0);
  CHECK(info.out.find("q5_0 x") != std::string::npos);
  CHECK(info.out.find("q4_k") == std::string::npos);
  std::vector<int32_t> ids;
  for (int i = 0; i < 40; ++i) ids.push_back((i * 37 + 1) % 512);
  const auto cpu = logits(path, LoadOptions{"cpu"}, ids);
  const auto gpu = logits(path, LoadOptions{"vulkan", dev}, ids);
  const Agreement a = compare(cpu, gpu, 512);
  INFO("argmax " << a.agree << "/" << a.n << ", max diff " << a.max_diff << " (largest logit " << a.max_logit << ")");
  check_same(a, true);
  std::remove(path.c_str());
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
  check_same(compare(cpu, split, ref["n_vocab"]), false);
  auto none = load_model(path, LoadOptions{"vulkan", dev, 0});
  REQUIRE(none.ok());
  CHECK((*none)->n_backends() == 1);
  CHECK((*none)->backend().name() == auto_cpu_backend_name());
}

TEST_CASE("vulkan: without --gpu-layers, as many layers as the device memory holds", "[vulkan]") {
  const int dev = device();
  const std::string path = test::fixtures() + "/models/tiny-llama/model-q8_0.gguf";
  auto with_budget = [&](uint64_t bytes) {
    test::ScopedSettings budget([&](BackendSettings& b) { b.vulkan_memory_budget = bytes; });
    return load_model(path, LoadOptions{"vulkan", dev});
  };
  auto none = with_budget(1048576);  // 1 MiB: not even the reserve fits
  auto all = with_budget(1099511627776ull);
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

TEST_CASE("vulkan: edgerun bench --backend vulkan runs", "[vulkan]") {
  const auto r = test::run_cli("bench -m '" + test::stories_gguf() + "' --backend vulkan -t 1 -p 8 -n 4 -r 1",
                               "EDGERUN_VULKAN_DEVICE=" + std::to_string(device()));
  INFO(r.out);
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("| vulkan") && Catch::Contains("pp8") && Catch::Contains("tg4"));
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
  // Q4_1 and Q5_1 blocks (20 and 24 bytes) are whole words as they are; bf16 is widened to f32.
  CHECK(vk::storage_type(DType::Q4_1) == DType::Q4_1);
  CHECK(vk::storage_row_bytes(DType::Q5_1, 64) == 48);
  CHECK(vk::storage_type(DType::BF16) == DType::F32);
  // Q5_0 and IQ4_NL get q4_0's padding (the scale in a word of its own), Q3_K q6_K's (2 bytes at the end).
  std::vector<uint8_t> q5(22), o5(24, 0xAA);
  for (size_t i = 0; i < q5.size(); ++i) q5[i] = static_cast<uint8_t>(i + 1);
  vk::repack_rows(DType::Q5_0, q5.data(), 1, 32, o5.data());
  CHECK(std::memcmp(o5.data(), q5.data(), 2) == 0);
  CHECK(o5[2] == 0);
  CHECK(o5[3] == 0);
  CHECK(std::memcmp(o5.data() + 4, q5.data() + 2, 20) == 0);
  CHECK(vk::storage_row_bytes(DType::IQ4_NL, 64) == 40);
  CHECK(vk::storage_row_bytes(DType::Q3_K, 512) == 224);
  CHECK(vk::storage_row_bytes(DType::IQ4_XS, 256) == 136);
  CHECK(vk::storage_type(DType::BF16) == DType::F32);
  REQUIRE_THROWS_WITH(vk::storage_row_bytes(DType::Q4_0, 48), Catch::Contains("48"));
}

TEST_CASE("vulkan: sequences evaluated together get the cpu's logits, also split with the cpu", "[vulkan]") {
  // Each sequence's rows sit at an offset in the batch and read their own
  // cache: the offsets reach every shader that takes a part of the batch.
  const int dev = device();
  const std::string path = test::fixtures() + "/models/tiny-llama/model-q4_0.gguf";
  const std::vector<std::vector<int32_t>> prompts = {{1, 5, 77, 300}, {1, 999, 640}, {1, 2, 17, 450, 3, 8}};
  for (int gpu_layers : {-1, 1}) {
    INFO("gpu layers " << gpu_layers);
    auto m = load_model(path, LoadOptions{"vulkan", dev, gpu_layers});
    REQUIRE(m.ok());
    auto cpu = load_model(path, LoadOptions{"cpu"});
    REQUIRE(cpu.ok());
    SessionOptions so;
    so.n_ctx = 32;
    auto compute = std::make_shared<Compute>(**m, 1, 1);
    std::vector<std::unique_ptr<Session>> ss;
    std::vector<Session::Step> steps;
    for (const auto& p : prompts) {
      ss.push_back(std::make_unique<Session>(compute, so));
      ss.back()->append(p);
      steps.push_back({ss.back().get(), 64});
    }
    auto out = Session::evaluate_together(steps);
    // One more token each, together again (single rows at offsets 0, 1, 2).
    for (size_t i = 0; i < ss.size(); ++i) {
      ss[i]->append({static_cast<int32_t>(40 + i)});
      steps[i].max_tokens = 1;
    }
    auto next = Session::evaluate_together(steps);
    for (size_t i = 0; i < prompts.size(); ++i) {
      Session alone(**cpu, so);
      CHECK(out[i] == alone.eval(prompts[i]));
      CHECK(next[i] == alone.eval({static_cast<int32_t>(40 + i)}));
    }
  }
}

TEST_CASE("vulkan: quantized KV types are refused clearly; a context shift evaluates the kept tokens again", "[vulkan]") {
  const int dev = device();
  const std::string path = test::fixtures() + "/models/tiny-qwen2/model-q8_0.gguf";
  auto m = load_model(path, LoadOptions{"vulkan", dev});
  REQUIRE(m.ok());
  SessionOptions so;
  so.n_ctx = 96;
  so.kv_type_v = KVType::Q4_0;
  CHECK_THROWS_WITH(Session(**m, so), Catch::Contains("q4_0 is not supported by the vulkan backend"));
  const auto r = test::run_cli("run -m '" + path + "' --backend vulkan --device " + std::to_string(dev) + " -p hi -ctv q4_0");
  CHECK(r.code == 1);
  CHECK_THAT(r.out, Catch::Contains("-ctv: KV cache type q4_0 is not supported by the vulkan backend"));

  // The device cannot move its cache: the moved tokens are evaluated afresh at
  // their new positions, so the logits are a fresh session's to the bit.
  so.kv_type_v.reset();
  std::vector<int32_t> ids(90);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>((i * 37 + 11) % 900 + 1);
  Session shifted(**m, so);
  shifted.eval(ids);
  shifted.shift(5, 30);
  CHECK(shifted.n_past() == 5);
  const std::vector<float> after = shifted.eval({77});
  std::vector<int32_t> kept(ids.begin(), ids.begin() + 5);
  kept.insert(kept.end(), ids.begin() + 35, ids.end());
  kept.push_back(77);
  Session fresh(**m, so);
  CHECK(after == fresh.eval(kept));
}
