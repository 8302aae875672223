// Mixture-of-experts layers (qwen3moe): the fixture against llama.cpp's
// logits, MoE models built from a dense one (whose answer is known), the
// router on its own, and files that lie about their experts.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>

#include "agreement.h"
#include "converter.h"
#include "edgerun.hpp"
#include "formats/gguf.h"
#include "gguf_writer.h"
#include "helpers.h"
#include "reference.h"
#include "model/moe_router.h"
#include "model/source.h"
#include "quant.h"
#include "registry.h"

using namespace edgerun;
using json = nlohmann::json;

namespace {

const std::string kDir = test::fixtures() + "/models/tiny-qwen3moe";

using test::Reference;

Reference reference(const std::string& stem) { return test::load_reference(kDir, stem); }

std::unique_ptr<Model> load(const std::string& path) { return test::load_on_cpu(path); }

std::string load_error(const std::string& path) {
  auto m = load_model(path, LoadOptions{"cpu"});
  REQUIRE_FALSE(m.ok());
  return m.message();
}

std::vector<float> prompt_logits(const Model& m, const std::vector<int32_t>& ids, int threads = 2) {
  SessionOptions so;
  so.kv_type = KVType::F32;  // the references were computed with f32 caches
  so.n_ctx = 64;
  so.n_threads = threads;
  Session s(m, so);
  return s.eval(ids, true);
}

std::vector<int32_t> greedy(const Model& m, const std::vector<int32_t>& prompt, int n) {
  SessionOptions so;
  so.kv_type = KVType::F32;
  so.n_ctx = 64;
  so.n_threads = 1;
  Session s(m, so);
  std::vector<float> logits = s.eval(prompt);
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(argmax(logits.data(), m.hparams().n_vocab));
    if (i + 1 < n) logits = s.eval({out.back()});
  }
  return out;
}

std::string write_temp(const std::string& name, const std::string& bytes) {
  const std::string p = test::temp_path(name);
  test::write_file(p, bytes);
  return p;
}

// tiny-qwen3 (dense) recast as qwen3moe: every layer's MLP becomes n_expert
// copies of it, behind a router of random weights choosing k.
test::GGUFEdit moe_from_dense(int n_expert, int k, int dense_layers = 0) {
  auto e = test::GGUFEdit::from(GGUFFile::open(test::fixtures() + "/models/tiny-qwen3/model-f32.gguf"));
  for (auto& kv : e.kv)
    if (kv.key.rfind("qwen3.", 0) == 0) kv.key = "qwen3moe." + kv.key.substr(6);
  e.set_string("general.architecture", "qwen3moe");
  e.set_uint32("qwen3moe.expert_count", static_cast<uint32_t>(n_expert));
  e.set_uint32("qwen3moe.expert_used_count", static_cast<uint32_t>(k));
  e.set_uint32("qwen3moe.expert_feed_forward_length", 512);
  if (dense_layers > 0) e.set_uint32("qwen3moe.leading_dense_block_count", static_cast<uint32_t>(dense_layers));
  for (int l = dense_layers; l < 2; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    for (const char* kind : {"ffn_gate", "ffn_up", "ffn_down"}) {
      test::GGUFEdit::Tensor* t = e.tensor(b + kind + ".weight");
      REQUIRE(t);
      t->name = b + kind + "_exps.weight";
      t->shape.push_back(n_expert);
      std::string stacked;
      for (int x = 0; x < n_expert; ++x) stacked += t->data;
      t->data = std::move(stacked);
    }
    const std::vector<float> router = test::random_normal(static_cast<size_t>(256) * n_expert, 7 + l, 0.3f);
    e.tensors.push_back({b + "ffn_gate_inp.weight", DType::F32, {256, n_expert},
                         std::string(reinterpret_cast<const char*>(router.data()), router.size() * sizeof(float))});
  }
  return e;
}

}  // namespace

TEST_CASE("the MoE fixture in f32 matches llama.cpp at every position, as GGUF and as a Hugging Face folder", "[moe]") {
  const Reference ref = reference("model-f32");
  for (const std::string& path : {kDir + "/model-f32.gguf", kDir + "/hf"}) {
    auto m = load(path);
    const auto a = test::compare(ref.logits, prompt_logits(*m, ref.input_ids), ref.n_vocab);
    INFO(path << ": argmax " << a.agree << "/" << a.n << ", max |diff| " << a.max_diff << " of max |logit| " << a.max_logit);
    CHECK(a.agree == a.n);
    CHECK(a.max_diff <= 1e-3 * a.max_logit);
    CHECK(greedy(*m, ref.input_ids, 32) == ref.greedy_ids);
  }
}

TEST_CASE("quantized MoE GGUFs agree with llama.cpp's logits", "[moe]") {
  // As for the dense fixtures (test_quant.cpp): near-ties may flip.
  int total = 0, agree = 0;
  for (const std::string q : {"q8_0", "q4_0", "q4_k_m"}) {
    const Reference ref = reference("model-" + q);
    auto m = load(kDir + "/model-" + q + ".gguf");
    const auto a = test::compare(ref.logits, prompt_logits(*m, ref.input_ids), ref.n_vocab);
    INFO(q << ": argmax " << a.agree << "/" << a.n << ", rms " << a.rms << ", disagreeing margins" << a.margins);
    CHECK(a.agree >= 0.9 * a.n);
    total += a.n;
    agree += a.agree;
  }
  CHECK(agree >= 0.95 * total);
}

TEST_CASE("MoE layers give the same bits batched, token by token and on any thread count", "[moe]") {
  for (const std::string q : {"q4_0", "q4_k_m"}) {
    auto m = load(kDir + "/model-" + q + ".gguf");
    const std::vector<int32_t> ids = {5, 77, 300, 12, 999, 1, 640, 2, 17, 450, 3};
    const std::vector<float> batched = prompt_logits(*m, ids, 2);
    CHECK(prompt_logits(*m, ids, 1) == batched);
    SessionOptions so;
    so.n_ctx = 16;
    so.kv_type = KVType::F32;
    Session s(*m, so);
    const size_t V = m->hparams().n_vocab;
    for (size_t t = 0; t < ids.size(); ++t) {
      const std::vector<float> one = s.eval({ids[t]});
      INFO(q << " token " << t);
      CHECK(std::equal(one.begin(), one.end(), batched.begin() + t * V));
    }
  }
}

TEST_CASE("a MoE layer of one expert computes its dense MLP to the bit", "[moe]") {
  auto dense = load(test::fixtures() + "/models/tiny-qwen3/model-f32.gguf");
  const std::string p = write_temp("moe1.gguf", moe_from_dense(1, 1).bytes());
  auto moe = load(p);
  CHECK(moe->hparams().n_expert == 1);
  const std::vector<int32_t> ids = {5, 77, 300, 12, 999, 1, 640};
  CHECK(prompt_logits(*moe, ids) == prompt_logits(*dense, ids));
  std::remove(p.c_str());
}

TEST_CASE("identical experts: any expert count and top-k give the dense model's logits", "[moe]") {
  // The chosen weights sum to 1 (renormalised, or all experts chosen), so
  // the sum of identical experts is the dense MLP up to float rounding.
  auto dense = load(test::fixtures() + "/models/tiny-qwen3/model-f32.gguf");
  const std::vector<int32_t> ids = {5, 77, 300, 12, 999, 1, 640};
  const std::vector<float> want = prompt_logits(*dense, ids);
  struct Case {
    int n_expert, k;
    bool renormalise;
  };
  for (const Case c : {Case{4, 2, true}, Case{3, 3, false}, Case{16, 5, true}, Case{5, 1, true}}) {
    auto e = moe_from_dense(c.n_expert, c.k);
    if (!c.renormalise) {
      auto& kv = e.entry("qwen3moe.expert_weights_norm");
      kv.value.type = GGUFType::BOOL;
      kv.value.u = 0;
    }
    const std::string p = write_temp("moe-n.gguf", e.bytes());
    auto moe = load(p);
    const auto a = test::compare(want, prompt_logits(*moe, ids), dense->hparams().n_vocab);
    INFO(c.n_expert << " experts, top " << c.k << ": max |diff| " << a.max_diff << " of " << a.max_logit);
    CHECK(a.agree == a.n);
    CHECK(a.max_diff <= 1e-4 * a.max_logit);
    std::remove(p.c_str());
  }
}

TEST_CASE("leading dense layers: a MoE model whose first layers are dense", "[moe]") {
  auto dense = load(test::fixtures() + "/models/tiny-qwen3/model-f32.gguf");
  const std::string p = write_temp("moe-lead.gguf", moe_from_dense(4, 2, 1).bytes());
  auto moe = load(p);
  REQUIRE(moe->hparams().layers.size() == 2);
  CHECK(moe->hparams().layers[0].mlp == MlpKind::Dense);
  CHECK(moe->hparams().layers[1].mlp == MlpKind::Moe);
  const std::vector<int32_t> ids = {5, 77, 300, 12, 999, 1, 640};
  const auto a = test::compare(prompt_logits(*dense, ids), prompt_logits(*moe, ids), dense->hparams().n_vocab);
  CHECK(a.agree == a.n);
  CHECK(a.max_diff <= 1e-4 * a.max_logit);
  // Layer 0 reads its whole MLP; layer 1 two of its four experts.
  CHECK(moe->n_params() - moe->n_active_params() == 2ull * 3 * 512 * 256);
  std::remove(p.c_str());
}

TEST_CASE("a Hugging Face MoE folder converts to .erm: kept exactly, and quantized as llama.cpp does", "[moe]") {
  const Reference ref = reference("model-f32");
  auto hf = load(kDir + "/hf");
  const std::vector<float> from_hf = prompt_logits(*hf, ref.input_ids);
  const std::string keep = test::temp_path("moe-keep.erm"), q8 = test::temp_path("moe-q8.erm"), q4km = test::temp_path("moe-q4km.erm");
  ConvertOptions o;
  o.quant = "keep";
  convert_model(kDir + "/hf", keep, o);
  CHECK(prompt_logits(*load(keep), ref.input_ids) == from_hf);
  // q8_0 is quantized to llama.cpp's bits, and the router is kept f32 as its
  // quantizer does: the same logits as its q8_0 file gives us.
  o.quant = "q8_0";
  convert_model(kDir + "/hf", q8, o);
  auto gguf_q8 = load(kDir + "/model-q8_0.gguf");
  CHECK(prompt_logits(*load(q8), ref.input_ids) == prompt_logits(*gguf_q8, ref.input_ids));
  // q4_k_m: every tensor gets the type llama.cpp's quantizer gave it.
  o.quant = "q4_k_m";
  convert_model(kDir + "/hf", q4km, o);
  auto ours = load(q4km);
  auto theirs = GGUFFile::open(kDir + "/model-q4_k_m.gguf");
  for (const auto& t : theirs->tensors()) {
    const TensorInfo* mine = ours->source().find_tensor(t.name);
    REQUIRE(mine);
    INFO(t.name);
    CHECK(dtype_name(mine->type) == std::string(dtype_name(t.type)));
    CHECK(mine->shape == t.shape);
  }
  for (const auto& f : {keep, q8, q4km}) std::remove(f.c_str());
}

TEST_CASE("info reports experts and active parameters", "[moe]") {
  auto m = load(kDir + "/model-q4_0.gguf");
  const HParams& hp = m->hparams();
  CHECK(hp.n_expert == 8);
  CHECK(hp.n_expert_used == 2);
  CHECK(hp.n_ff_exp == 128);
  // Each layer reads 2 of its 8 experts: 6 x 3 matrices of 128 x 256 are not read.
  CHECK(m->n_params() - m->n_active_params() == 2ull * 6 * 3 * 128 * 256);
  const auto r = test::run_cli("info " + kDir + "/model-q4_0.gguf");
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("experts:       8, 2 used per token, width 128 (2 of 2 layers)") &&
                        Catch::Contains("M active per token"));
}

TEST_CASE("the router: softmax, top-k with ties to the lower id, renormalised weights", "[moe]") {
  const std::vector<float> logits = {0.5f, 2.0f, 2.0f, -1.0f, 0.5f, 3.0f,   // token 0
                                     1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f};  // token 1: all tied
  const MoeChoice c = route_top_k(logits.data(), 2, 6, 3, true);
  CHECK(c.expert == std::vector<int32_t>{5, 1, 2, 0, 1, 2});
  for (int t = 0; t < 2; ++t) {
    float sum = 0;
    for (int r = 0; r < 3; ++r) sum += c.weight[t * 3 + r];
    CHECK(sum == Approx(1.0f).epsilon(1e-6));
  }
  CHECK(c.weight[1] == c.weight[2]);
  CHECK(c.weight[0] > c.weight[1]);
  CHECK(c.weight[3] == Approx(1.0f / 3));
  // Without renormalising, the weights are the softmax probabilities.
  const MoeChoice raw = route_top_k(logits.data(), 1, 6, 2, false);
  double z = 0;
  for (int e = 0; e < 6; ++e) z += std::exp(logits[e] - 3.0);
  CHECK(raw.weight[0] == Approx(1.0 / z).epsilon(1e-5));
  CHECK(raw.weight[1] == Approx(std::exp(-1.0) / z).epsilon(1e-5));
}

TEST_CASE("MoE files that lie about their experts are refused, naming the key or tensor", "[moe]") {
  auto base = [] { return test::GGUFEdit::from(GGUFFile::open(kDir + "/model-q4_0.gguf")); };
  struct Case {
    const char* what;
    std::function<void(test::GGUFEdit&)> edit;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"more used than there are", [](auto& e) { e.set_uint32("qwen3moe.expert_used_count", 9); }, "'qwen3moe.expert_used_count' (9)"},
      {"no experts", [](auto& e) { e.set_uint32("qwen3moe.expert_count", 0); }, "'qwen3moe.expert_count' must be 1.."},
      {"none used", [](auto& e) { e.set_uint32("qwen3moe.expert_used_count", 0); }, "'qwen3moe.expert_used_count' (0)"},
      {"sigmoid gating", [](auto& e) { e.set_uint32("qwen3moe.expert_gating_func", 2); }, "'qwen3moe.expert_gating_func' is 2 (sigmoid)"},
      {"shared experts", [](auto& e) { e.set_uint32("qwen3moe.expert_shared_count", 1); }, "shared experts are not supported"},
      {"scaled weights", [](auto& e) { e.set_f32("qwen3moe.expert_weights_scale", 2.5f); }, "'qwen3moe.expert_weights_scale' is 2.5"},
      {"fewer experts in the tensor", [](auto& e) { e.tensor("blk.1.ffn_up_exps.weight")->shape[2] = 7; },
       "tensor 'blk.1.ffn_up_exps.weight' has shape [256, 128, 7]"},
      {"a 2-D expert tensor", [](auto& e) { e.tensor("blk.0.ffn_down_exps.weight")->shape = {128, 2048}; },
       "tensor 'blk.0.ffn_down_exps.weight' has shape [128, 2048]"},
      {"no router", [](auto& e) { e.drop_tensor("blk.0.ffn_gate_inp.weight"); }, "missing tensor 'blk.0.ffn_gate_inp.weight'"},
      {"too many dense layers", [](auto& e) { e.set_uint32("qwen3moe.leading_dense_block_count", 3); },
       "'qwen3moe.leading_dense_block_count' (3) is more than the 2 layers"},
  };
  for (const Case& c : cases) {
    auto e = base();
    c.edit(e);
    const std::string p = write_temp("moe-bad.gguf", e.bytes());
    INFO(c.what);
    CHECK_THAT(load_error(p), Catch::Contains(p) && Catch::Contains(c.message));
    std::remove(p.c_str());
  }
}

TEST_CASE("a MoE model larger than the memory given keeps its experts mapped, with the same logits", "[moe]") {
  const Reference ref = reference("model-q4_k_m");
  auto normal = load(kDir + "/model-q4_k_m.gguf");
  CHECK_FALSE(normal->experts_mapped());
  LoadOptions small{"cpu"};
  small.memory_available = 1 << 20;  // less than the file's 1.7 MiB
  auto m = load_model(kDir + "/model-q4_k_m.gguf", small);
  REQUIRE(m.ok());
  CHECK((*m)->experts_mapped());
  // Row kernels on the mapping or group kernels on a copy: the same bits.
  CHECK(prompt_logits(**m, ref.input_ids) == prompt_logits(*normal, ref.input_ids));
}

TEST_CASE("the cpu's MoE MLP gives the bits of the one built from the other ops", "[moe]") {
  // The version every backend has (backends/moe_mlp.cpp) is the reference
  // for a backend's own; the cpu's is called here beside it on the same inputs.
  auto backend = create_backend("cpu");
  const int dim = 64, ff = 96, n_expert = 6, n = 9, k = 3;
  std::vector<std::unique_ptr<Weight>> w;
  std::vector<std::string> data;
  auto matrix = [&](int64_t rows, int64_t cols, DType t, uint32_t seed) {
    const std::vector<float> v = test::random_normal(static_cast<size_t>(rows * cols), seed, 0.1f);
    data.emplace_back(dtype_row_bytes(t, rows * cols), '\0');
    quant_ops(t).quantize(v.data(), data.back().data(), rows * cols);
    w.push_back(backend->upload(TensorDesc{"w" + std::to_string(seed), t, rows, cols, data.back().data(), 0}));
    return w.back().get();
  };
  data.reserve(3 * n_expert);
  std::vector<ExpertMlp> experts;
  for (int e = 0; e < n_expert; ++e) {
    const DType t = e % 2 ? DType::Q4_0 : DType::Q8_0;
    experts.push_back({matrix(ff, dim, t, 10 + e), matrix(ff, dim, t, 20 + e), matrix(dim, ff, t, 30 + e)});
  }
  auto ex = backend->make_executor(ExecutorOptions{2, 2});
  const std::vector<float> hv = test::random_normal(static_cast<size_t>(n) * dim, 3);
  auto h = ex->alloc(n * dim), a = ex->alloc(n * dim), b = ex->alloc(n * dim);
  ex->write(*h, hv.data(), n * dim);
  const std::vector<float> logits = test::random_normal(static_cast<size_t>(n) * n_expert, 4);
  const MoeChoice c = route_top_k(logits.data(), n, n_expert, k, true);
  const MoeRoute route{n, k, c.expert.data(), c.weight.data()};
  ex->moe_mlp(*h, dim, experts.data(), route, *a);
  ex->Executor::moe_mlp(*h, dim, experts.data(), route, *b);
  std::vector<float> va(n * dim), vb(n * dim);
  ex->read(*a, va.data(), n * dim);
  ex->read(*b, vb.data(), n * dim);
  CHECK(va == vb);
  float mag = 0;
  for (float x : va) mag = std::max(mag, std::fabs(x));
  CHECK(mag > 0);
}
