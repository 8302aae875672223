// Block formats: the scalar references against each other, against
// llama.cpp's quantizer, and quantized models against llama.cpp's logits.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "edgerun.hpp"
#include "formats/gguf.h"
#include "helpers.h"
#include "layouts.h"
#include "quant.h"

using namespace edgerun;

namespace {

double rel_rmse(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += a[i] * a[i];
  }
  return std::sqrt(num / den);
}

}  // namespace

TEST_CASE("quantize then dequantize stays within each format's error", "[quant]") {
  const int64_t n = 4096;
  const auto x = test::random_normal(n, 7);
  struct Case { DType t; double max_rmse; };
  for (const Case c : {Case{DType::Q8_0, 0.01}, {DType::Q4_0, 0.12}, {DType::Q4_1, 0.12}, {DType::Q5_0, 0.06},
                       {DType::Q5_1, 0.06}, {DType::F16, 1e-3}, {DType::BF16, 5e-3}, {DType::Q8_K, 0.01}, {DType::Q8_1, 0.01},
                       {DType::IQ4_NL, 0.11}, {DType::IQ4_XS, 0.11}}) {
    const QuantOps& ops = quant_ops(c.t);
    REQUIRE(ops.quantize);
    std::vector<uint8_t> q(dtype_row_bytes(c.t, n));
    ops.quantize(x.data(), q.data(), n);
    std::vector<float> y(n);
    ops.dequantize(q.data(), y.data(), n);
    INFO(dtype_name(c.t) << " rel rmse " << rel_rmse(x, y));
    CHECK(rel_rmse(x, y) < c.max_rmse);
  }
}

TEST_CASE("every dot product equals the float dot of its dequantized operands", "[quant]") {
  const int64_t n = 1024;
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q2_K, DType::Q3_K, DType::Q4_K,
                  DType::Q5_K, DType::Q6_K, DType::IQ4_NL, DType::IQ4_XS, DType::F16, DType::BF16, DType::F32}) {
    const QuantOps& ops = quant_ops(t);
    REQUIRE(ops.vec_dot);
    // Weights: random bytes are valid blocks for every format once the
    // fp16 scales are made sane.
    std::vector<uint8_t> w(dtype_row_bytes(t, n));
    std::mt19937 rng(static_cast<uint32_t>(t) + 1);
    if (ops.quantize) {
      const auto src = test::random_normal(n, 11);
      ops.quantize(src.data(), w.data(), n);
    } else {
      for (auto& b : w) b = static_cast<uint8_t>(rng());
      // K-quant super-blocks keep d/dmin in their last (q2_K, q3_K, q6_K) or first (q4_K, q5_K) bytes.
      const size_t bb = dtype_traits(t).block_bytes;
      for (size_t off = 0; off < w.size(); off += bb) {
        const uint16_t h = 0x2E66;  // about 0.1
        if (t == DType::Q4_K || t == DType::Q5_K) { std::memcpy(&w[off], &h, 2); std::memcpy(&w[off + 2], &h, 2); }
        else if (t == DType::Q2_K) { std::memcpy(&w[off + bb - 4], &h, 2); std::memcpy(&w[off + bb - 2], &h, 2); }
        else std::memcpy(&w[off + bb - 2], &h, 2);
      }
    }
    std::vector<float> wf(n);
    ops.dequantize(w.data(), wf.data(), n);
    const auto act = test::random_normal(n, 13);
    std::vector<uint8_t> aq(dtype_row_bytes(ops.vec_dot_type, n));
    quant_ops(ops.vec_dot_type).quantize(act.data(), aq.data(), n);
    std::vector<float> af(n);
    quant_ops(ops.vec_dot_type).dequantize(aq.data(), af.data(), n);
    double ref = 0, mag = 0;
    for (int64_t i = 0; i < n; ++i) {
      ref += static_cast<double>(wf[i]) * af[i];
      mag += std::fabs(static_cast<double>(wf[i]) * af[i]);
    }
    const float got = ops.vec_dot(w.data(), aq.data(), n);
    INFO(dtype_name(t) << ": " << got << " vs " << ref);
    CHECK(std::fabs(got - ref) <= 1e-5 * mag + 1e-6);
  }
}

TEST_CASE("our Q8_0, Q4_0, IQ4_NL and IQ4_XS quantization is bit-identical to llama.cpp's", "[quant]") {
  for (const std::string model : {"tiny-llama", "tiny-qwen2", "tiny-qwen3"}) {
    const std::string dir = test::fixtures() + "/models/" + model;
    auto f32 = GGUFFile::open(dir + "/model-f32.gguf");
    for (const std::string q : {"q8_0", "q4_0", "iq4_nl", "iq4_xs"}) {
      DType want;
      REQUIRE(dtype_from_name(q, &want));
      auto theirs = GGUFFile::open(dir + "/model-" + q + ".gguf");
      int compared = 0;
      for (const auto& t : theirs->tensors()) {
        if (t.type != want) continue;
        const TensorInfo* src = f32->find_tensor(t.name);
        REQUIRE(src);
        std::vector<uint8_t> ours(t.nbytes);
        quant_ops(t.type).quantize(reinterpret_cast<const float*>(src->data), ours.data(), src->n_elements());
        INFO(model << " " << q << " " << t.name);
        CHECK(std::memcmp(ours.data(), t.data, t.nbytes) == 0);
        ++compared;
      }
      CHECK(compared >= 14);
    }
  }
}

TEST_CASE("quantized GGUF fixtures agree with llama.cpp's logits", "[quant]") {
  // llama.cpp's own SIMD arithmetic (its exp, its summation order) decides
  // ties in the 8-bit activation rounding, so a few positions whose top two
  // logits lie within ~0.02 can flip. All files together must agree at >= 95%
  // of positions; each file at >= 90%.
  int total = 0, total_agree = 0;
  std::string summary;
  for (const std::string model : {"tiny-llama", "tiny-qwen2", "tiny-qwen3"}) {
    for (const std::string& q : test::fixture_quant_types()) {
      const std::string dir = test::fixtures() + "/models/" + model;
      const auto ref = nlohmann::json::parse(test::read_file(dir + "/reference/model-" + q + ".json"));
      const auto want = test::read_floats(dir + "/reference/model-" + q + ".logits.f32");
      auto m = load_model(dir + "/model-" + q + ".gguf", LoadOptions{"cpu"});
      REQUIRE(m.ok());
      SessionOptions so;
      so.kv_type = KVType::F32;  // compared with references computed with f32 caches
      so.n_ctx = 64;
      Session s(**m, so);
      const auto got = s.eval(ref["input_ids"].get<std::vector<int32_t>>(), true);
      const int V = ref["n_vocab"], n = ref["n_tokens"];
      int agree = 0;
      double kl = 0, sq = 0;
      for (int t = 0; t < n; ++t) {
        const float* a = &got[static_cast<size_t>(t) * V];
        const float* b = &want[static_cast<size_t>(t) * V];
        agree += argmax(a, V) == argmax(b, V);
        // KL(reference || ours) of the softmax distributions.
        double ma = a[argmax(a, V)], mb = b[argmax(b, V)], za = 0, zb = 0;
        for (int i = 0; i < V; ++i) { za += std::exp(a[i] - ma); zb += std::exp(b[i] - mb); }
        for (int i = 0; i < V; ++i) {
          const double pb = std::exp(b[i] - mb) / zb;
          kl += pb * ((b[i] - mb - std::log(zb)) - (a[i] - ma - std::log(za)));
          sq += (a[i] - b[i]) * (a[i] - b[i]);
        }
      }
      INFO(model << " " << q << ": argmax " << agree << "/" << n << ", mean KL " << kl / n << ", rms " << std::sqrt(sq / (n * V)));
      CHECK(agree >= 0.9 * n);
      total += n;
      total_agree += agree;
      summary += "\n  " + model + " " + q + ": argmax " + std::to_string(agree) + "/" + std::to_string(n) + ", mean KL " +
                 std::to_string(kl / n);
      CHECK(kl / n < 1e-3);
      CHECK(std::sqrt(sq / (n * V)) < 0.02);
    }
  }
  INFO(summary);
  CHECK(total_agree >= 0.95 * total);
  WARN("quantized fixtures: argmax agrees at " << total_agree << "/" << total << " positions" << summary);
}

TEST_CASE("16-row group layouts hold exactly the rows' bytes, and only where they fit", "[quant]") {
  std::mt19937 rng(7);
  const int64_t rows = 32, cols = 512;
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q2_K, DType::Q3_K, DType::Q4_K,
                  DType::Q5_K, DType::Q6_K, DType::IQ4_NL, DType::IQ4_XS, DType::F16, DType::BF16}) {
    INFO(dtype_name(t));
    REQUIRE(x16_stored(t, rows, cols));
    // Any bytes: every field of these blocks (6-bit scale packing included)
    // must survive the round trip, whatever it holds.
    std::vector<uint8_t> src(dtype_row_bytes(t, rows * cols)), back(src.size());
    for (auto& b : src) b = static_cast<uint8_t>(rng());
    std::vector<uint8_t> groups(x16_tensor_bytes(t, rows, cols));
    CHECK(groups.size() >= src.size());
    CHECK(groups.size() <= src.size() * 106 / 100);  // at most 6 % larger (q3_K: 5.5 %, q4_K 3 %)
    rows_to_x16(t, src.data(), rows, cols, groups.data());
    CHECK(groups != std::vector<uint8_t>(src.begin(), src.end()) );
    x16_to_rows(t, groups.data(), rows, cols, back.data());
    CHECK(back == src);
  }
  CHECK_FALSE(x16_stored(DType::Q8_K, rows, cols));  // activations only: no group kernel, no layout
  CHECK_FALSE(x16_stored(DType::Q4_0, 24, cols));    // not whole groups of 16 rows
  CHECK_FALSE(x16_stored(DType::Q4_K, rows, 320));   // not whole super-blocks
  CHECK_FALSE(x16_stored(DType::F32, rows, cols));
}
